"""Admin for wallets and the ledger: read-only here, changed only through the wallet services; staff may lift a balance's hold."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from unfold.admin import TabularInline

from shop.core.admin import ReadOnlyAdmin
from shop.wallet.models import LedgerEntry, Wallet
from shop.wallet.services import wallet_release

LIFT_HOLD_PERMISSION = "shop.change_wallet"


class LedgerEntryInline(TabularInline):
    model = LedgerEntry
    fields = ["created_at", "kind", "amount", "balance_after", "reason", "created_by"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


class OnHoldFilter(admin.SimpleListFilter):
    """Balances on hold: a reversed payment they could not cover; they pay for no new order until staff lift the hold."""

    title = "hold"
    parameter_name = "on_hold"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Balances on hold"), ("no", "Not on hold")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Wallet]) -> QuerySet[Wallet]:
        value = self.value()
        if value is None:
            return queryset
        if value not in ("yes", "no"):
            raise IncorrectLookupParameters("Its choices are yes and no.")  # the message names the filter and its value
        return queryset.exclude(hold_reason="") if value == "yes" else queryset.filter(hold_reason="")


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ["user", "balance", "hold_display", "updated_at"]
    list_filter = [OnHoldFilter]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    inlines = [LedgerEntryInline]
    fields = ["user", "balance", "hold_reason", "updated_at"]
    readonly_fields = fields
    actions = ["lift_hold"]
    change_form_template = "admin/shop/wallet/change_form.html"

    @admin.display(description="on hold", ordering="hold_reason")
    def hold_display(self, wallet: Wallet) -> str:
        return wallet.hold_reason or "-"

    def has_lift_hold_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(LIFT_HOLD_PERMISSION)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_lift_hold"
        return [path("<path:object_id>/lift-hold/", self.admin_site.admin_view(self.lift_hold_view), name=name), *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        extra = {"may_lift_hold": self.has_lift_hold_permission(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def _lift(self, request: HttpRequest, wallet: Wallet) -> bool:
        if not wallet_release(user=wallet.user):
            return False
        # The hold's reason goes with it: the admin's history keeps it, with who lifted it.
        self.log_change(request, wallet, f"Lifted the hold: {wallet.hold_reason}")
        return True

    def lift_hold_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_lift_hold_permission(request):
            raise PermissionDenied
        wallet = self.get_object(request, object_id)
        if wallet is None:
            raise Http404(f"No wallet with id {object_id[:40]!r}.")
        if self._lift(request, wallet):
            self.message_user(request, f"{wallet.user}: the hold is lifted; new orders are accepted again.", messages.SUCCESS)
        else:
            self.message_user(request, f"{wallet.user}: the balance was not on hold.", messages.WARNING)
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[wallet.pk]))

    @admin.action(description="Lift the hold", permissions=["lift_hold"])
    def lift_hold(self, request: HttpRequest, queryset: QuerySet[Wallet]) -> None:
        lifted = sum(self._lift(request, wallet) for wallet in queryset.select_related("user").exclude(hold_reason=""))
        level = messages.SUCCESS if lifted else messages.WARNING
        self.message_user(request, f"{lifted} holds lifted; new orders are accepted again.", level)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "wallet", "kind", "amount", "balance_after", "reason", "created_by"]
    list_filter = ["kind", "created_at"]
    search_fields = ["wallet__user__username", "reason"]
    list_select_related = ["wallet__user", "created_by"]
