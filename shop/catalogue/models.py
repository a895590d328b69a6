"""Upstream panels the shop buys from, their synced catalogues, the audit trail of calls, and the retail catalogue customers order from."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy

from shop.core.fields import EncryptedTextField

http_url = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")


class Provider(models.Model):
    """An upstream panel account. The API key is encrypted at rest and never shown."""

    name = models.CharField(max_length=100, unique=True)
    api_url = models.CharField(
        "API URL", max_length=500, validators=[http_url], help_text="The panel's API v2 endpoint, e.g. https://panel.example/api/v2"
    )
    api_key = EncryptedTextField("API key", blank=True)
    currency = models.CharField(max_length=3, default="USD", help_text="The currency the panel's rates and balance are in.")
    exchange_rate = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.00000001"))],
        help_text="How many units of the shop's currency one unit of the provider's currency is worth.",
    )
    is_active = models.BooleanField("active", default=True)
    balance = models.DecimalField(max_digits=20, decimal_places=5, null=True, blank=True, editable=False)
    balance_currency = models.CharField(max_length=8, blank=True, editable=False)
    balance_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    balance_threshold = models.DecimalField(
        "low balance threshold",
        max_digits=20,
        decimal_places=5,
        null=True,
        blank=True,
        help_text="Below this balance admins are warned and new orders wait instead of going out. Blank: no threshold.",
    )
    concurrency = models.PositiveSmallIntegerField(
        "concurrent submissions",
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="At most this many orders are sent to this panel at once; the others wait their turn without holding a worker, "
        "so a slow panel cannot delay another's orders. Keep it below the submit workers' concurrency.",
    )
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_sync_ok = models.BooleanField(null=True, editable=False)
    last_sync_message = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(exchange_rate__gt=0), name="provider_exchange_rate_positive"),
            models.CheckConstraint(condition=Q(concurrency__gte=1), name="provider_concurrency_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key)


class ProviderService(models.Model):
    """One service of a provider's catalogue, as last synced. Never deleted: orders refer to it."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="services")
    upstream_id = models.CharField("upstream id", max_length=64)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=64, default="Default")
    category = models.CharField(max_length=255, blank=True)
    rate = models.DecimalField(max_digits=20, decimal_places=8, help_text="Price per 1000 in the provider's currency.")
    min_quantity = models.BigIntegerField("min")
    max_quantity = models.BigIntegerField("max")
    refill = models.BooleanField(default=False)
    cancel = models.BooleanField(default=False)
    dripfeed = models.BooleanField("drip-feed", default=False)
    description = models.TextField(blank=True)
    is_available = models.BooleanField("available", default=True, help_text="False once the provider stopped listing it.")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(auto_now_add=True, help_text="When the synced data last changed.")
    vanished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider", "category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "upstream_id"], name="provider_service_unique_upstream_id"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="provider_service_rate_not_negative"),
            models.CheckConstraint(condition=Q(min_quantity__gte=0), name="provider_service_min_not_negative"),
            models.CheckConstraint(condition=Q(max_quantity__gte=F("min_quantity")), name="provider_service_max_at_least_min"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} #{self.upstream_id} {self.name}"


class ServiceChange(models.Model):
    """One change of a synced service's rate, limits or availability, with old and new values."""

    class Field(models.TextChoices):
        RATE = "rate", "rate"
        MIN = "min_quantity", "min"
        MAX = "max_quantity", "max"
        AVAILABLE = "is_available", "available"

    service = models.ForeignKey(ProviderService, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=20, choices=Field.choices)
    old_value = models.CharField(max_length=64)
    new_value = models.CharField(max_length=64)
    changed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.service_id} {self.field}: {self.old_value} -> {self.new_value}"


