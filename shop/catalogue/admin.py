"""Admin for providers, their synced services, the change log and the retail catalogue with its markup (calls: ``admin_calls``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, DecimalField, Q, QuerySet, Value
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.text import Truncator
from unfold.widgets import UnfoldAdminDecimalFieldWidget, UnfoldAdminPasswordWidget

from panelapi.exceptions import PanelError
from shop.catalogue.facts import average_time_words, service_is_package
from shop.catalogue.models import MARKUP_FIELD, Category, Provider, ProviderService, Service, ServiceChange, ShopSettings, UpstreamCall
from shop.catalogue.pricing import service_limits, service_rate
from shop.catalogue.providers import provider_accepts_orders, provider_balance_refresh
from shop.catalogue.retail import MARKUP_FLOOR, services_description_reset, services_import, services_set_markup
from shop.catalogue.sync import CatalogueSyncError, catalogue_sync
from shop.core import forms as core_forms
from shop.core.admin import ReadOnlyAdmin, ShopAdmin
from shop.core.paging import IdsFirstPaginator
from shop.core.widgets import stamp_fields
from shop.storefront.templatetags.shop_format import format_rate


class ProviderForm(forms.ModelForm):
    """The API key is write-only: never rendered back, blank on edit keeps the stored one."""

    new_api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=UnfoldAdminPasswordWidget(attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the current key.",
    )

    class Meta:
        model = Provider
        fields = ["name", "api_url", "currency", "exchange_rate", "balance_threshold", "concurrency", "is_active"]

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
class ProviderAdmin(ShopAdmin):
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
        (None, {"fields": ["name", "api_url", "new_api_key", "key_state", "is_active", "concurrency"]}),
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


@admin.register(ShopSettings)
class ShopSettingsAdmin(ShopAdmin):
    list_display = ["__str__", "default_markup_percent"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not ShopSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(ShopAdmin):
    list_display = ["name", "position", "is_visible", "markup_percent", "service_count"]
    list_editable = ["position", "is_visible", "markup_percent"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(service_count=Count("services"))

    @admin.display(description="services", ordering="service_count")
    def service_count(self, category: Category) -> int:
        return getattr(category, "service_count", 0)


class ServiceForm(forms.ModelForm):
    use_provider_description = forms.BooleanField(
        label="Use the provider's description",
        required=False,
        help_text="Drops the text above for the provider's; later syncs keep it up to date. A blank description does the same.",
    )

    class Meta:
        model = Service
        fields = [
            "provider_service",
            "category",
            "name",
            "description",
            "position",
            "is_enabled",
            "markup_percent",
            "fixed_rate",
            "min_quantity",
            "max_quantity",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upstream: ProviderService | None = data.get("provider_service")
        if upstream is None:
            return data
        # An admin's own description is kept over later syncs; none (or the box ticked) follows the provider's again.
        if data.get("use_provider_description") or not (data.get("description") or "").strip():
            data["description"], self.instance.description_edited = upstream.description, False
        elif "description" in self.changed_data:
            self.instance.description_edited = True
        low, high = data.get("min_quantity"), data.get("max_quantity")
        if low is not None and low < upstream.min_quantity:
            self.add_error("min_quantity", f"Can only narrow the provider's min of {upstream.min_quantity}.")
        if high is not None and high > upstream.max_quantity:
            self.add_error("max_quantity", f"Can only narrow the provider's max of {upstream.max_quantity}.")
        return data


NAME_CHARS = 40


class MarkupForm(forms.Form):
    markup_percent = core_forms.DecimalField(
        label="Markup (%)",
        required=False,
        help_text="Blank clears the services' own markup: the category's, else the shop's default applies.",
        widget=UnfoldAdminDecimalFieldWidget,
        **MARKUP_FIELD,
    )

    def clean_markup_percent(self) -> Decimal | None:
        markup = self.cleaned_data["markup_percent"]
        if markup is not None and markup <= MARKUP_FLOOR:
            raise forms.ValidationError(f"A markup must be above {MARKUP_FLOOR}%.")
        return markup


@admin.register(Service)
class ServiceAdmin(ShopAdmin):
    form = ServiceForm
    # What the customer pays first, then what it is made of (the editable markup and fixed rate), then the rest.
    list_display = [
        "id",
        "name_short",
        "retail_rate",
        "provider_rate",
        "markup_percent",
        "fixed_rate",
        "is_enabled",
        "category",
        "limits",
        "upstream_available",
        "position",
    ]
    list_display_links = ["id", "name_short"]
    list_editable = ["markup_percent", "fixed_rate", "is_enabled", "position"]
    list_filter = ["is_enabled", "category", "provider_service__provider", "provider_service__is_available", "provider_service__type"]
    search_fields = ["name", "provider_service__name", "provider_service__upstream_id"]
    list_select_related = ["category", "provider_service__provider"]
    raw_id_fields = ["provider_service"]
    actions = ["enable", "disable", "set_markup", "use_provider_description"]
    paginator = IdsFirstPaginator  # sorted by category: the ids are sorted first, then a page's rows read with their joins
    # Four editable cells a row: rendering 100 rows took two thirds of the page (205 ms; 105 ms with 50, bench/admin.py).
    list_per_page = 50
    readonly_fields = ["description_source", "average_time"]

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[forms.ModelForm]:
        """The inline editing form, its widgets stamped (``shop.core.widgets``): 400 of them on a page of 100 rows
        (and the hidden ids, stamped by the formset)."""
        base = super().get_changelist_form(request, **kwargs)
        editable = list(self.list_editable)

        class StampedChangelistForm(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **form_kwargs: Any) -> None:
                super().__init__(*args, **form_kwargs)
                stamp_fields(self, editable)

        return StampedChangelistForm

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any) -> Any:
        base = super().get_changelist_formset(request, **kwargs)

        class StampedFormSet(base):  # type: ignore[misc, valid-type]
            def add_fields(self, form: forms.BaseForm, index: Any) -> None:
                super().add_fields(form, index)  # the hidden id of each row is added here, after the form's __init__
                stamp_fields(form, [self.model._meta.pk.name])

        return StampedFormSet

    def get_queryset(self, request: HttpRequest) -> QuerySet[Service]:
        # Priced many at a time: the shop-wide markup is read once per page, not per row.
        markup = ShopSettings.load().default_markup_percent
        return super().get_queryset(request).annotate(default_markup=Value(markup, output_field=DecimalField()))

    @admin.display(description="name", ordering="name")
    def name_short(self, service: Service) -> str:
        # Cut, with the whole name on hover: a long name would push the rates off a 1366 px screen.
        return format_html('<span title="{}">{}</span>', service.name, Truncator(service.name).chars(NAME_CHARS))

    @admin.display(description="provider rate")
    def provider_rate(self, service: Service) -> str:
        upstream = service.provider_service
        return f"{format_rate(upstream.rate)} {upstream.provider.currency}"

    @admin.display(description="retail / 1000")
    def retail_rate(self, service: Service) -> str:
        rate = service_rate(service=service, default_markup=getattr(service, "default_markup", None))
        return format_html("<strong>{}</strong> {}", format_rate(rate), settings.SHOP_CURRENCY)

    @admin.display(description="min-max")
    def limits(self, service: Service) -> str:
        low, high = service_limits(service=service)
        return f"{low}-{high}"

    @admin.display(description="available upstream", boolean=True)
    def upstream_available(self, service: Service) -> bool:
        return service.provider_service.is_available

    @admin.display(description="description from")
    def description_source(self, service: Service) -> str:
        return "the admin's own text, kept over syncs" if service.description_edited else "the provider, copied at each sync"

    @admin.display(description="average time")
    def average_time(self, service: Service) -> str:
        return average_time_words(service.average_seconds, package=service_is_package(service=service))

    @admin.action(description="Use the provider's description for the selected services")
    def use_provider_description(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        updated = services_description_reset(services=queryset)
        self.message_user(request, f"{updated} services now show their provider's description.", messages.SUCCESS)

    @admin.action(description="Enable the selected services")
    def enable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self.message_user(request, f"{queryset.update(is_enabled=True)} services enabled.", messages.SUCCESS)

    @admin.action(description="Disable the selected services")
    def disable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self.message_user(request, f"{queryset.update(is_enabled=False)} services disabled.", messages.SUCCESS)

    @admin.action(description="Set markup for the selected services")
    def set_markup(self, request: HttpRequest, queryset: QuerySet[Service]) -> TemplateResponse | None:
        form = MarkupForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            markup = form.cleaned_data["markup_percent"]
            updated = services_set_markup(services=queryset, markup_percent=markup)
            what = f"markup {markup}%" if markup is not None else "no markup of their own"
            self.message_user(request, f"{updated} services now have {what}.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Set markup",
            "opts": self.opts,
            "form": form,
            "services": queryset.select_related("category").order_by("pk"),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/shop/service/set_markup.html", context)
