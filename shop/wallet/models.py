"""Customers' money: one wallet per user and an append-only ledger of every change."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY_DIGITS = 18
MONEY_PLACES = 4


class Wallet(models.Model):
    """A customer's balance in the shop currency. Changed only by ``shop.wallet.services``."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet")
    balance = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=Decimal("0"), editable=False)
    # Set when a payment was reversed and the balance could not cover it: new orders are refused until staff lift it.
    hold_reason = models.CharField(max_length=255, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("adjust_balance", "Can credit and debit balances")]
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_not_negative")]

    def __str__(self) -> str:
        return f"{self.user} ({self.balance})"


class LedgerEntry(models.Model):
    """One change of one wallet. Never updated or deleted (a database trigger refuses both)."""

    class Kind(models.TextChoices):
        # Customers read these on their balance page.
        DEPOSIT = "deposit", _("Deposit")
        ORDER_CHARGE = "order_charge", _("Order charge")
        REFUND = "refund", _("Refund")
        ADJUSTMENT = "adjustment", _("Adjustment")
        TOPUP = "topup", _("Top-up")
        TOPUP_FEE = "topup_fee", _("Payment fee")
        TOPUP_BONUS = "topup_bonus", _("Top-up bonus")
        REVERSAL = "reversal", _("Payment reversed")
        REFERRAL = "referral", _("Referral earnings")

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, help_text="Positive adds to the balance, negative takes from it."
    )
    balance_after = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    order = models.ForeignKey("shop.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries")
    topup = models.ForeignKey("shop.TopUp", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries")
    reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="The admin who made it."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["wallet", "-id"], name="ledger_wallet_recent"),
            # The admin's ledger, newest first (its ordering), paged without sorting every line.
            models.Index(fields=["-created_at", "-id"], name="ledger_recent"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_not_negative"),
            models.CheckConstraint(condition=~Q(kind="deposit") | Q(amount__gt=0), name="ledger_deposit_positive"),
            models.CheckConstraint(condition=~Q(kind="refund") | Q(amount__gt=0), name="ledger_refund_positive"),
            models.CheckConstraint(condition=~Q(kind="referral") | Q(amount__gt=0), name="ledger_referral_positive"),
            models.CheckConstraint(condition=~Q(kind="order_charge") | Q(amount__lt=0), name="ledger_charge_negative"),
            models.CheckConstraint(condition=~Q(kind="adjustment") | ~Q(reason=""), name="ledger_adjustment_has_reason"),
            models.CheckConstraint(
                condition=~Q(kind__in=["order_charge", "refund"]) | Q(order__isnull=False), name="ledger_order_entries_name_order"
            ),
            models.CheckConstraint(condition=~Q(kind__in=["topup", "topup_bonus"]) | Q(amount__gt=0), name="ledger_topup_credits_positive"),
            models.CheckConstraint(condition=~Q(kind__in=["topup_fee", "reversal"]) | Q(amount__lt=0), name="ledger_topup_debits_negative"),
            models.CheckConstraint(
                condition=~Q(kind__in=["topup", "topup_fee", "topup_bonus", "reversal"]) | Q(topup__isnull=False),
                name="ledger_topup_entries_name_topup",
            ),
            # Each top-up is credited once, with at most one fee and one bonus, whatever notifications race.
            models.UniqueConstraint(
                fields=["topup", "kind"], condition=Q(kind__in=["topup", "topup_fee", "topup_bonus"]), name="ledger_one_of_each_per_topup"
            ),
            # Each order is charged once and refunded at most once, whatever races.
            models.UniqueConstraint(fields=["order"], condition=Q(kind="order_charge"), name="ledger_one_charge_per_order"),
            models.UniqueConstraint(fields=["order"], condition=Q(kind="refund"), name="ledger_one_refund_per_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+} -> {self.balance_after}"