class UpstreamCall(models.Model):
    """The audit record of one call to a provider, whatever its outcome. Secrets are masked."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        REFUSED = "refused", "Refused by the panel"
        UNREACHABLE = "unreachable", "Never reached the panel"
        UNKNOWN = "unknown", "Outcome unknown"
        MISCONFIGURED = "misconfigured", "Not attempted: misconfigured"

    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, related_name="calls")
    action = models.CharField(max_length=32)
    params = models.JSONField(default=dict, help_text="Request parameters without the API key.")
    http_status = models.PositiveSmallIntegerField("HTTP status", null=True)
    duration_ms = models.PositiveIntegerField("duration (ms)")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error = models.TextField(blank=True)
    excerpt = models.TextField("reply excerpt", blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["provider", "-created_at"], name="upstream_call_provider_recent")]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome} {self.created_at:%Y-%m-%d %H:%M:%S}"


MARKUP_FIELD = {"max_digits": 8, "decimal_places": 2}


class ShopSettings(models.Model):
    """Shop-wide settings admins edit; exactly one row (``ShopSettings.load()``)."""

    default_markup_percent = models.DecimalField(
        "default markup (%)",
        default=Decimal("30"),
        help_text="Applies where neither the service nor its category sets one.",
        **MARKUP_FIELD,
    )
    one_order_per_link = models.BooleanField(
        "one active order per link",
        default=False,
        help_text="Refuse a new order for a link that already has an unfinished order on the same service, as panels do.",
    )
    referral_percent = models.DecimalField(
        "referral earnings (%)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("5"),
        help_text="What a referrer earns of each top-up their referrals pay (not of bonuses or admin credits). 0: no earnings.",
    )
    referral_payout_minimum = models.DecimalField(
        "referral payout minimum",
        max_digits=14,
        decimal_places=4,
        default=Decimal("10"),
        help_text="Earnings move to the referrer's balance once they reach this much, when the referrer asks.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "shop settings"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="shop_settings_single_row"),
            models.CheckConstraint(condition=Q(default_markup_percent__gt=-100), name="shop_settings_markup_above_minus_100"),
            models.CheckConstraint(
                condition=Q(referral_percent__gte=0, referral_percent__lte=50), name="shop_settings_referral_percent_0_to_50"
            ),
            models.CheckConstraint(condition=Q(referral_payout_minimum__gt=0), name="shop_settings_referral_minimum_positive"),
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
    """A service the shop sells. Its rate comes from the provider's, see ``shop.catalogue.pricing``."""

    provider_service = models.ForeignKey(ProviderService, on_delete=models.PROTECT, related_name="retail_services")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="services")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, help_text="Synced from the provider's description until an admin edits it.")
    description_edited = models.BooleanField(
        default=False, help_text="Set when an admin edits the description: later syncs keep the admin's text."
    )
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
    average_seconds = models.PositiveIntegerField(
        "average time (seconds per 1000)",
        null=True,
        blank=True,
        editable=False,
        help_text="From the shop's last 10 completed orders of this service, scaled per 1000. Blank: not enough orders yet.",
    )
    # What the service updates page last announced (``shop.catalogue.updates``): the retail rate and whether it was orderable.
    listed_rate = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True, editable=False)
    listed = models.BooleanField(default=False, editable=False)
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


class ServiceUpdate(models.Model):
    """One announced change of the retail catalogue: a new service, one disabled or enabled again, a new retail rate.

    Rates are the customer's (retail, before any per-customer price), never the provider's cost.
    """

    class Kind(models.TextChoices):
        # Customers read these on the service updates page and its feed.
        NEW = "new", gettext_lazy("New service")
        DISABLED = "disabled", gettext_lazy("Disabled")
        ENABLED = "enabled", gettext_lazy("Enabled again")
        RATE = "rate", gettext_lazy("Price changed")

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="updates")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    old_rate = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    new_rate = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="rate") | (Q(old_rate__isnull=False) & Q(new_rate__isnull=False)), name="service_update_rate_has_both"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.service_id}"


class CustomerPrice(models.Model):
    """A customer's own price: a discount % on every service (``service`` blank), or a fixed rate per 1000 for one service.

    A fixed rate for a service wins over the customer's discount; both replace the shop's retail rate for that customer only.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prices")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, null=True, blank=True, related_name="customer_prices")
    discount_percent = models.DecimalField(
        "discount (%)", max_digits=5, decimal_places=2, null=True, blank=True, help_text="Off the retail rate of every service."
    )
    fixed_rate = models.DecimalField(
        "fixed rate per 1000", max_digits=20, decimal_places=6, null=True, blank=True, help_text="For this service, in the shop's currency."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "service"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(service__isnull=True) & Q(discount_percent__isnull=False) & Q(fixed_rate__isnull=True))
                | (Q(service__isnull=False) & Q(fixed_rate__isnull=False) & Q(discount_percent__isnull=True)),
                name="customer_price_discount_or_fixed",
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__isnull=True) | (Q(discount_percent__gt=0) & Q(discount_percent__lt=100)),
                name="customer_price_discount_range",
            ),
            models.CheckConstraint(condition=Q(fixed_rate__isnull=True) | Q(fixed_rate__gt=0), name="customer_price_fixed_positive"),
            models.UniqueConstraint(fields=["user"], condition=Q(service__isnull=True), name="customer_price_one_discount"),
            models.UniqueConstraint(fields=["user", "service"], name="customer_price_one_per_service"),
        ]

    def __str__(self) -> str:
        return f"{self.discount_percent}% off" if self.service_id is None else f"{self.fixed_rate} per 1000 for #{self.service_id}"
