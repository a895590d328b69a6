"""Admin for customers: Django's user admin with each user's balance and orders, an overview page, and balance adjustments.

A customer's name in the list (and on orders and top-ups) leads to the overview: balance and hold,
orders, top-ups, API key state and recent activity (``shop.backoffice.customers``). Credits and
debits return there; Django's user form stays one link away for the account itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from unfold import forms as unfold_forms
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.widgets import UnfoldAdminDecimalFieldWidget, UnfoldAdminRadioSelectWidget, UnfoldAdminTextInputWidget

from shop.accounts.forms import StaffUserChangeForm, StaffUserCreationForm
from shop.accounts.selectors import user_list_with_balance
from shop.accounts.usernames import username_skeletons_set
from shop.backoffice.customers import customer_overview
from shop.backoffice.links import customer_link, customer_overview_url
from shop.core import forms as core_forms
from shop.core.admin import ShopAdminMixin
from shop.orders.admin import STATUS_LABELS
from shop.payments.admin import TOPUP_LABELS
from shop.reseller_api.keys import api_key_revoke
from shop.reseller_api.models import Revocation
from shop.wallet.models import MONEY_DIGITS, MONEY_PLACES, Wallet
from shop.wallet.services import ADJUST_CREDIT, ADJUST_DEBIT, WalletError, money, wallet_adjust

User = get_user_model()


class AdjustBalanceForm(forms.Form):
    amount = core_forms.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        help_text="In the shop's currency, above zero.",
        widget=UnfoldAdminDecimalFieldWidget,
    )
    direction = forms.ChoiceField(
        choices=[(ADJUST_CREDIT, "Credit: add to the balance"), (ADJUST_DEBIT, "Debit: take from the balance")],
        widget=UnfoldAdminRadioSelectWidget,
    )
    reason = forms.CharField(max_length=255, help_text="Kept in the ledger with your name.", widget=UnfoldAdminTextInputWidget)

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError("Enter an amount above zero.")
        return amount


class CustomerChangeForm(StaffUserChangeForm, unfold_forms.UserChangeForm):
    """The staff user form (the sign-up's username rules) with unfold's widgets."""


class CustomerCreationForm(StaffUserCreationForm, unfold_forms.UserCreationForm):
    """The staff "add user" form (the sign-up's username rules) with unfold's widgets."""


class PasswordChangeRevokingKeyForm(unfold_forms.AdminPasswordChangeForm):
    """The admin's "set password" (or "disable password"), which also revokes the customer's API key, as a customer's own change does."""

    def save(self, commit: bool = True) -> Any:
        # ``UserAdmin.user_change_password`` is one long method with no hook after its save: the form's save is the place.
        with transaction.atomic():
            user = super().save(commit=commit)
            if commit:
                api_key_revoke(user=user, reason=Revocation.PASSWORD_SET_BY_ADMIN)
        return user


def _hold(user: Any) -> tuple[int, str] | None:
    """The customer's wallet id and why its balance is on hold, or None when it is not."""
    return Wallet.objects.filter(user=user).exclude(hold_reason="").values_list("pk", "hold_reason").first()


admin.site.unregister(User)


@admin.register(User)
class CustomerAdmin(ShopAdminMixin, UserAdmin, UnfoldModelAdmin):
    """``UserAdmin`` as it is, plus balance and order count columns, the customer's overview and a page to credit or debit a balance."""

    list_display = ["customer", "email", "balance_display", "order_count_display", "date_joined", "last_login", "is_staff"]
    # The name leads to the overview; the account's own form is one link away from there.
    list_display_links = None
    actions = ["adjust_balance"]
    change_form_template = "admin/shop/customer/change_form.html"
    change_password_form = PasswordChangeRevokingKeyForm
    # The sign-up's username rules (one script, no lookalike of another user's) apply to staff too.
    form = CustomerChangeForm
    add_form = CustomerCreationForm

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return user_list_with_balance(users=super().get_queryset(request))

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change or "username" in form.changed_data:
            username_skeletons_set(user=obj)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        user = self.get_object(request, object_id)
        extra = {"balance": money(user.balance), "hold": _hold(user)} if user is not None else {}
        extra["may_adjust_balance"] = self.has_adjust_balance_permission(request)
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/balance/", self.admin_site.admin_view(self.balance_view), name=f"{info}_balance"),
            path("<path:object_id>/overview/", self.admin_site.admin_view(self.overview_view), name=f"{info}_overview"),
            *super().get_urls(),
        ]

    @admin.display(description="customer", ordering="username")
    def customer(self, user: Any) -> str:
        return customer_link(user)

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, user: Any) -> str:
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_balance", args=[user.pk])
        return format_html('{} <a href="{}">adjust</a>', money(user.balance), url)

    @admin.display(description="orders", ordering="order_count")
    def order_count_display(self, user: Any) -> str:
        if not user.order_count:
            return "0"
        url = reverse("admin:shop_order_changelist")
        return format_html('<a href="{}?user__id__exact={}">{}</a>', url, user.pk, user.order_count)

    def has_adjust_balance_permission(self, request: HttpRequest) -> bool:
        # Money moves here: the Finance and Admin roles (shop.accounts.roles), superusers.
        return request.user.has_perm("shop.adjust_balance")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A superuser's account (its password, email, activity) is a superuser's to change: else the Admin role
        # could set one's password, log in as it and grant itself everything.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # No role can grant itself (or anyone) more: only superusers edit groups, permissions and the superuser flag.
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return (*fields, "is_superuser", "groups", "user_permissions")

    @admin.action(description="Credit or debit balance", permissions=["adjust_balance"])
    def adjust_balance(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        # One wallet per adjustment: the page names the customer and shows the balance being changed.
        users = list(queryset.values_list("pk", flat=True)[:2])
        if len(users) != 1:
            self.message_user(request, "Select exactly one customer to credit or debit.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_balance", args=[users[0]]))

    def balance_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_adjust_balance_permission(request):
            raise PermissionDenied
        user = self.get_object(request, object_id)
        if user is None:
            raise Http404(f"No user with id {object_id!r}.")
        form = AdjustBalanceForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                entry = wallet_adjust(user=user, admin=request.user, **form.cleaned_data)
            except WalletError as exc:  # InsufficientFunds among them: "Not enough funds: ..."
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request, f"{user}: {entry.amount:+} ({entry.reason}); the balance is now {entry.balance_after}.", messages.SUCCESS
                )
                return HttpResponseRedirect(customer_overview_url(user.pk))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Credit or debit the balance of {user}",
            "opts": self.opts,
            "original": user,
            "balance": money(user.balance),
            "form": form,
            "back_url": customer_overview_url(user.pk),
        }
        return TemplateResponse(request, "admin/shop/customer/balance.html", context)

    def overview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        user = self.get_object(request, object_id)
        if user is None:
            raise Http404(f"No user with id {object_id[:40]!r}.")
        if not self.has_view_or_change_permission(request, user):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"{user.get_username()}: overview",
            "opts": self.opts,
            "original": user,
            "overview": customer_overview(user=user),
            "may_adjust": self.has_adjust_balance_permission(request),
            "may_change": self.has_change_permission(request, user),
            "status_labels": STATUS_LABELS,
            "topup_labels": TOPUP_LABELS,
        }
        return TemplateResponse(request, "admin/shop/customer/overview.html", context)
