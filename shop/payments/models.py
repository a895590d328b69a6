"""Payment methods (configured by admins) and top-ups (a customer's payment into their balance), with their history."""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import nonmember

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shop.core.fields import EncryptedTextField
from shop.wallet.models import MONEY_DIGITS, MONEY_PLACES

PERCENT = {"max_digits": 5, "decimal_places": 2, "validators": [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]}
MONEY = {"max_digits": MONEY_DIGITS, "decimal_places": MONEY_PLACES}


class PaymentMethod(models.Model):
    """One way to add funds, as an admin configured it. Credentials are encrypted at rest and never shown back."""

    class Kind(models.TextChoices):
        SANDBOX = "sandbox", "Sandbox (test gateway)"
        MANUAL = "manual", "Manual transfer"
        STRIPE = "stripe", "Stripe Checkout"
        CRYPTOMUS = "cryptomus", "Cryptomus"

    code = models.SlugField(max_length=40, unique=True, help_text="Part of the notification URL: /payments/notify/<code>/.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=80, help_text="What customers see, e.g. 'Card (Stripe)'.")
    is_enabled = models.BooleanField(default=False, help_text="Offered to customers. A disabled method still accepts notifications.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first on the add funds page.")
    currency = models.CharField(max_length=3, default="USD", help_text="Must be the shop's currency.")
    min_amount = models.DecimalField(**MONEY, default=Decimal("1"), validators=[MinValueValidator(Decimal("0.01"))])
    max_amount = models.DecimalField(**MONEY, default=Decimal("10000"), validators=[MinValueValidator(Decimal("0.01"))])
    fee_percent = models.DecimalField(**PERCENT, default=Decimal("0"), help_text="Taken from the amount paid.")
    bonus_percent = models.DecimalField(**PERCENT, default=Decimal("0"), help_text="Added when the amount paid reaches the threshold.")
    bonus_threshold = models.DecimalField(**MONEY, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))])
    instructions = models.TextField(blank=True, help_text="Manual transfer: where and how to pay, shown to the customer.")
    api_url = models.URLField(blank=True, help_text="The gateway's API base URL (sandbox, Cryptomus); blank for its default.")
    merchant_id = models.CharField(max_length=120, blank=True, help_text="The merchant or account the gateway knows the shop by.")
    api_key = EncryptedTextField(blank=True, editable=False)
    webhook_secret = EncryptedTextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(min_amount__gt=0) & Q(max_amount__gte=models.F("min_amount")), name="payment_method_limits"),
            models.CheckConstraint(condition=Q(fee_percent__gte=0) & Q(fee_percent__lt=100), name="payment_method_fee_below_100"),
            models.CheckConstraint(condition=Q(bonus_percent__gte=0) & Q(bonus_percent__lte=100), name="payment_method_bonus_percent"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key)

    @property
    def has_webhook_secret(self) -> bool:
        return bool(self.webhook_secret)


class TopUpState(models.TextChoices):
    # Customers read these on their payments (a top-up under review reads "Being checked" there).
    PENDING = "pending", _("Pending")
    REVIEW = "review", _("Needs review")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")
    REJECTED = "rejected", _("Rejected")

    # States from which a verified "paid" report still credits: the gateway holds the money, whatever the shop thought.
    CREDITABLE = nonmember(("pending", "failed", "expired"))
    # States a customer may still see change without staff.
    OPEN = nonmember(("pending", "review"))


