"""Admin for the retail catalogue: shop settings, categories and services with their markup."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import DecimalField, QuerySet, Value
from django.http import HttpRequest

from shop.models import Category, ProviderService, Service, ShopSettings
from shop.services.pricing import service_limits, service_rate


@admin.register(ShopSettings)
class ShopSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "default_markup_percent"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not ShopSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "is_visible", "markup_percent"]
    list_editable = ["position", "is_visible", "markup_percent"]
    search_fields = ["name"]


class ServiceForm(forms.ModelForm):
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
        low, high = data.get("min_quantity"), data.get("max_quantity")
        if low is not None and low < upstream.min_quantity:
            self.add_error("min_quantity", f"Can only narrow the provider's min of {upstream.min_quantity}.")
        if high is not None and high > upstream.max_quantity:
            self.add_error("max_quantity", f"Can only narrow the provider's max of {upstream.max_quantity}.")
        return data


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceForm
    list_display = [
        "id",
        "name",
        "category",
        "provider_rate",
        "markup_percent",
        "fixed_rate",
        "retail_rate",
        "limits",
        "is_enabled",
        "upstream_available",
        "position",
    ]
    list_display_links = ["id", "name"]
    list_editable = ["markup_percent", "fixed_rate", "is_enabled", "position"]
    list_filter = ["is_enabled", "category", "provider_service__provider", "provider_service__is_available", "provider_service__type"]
    search_fields = ["name", "provider_service__name", "provider_service__upstream_id"]
    list_select_related = ["category", "provider_service__provider"]
    raw_id_fields = ["provider_service"]
    actions = ["enable", "disable"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Service]:
        # Priced many at a time: the shop-wide markup is read once per page, not per row.
        markup = ShopSettings.load().default_markup_percent
        return super().get_queryset(request).annotate(default_markup=Value(markup, output_field=DecimalField()))

    @admin.display(description="provider rate")
    def provider_rate(self, service: Service) -> str:
        upstream = service.provider_service
        return f"{upstream.rate.normalize()} {upstream.provider.currency}"

    @admin.display(description="retail rate / 1000")
    def retail_rate(self, service: Service) -> str:
        return str(service_rate(service=service, default_markup=getattr(service, "default_markup", None)))

    @admin.display(description="min-max")
    def limits(self, service: Service) -> str:
        low, high = service_limits(service=service)
        return f"{low}-{high}"

    @admin.display(description="available upstream", boolean=True)
    def upstream_available(self, service: Service) -> bool:
        return service.provider_service.is_available

    @admin.action(description="Enable the selected services")
    def enable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self.message_user(request, f"{queryset.update(is_enabled=True)} services enabled.", messages.SUCCESS)

    @admin.action(description="Disable the selected services")
    def disable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self.message_user(request, f"{queryset.update(is_enabled=False)} services disabled.", messages.SUCCESS)
