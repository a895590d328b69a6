"""Admin for the retail catalogue: shop settings, categories and services with their markup."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, DecimalField, QuerySet, Value
from django.http import HttpRequest
from django.template.response import TemplateResponse

from shop.models import Category, ProviderService, Service, ShopSettings
from shop.models.catalogue import MARKUP_FIELD
from shop.services.pricing import service_limits, service_rate
from shop.services.retail import MARKUP_FLOOR, services_set_markup


@admin.register(ShopSettings)
class ShopSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "default_markup_percent"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not ShopSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "is_visible", "markup_percent", "service_count"]
    list_editable = ["position", "is_visible", "markup_percent"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(service_count=Count("services"))

    @admin.display(description="services", ordering="service_count")
    def service_count(self, category: Category) -> int:
        return getattr(category, "service_count", 0)


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


class MarkupForm(forms.Form):
    markup_percent = forms.DecimalField(
        label="Markup (%)",
        required=False,
        help_text="Blank clears the services' own markup: the category's, else the shop's default applies.",
        **MARKUP_FIELD,
    )

    def clean_markup_percent(self) -> Decimal | None:
        markup = self.cleaned_data["markup_percent"]
        if markup is not None and markup <= MARKUP_FLOOR:
            raise forms.ValidationError(f"A markup must be above {MARKUP_FLOOR}%.")
        return markup


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
    actions = ["enable", "disable", "set_markup"]

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