class TopUp(models.Model):
    """A customer's payment into their balance through one method. Credited once: state moves to paid by compare-and-set.

    ``amount`` is what the customer pays; the balance gets ``amount - fee + bonus``,
    as three ledger entries naming this top-up (the database allows one of each).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="In URLs and sent to the gateway.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="topups")
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="topups")
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY, default=Decimal("0"))
    bonus = models.DecimalField(**MONEY, default=Decimal("0"))
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=16, choices=TopUpState.choices, default=TopUpState.PENDING)
    gateway_id = models.CharField(max_length=255, blank=True, help_text="The gateway's id of this payment.")
    gateway_payment = models.CharField(
        max_length=255, blank=True, help_text="A second id some gateways use later (Stripe's payment intent)."
    )
    pay_url = models.URLField(max_length=2000, blank=True, help_text="Where the customer pays.")
    reference = models.CharField(max_length=120, blank=True, help_text="Manual transfer: the customer's payment reference.")
    attention_reason = models.CharField(max_length=500, blank=True, help_text="Why staff must look at it.")
    reversed_amount = models.DecimalField(**MONEY, default=Decimal("0"), help_text="Taken back from the balance after a refund or dispute.")
    reversal_owed = models.DecimalField(**MONEY, default=Decimal("0"), help_text="A reversal the balance could not cover.")
    reversal_written_off = models.DecimalField(**MONEY, default=Decimal("0"), help_text="Owed reversals staff gave up.")
    refunded_total = models.DecimalField(**MONEY, default=Decimal("0"), help_text="The gateway's running total of refunds.")
    disputed_total = models.DecimalField(**MONEY, default=Decimal("0"), help_text="The gateway's running total of disputes.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True, help_text="Last server-side status fetch from the gateway.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-id"], name="topup_user_recent"),
            models.Index(fields=["state", "created_at"], name="topup_state_created"),
            # The admin's top-ups, newest first (its ordering), paged without sorting every one.
            models.Index(fields=["-created_at", "-id"], name="topup_recent"),
            # The dashboard's top-ups paid this month and those owing a reversal, read from indexes beside
            # topup_state_created (an OR of the three), not by reading every top-up (issue 16).
            models.Index(fields=["paid_at"], condition=Q(state="paid"), name="topup_paid_at"),
            models.Index(fields=["id"], condition=Q(reversal_owed__gt=0), name="topup_reversal_owed"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["method", "gateway_id"], condition=~Q(gateway_id=""), name="topup_one_per_gateway_id"),
            models.UniqueConstraint(
                fields=["method", "gateway_payment"], condition=~Q(gateway_payment=""), name="topup_one_per_gateway_payment"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="topup_amount_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0) & Q(fee__lt=models.F("amount")), name="topup_fee_below_amount"),
            models.CheckConstraint(condition=Q(bonus__gte=0), name="topup_bonus_not_negative"),
            models.CheckConstraint(
                condition=Q(reversed_amount__gte=0)
                & Q(reversal_owed__gte=0)
                & Q(reversal_written_off__gte=0)
                & Q(refunded_total__gte=0)
                & Q(disputed_total__gte=0),
                name="topup_reversal_figures_not_negative",
            ),
            models.CheckConstraint(condition=Q(state="paid") | Q(paid_at__isnull=True), name="topup_paid_at_only_when_paid"),
            models.CheckConstraint(condition=Q(state__in=[s.value for s in TopUpState]), name="topup_state_valid"),
        ]

    def __str__(self) -> str:
        return f"Top-up #{self.pk} {self.amount} {self.currency} ({self.state})"

    @property
    def credited(self) -> Decimal:
        """What a paid top-up adds to the balance."""
        return self.amount - self.fee + self.bonus


class TopUpEvent(models.Model):
    """One thing that happened to a top-up, with who or what caused it. Append-only."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        NOTIFIED = "notified", "Gateway notification"
        CHECKED = "checked", "Status fetched from the gateway"
        PAID = "paid", "Paid and credited"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"
        REVIEW = "review", "Put up for review"
        REJECTED = "rejected", "Rejected"
        IGNORED = "ignored", "Changed nothing"
        REVERSED = "reversed", "Reversed (refund or dispute)"
        WRITTEN_OFF = "written_off", "Owed reversal written off"

    class Actor(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        GATEWAY = "gateway", "Gateway notification"
        CHECK = "check", "Status check"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "System"

    topup = models.ForeignKey(TopUp, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.CharField(max_length=16, choices=Actor.choices)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=16, blank=True, help_text="The top-up's state after the event.")
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["topup", "id"], name="topup_event_topup")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_actor_display()})"
