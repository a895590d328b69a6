"""Admin for customers' own prices: a discount % on every service, or a fixed rate per 1000 for one service.

The form says plainly what the database's constraints refuse (one discount per customer, one fixed rate per
service and customer, a discount between 0 and 100 %, a fixed rate above zero), so an admin never meets an error page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from shop.backoffice.links import customer_link
from shop.catalogue.models import CustomerPrice
from shop.core.admin import ShopAdmin
from shop.storefront.templatetags.shop_format import format_rate

HUNDRED = Decimal("100")


class CustomerPriceForm(forms.ModelForm):
    class Meta:
        model = CustomerPrice
        fields = ["user", "service", "discount_percent", "fixed_rate"]
        help_texts = {
            "service": "Blank: the discount applies to every service. A service: give its fixed rate.",
        }

    def clean_discount_percent(self) -> Decimal | None:
        discount = self.cleaned_data["discount_percent"]
        if discount is not None and not 0 < discount < HUNDRED:
            raise forms.ValidationError("A discount is more than 0 % and less than 100 %.")
        return discount

    def clean_fixed_rate(self) -> Decimal | None:
        rate = self.cleaned_data["fixed_rate"]
        if rate is not None and rate <= 0:
            raise forms.ValidationError("A fixed rate is more than zero.")
        return rate

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        user, service = data.get("user"), data.get("service")
        if "service" in self.errors:
            return data
        if service is None:
            if data.get("fixed_rate") is not None:
                self.add_error("fixed_rate", "A fixed rate is for one service: choose the service, or give a discount instead.")
            elif data.get("discount_percent") is None and "discount_percent" not in self.errors:
                self.add_error("discount_percent", "Give the discount on every service, or choose a service and its fixed rate.")
        else:
            if data.get("discount_percent") is not None:
                self.add_error("discount_percent", "A discount is on every service: leave the service blank, or give a fixed rate.")
            elif data.get("fixed_rate") is None and "fixed_rate" not in self.errors:
                self.add_error("fixed_rate", "Give this service's fixed rate per 1000.")
        if user is not None and not self.errors:
            others = CustomerPrice.objects.filter(user=user).exclude(pk=self.instance.pk)
            if service is None and others.filter(service__isnull=True).exists():
                self.add_error("user", "This customer already has a discount: change that one instead.")
            elif service is not None and others.filter(service=service).exists():
                self.add_error("service", "This customer already has a fixed rate for this service: change that one instead.")
        return data


@admin.register(CustomerPrice)
class CustomerPriceAdmin(ShopAdmin):
    form = CustomerPriceForm
    list_display = ["customer", "applies_to", "price", "updated_at"]
    list_display_links = ["applies_to"]
    list_select_related = ["user", "service"]
    autocomplete_fields = ["user", "service"]
    search_fields = ["user__username", "user__email", "service__name"]
    ordering = ["user__username", "service"]

    @admin.display(description="customer", ordering="user__username")
    def customer(self, price: CustomerPrice) -> str:
        return customer_link(price.user)

    @admin.display(description="applies to", ordering="service")
    def applies_to(self, price: CustomerPrice) -> str:
        return "Every service" if price.service is None else f"#{price.service.pk} {price.service.name}"

    @admin.display(description="price")
    def price(self, price: CustomerPrice) -> str:
        if price.service is None:
            return format_html("{} % off", format_rate(price.discount_percent))
        return format_html("{} per 1000", format_rate(price.fixed_rate))
