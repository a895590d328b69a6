"""Admin for providers, their synced services, the change log and the audit trail."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from panelapi.exceptions import PanelError
from shop.models import Provider, ProviderService, ServiceChange, UpstreamCall
from shop.services.catalogue import CatalogueSyncError, catalogue_sync
from shop.services.providers import provider_accepts_orders, provider_balance_refresh
from shop.services.retail import services_import


class ProviderForm(forms.ModelForm):
    """The API key is write-only: never rendered back, blank on edit keeps the stored one."""

    new_api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the current key.",
    )

    class Meta:
        model = Provider
        fields = ["name", "api_url", "currency", "exchange_rate", "balance_threshold", "is_active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.instance.pk and not data.get("new_api_key"):
            self.add_error("new_api_key", "A new provider needs its API key.")
        return data

    def save(self, commit: bool = True) -> Provider:
        provider = super().save(commit=False)
        if self.cleaned_data.get("new_api_key"):
            provider.api_key = self.cleaned_data["new_api_key"]
        if commit:
            provider.save()
        return provider


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ["name", "api_url", "is_active", "currency", "exchange_rate", "balance_display", "services_display", "last_sync_display"]
    list_filter = ["is_active", "currency"]
    search_fields = ["name", "api_url"]
    actions = ["sync_now", "refresh_balance"]
    readonly_fields = [
        "key_state",
        "balance_display",
        "balance_checked_at",
        "balance_last_read",
        "last_synced_at",
        "last_sync_ok",
        "last_sync_message",
    ]
    fieldsets = [
        (None, {"fields": ["name", "api_url", "new_api_key", "key_state", "is_active"]}),
        (
            "Money",
            {"fields": ["currency", "exchange_rate", "balance_threshold", "balance_display", "balance_checked_at", "balance_last_read"]},
        ),
        ("Catalogue sync", {"fields": ["last_synced_at", "last_sync_ok", "last_sync_message"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Provider]:
        return super().get_queryset(request).annotate(service_count=Count("services", filter=Q(services__is_available=True)))

    @admin.display(description="API key")
    def key_state(self, provider: Provider) -> str:
        return "set (hidden)" if provider.has_api_key else "not set"

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, provider: Provider) -> str:
        if provider.balance is None:
            return "not read yet"
        low = "" if provider_accepts_orders(provider=provider) else " LOW: new orders wait"
        return f"{provider.balance} {provider.balance_currency or provider.currency}{low}"

    @admin.display(description="last balance read")
    def balance_last_read(self, provider: Provider) -> str:
        """The outcome of the latest balance call, from the audit trail: a failed read keeps the balance above."""
        call = provider.calls.filter(action="balance").order_by("-created_at", "-id").first()
        if call is None:
            return "none yet"
        if call.outcome == UpstreamCall.Outcome.OK:
            return f"OK {call.created_at:%Y-%m-%d %H:%M}"
        return f"FAILED {call.created_at:%Y-%m-%d %H:%M}: {call.error}"

    @admin.display(description="services", ordering="service_count")
    def services_display(self, provider: Provider) -> int:
        return getattr(provider, "service_count", 0)

    @admin.display(description="last sync", ordering="last_synced_at")
    def last_sync_display(self, provider: Provider) -> str:
        if provider.last_synced_at is None:
            return "never"
        state = "OK" if provider.last_sync_ok else "FAILED"
        return f"{state} {provider.last_synced_at:%Y-%m-%d %H:%M}"

    @admin.action(description="Sync catalogue now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset:
            try:
                result = catalogue_sync(provider=provider)
            except CatalogueSyncError as exc:
                self.message_user(request, f"{provider}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{provider}: {result.summary()}", messages.SUCCESS)

    @admin.action(description="Read balance now")
    def refresh_balance(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset:
            try:
                balance = provider_balance_refresh(provider=provider)
            except PanelError as exc:
                self.message_user(request, f"{provider}: balance not read: {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{provider}: balance {balance.amount} {balance.currency or provider.currency}", messages.SUCCESS
                )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the shop itself: admins read them, never edit them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProviderService)
class ProviderServiceAdmin(ReadOnlyAdmin):
    actions = ["offer_in_shop"]
    list_display = [
        "upstream_id",
        "name",
        "provider",
        "category",
        "type",
        "rate",
        "min_quantity",
        "max_quantity",
        "refill",
        "cancel",
        "dripfeed",
        "is_available",
    ]
    list_filter = ["provider", "is_available", "type", "refill", "cancel", "dripfeed"]
    search_fields = ["name", "upstream_id", "category"]
    list_select_related = ["provider"]
    show_full_result_count = False

    @admin.action(description="Offer in the shop (one retail service each, default markup)")
    def offer_in_shop(self, request: HttpRequest, queryset: QuerySet[ProviderService]) -> None:
        added = services_import(provider_services=queryset)
        self.message_user(request, f"{added} services added to the shop; the others were already offered.", messages.SUCCESS)


@admin.register(ServiceChange)
class ServiceChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "service", "field", "old_value", "new_value"]
    list_filter = ["field", "service__provider"]
    search_fields = ["service__name", "service__upstream_id"]
    list_select_related = ["service__provider"]
    date_hierarchy = "changed_at"


@admin.register(UpstreamCall)
class UpstreamCallAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "provider", "action", "outcome", "http_status", "duration_ms", "error"]
    list_filter = ["outcome", "action", "provider"]
    search_fields = ["error", "excerpt"]
    list_select_related = ["provider"]
    date_hierarchy = "created_at"
    show_full_result_count = False
