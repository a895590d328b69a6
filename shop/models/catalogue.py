"""The retail catalogue: what customers see and order, priced from a provider service."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from .providers import ProviderService

MARKUP_FIELD = {"max_digits": 8, "decimal_places": 2}


class ShopSettings(models.Model):
    """Shop-wide settings admins edit; exactly one row (``ShopSettings.load()``)."""

    default_markup_percent = models.DecimalField(
        "default markup (%)",
        default=Decimal("30"),
        help_text="Applies where neither the service nor its category sets one.",
        **MARKUP_FIELD,
    )

    class Meta:
        verbose_name = verbose_name_plural = "shop settings"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="shop_settings_single_row"),
            models.CheckConstraint(condition=Q(default_markup_percent__gt=-100), name="shop_settings_markup_above_minus_100"),
        ]

    def __str__(self) -> str:
        return "Shop settings"

    @classmethod
    def load(cls) -> ShopSettings:
        settings, _ = cls.objects.get_or_create(pk=1)
        return settings


class Category(models.Model):
    name = models.CharField(max_length=255, unique=True)
    position = models.PositiveIntegerField(default=0, help_text="Lower comes first.")
    is_visible = models.BooleanField("visible", default=True)
    markup_percent = models.DecimalField("markup (%)", null=True, blank=True, help_text="Blank: the shop's default markup.", **MARKUP_FIELD)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(
                condition=Q(markup_percent__gt=-100) | Q(markup_percent__isnull=True), name="category_markup_above_minus_100"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """A service the shop sells. Its rate comes from the provider's, see ``shop.services.pricing``."""

    provider_service = models.ForeignKey(ProviderService, on_delete=models.PROTECT, related_name="retail_services")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="services")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Lower comes first within its category.")
    is_enabled = models.BooleanField("enabled", default=True)
    markup_percent = models.DecimalField(
        "markup (%)", null=True, blank=True, help_text="Blank: the category's, else the shop's default.", **MARKUP_FIELD
    )
    fixed_rate = models.DecimalField(
        "fixed rate per 1000",
        max_digits=20,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Replaces the computed rate, in the shop's currency.",
    )
    min_quantity = models.BigIntegerField("min", null=True, blank=True, help_text="Blank: the provider's. Can only narrow it.")
    max_quantity = models.BigIntegerField("max", null=True, blank=True, help_text="Blank: the provider's. Can only narrow it.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category__position", "category__name", "position", "name"]
        indexes = [models.Index(fields=["category", "position"], name="service_category_position")]
        constraints = [
            models.CheckConstraint(
                condition=Q(markup_percent__gt=-100) | Q(markup_percent__isnull=True), name="service_markup_above_minus_100"
            ),
            models.CheckConstraint(condition=Q(fixed_rate__gt=0) | Q(fixed_rate__isnull=True), name="service_fixed_rate_positive"),
            models.CheckConstraint(condition=Q(min_quantity__gte=1) | Q(min_quantity__isnull=True), name="service_min_positive"),
            models.CheckConstraint(
                condition=Q(max_quantity__gte=models.F("min_quantity")) | Q(max_quantity__isnull=True) | Q(min_quantity__isnull=True),
                name="service_max_at_least_min",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"
