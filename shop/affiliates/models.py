"""Referrals: each customer's link, who signed up through whose, what referrers earn of their referrals' paid top-ups,
and the payouts that move those earnings to the balance (through the ledger, once)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from shop.payments.models import TopUp
from shop.wallet.models import MONEY_DIGITS, MONEY_PLACES, LedgerEntry

MONEY = {"max_digits": MONEY_DIGITS, "decimal_places": MONEY_PLACES}


class AffiliateLink(models.Model):
    """A customer's referral link (``/r/<code>/``), made when they first open their affiliates page, and how often it was followed."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="affiliate_link")
    code = models.CharField(max_length=16, unique=True)
    clicks = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user}'s link {self.code}"


class Referral(models.Model):
    """``referee`` signed up within 30 days of following ``referrer``'s link. One referrer per customer, never themselves."""

    referee = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, primary_key=True, related_name="referred_by")
    referrer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrals")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["referrer", "-created_at"], name="referral_referrer_latest")]
        constraints = [models.CheckConstraint(condition=~Q(referee=F("referrer")), name="referral_not_self")]

    def __str__(self) -> str:
        return f"{self.referee} referred by {self.referrer}"


class ReferralPayout(models.Model):
    """Earnings moved to the referrer's balance: one ledger entry (kind ``referral``), written in the same transaction."""

    referrer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referral_payouts")
    amount = models.DecimalField(**MONEY)
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="referral_payout")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="referral_payout_positive")]

    def __str__(self) -> str:
        return f"Payout #{self.pk} to {self.referrer}: {self.amount}"


class ReferralEarning(models.Model):
    """What the referrer earned of one paid top-up of a referee: once per top-up (the unique ``topup``)."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="earnings")
    referrer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referral_earnings")
    topup = models.OneToOneField(TopUp, on_delete=models.PROTECT, related_name="referral_earning")
    percent = models.DecimalField(max_digits=5, decimal_places=2)
    amount = models.DecimalField(**MONEY)
    # Taken back because the top-up was refunded or disputed before the earning was paid out (``referral_reverse``).
    reversed_amount = models.DecimalField(**MONEY, default=0)
    payout = models.ForeignKey(ReferralPayout, on_delete=models.PROTECT, null=True, blank=True, related_name="earnings")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["referrer"], condition=Q(payout__isnull=True), name="referral_earning_unpaid")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="referral_earning_positive"),
            models.CheckConstraint(
                condition=Q(reversed_amount__gte=0, reversed_amount__lte=F("amount")), name="referral_earning_reversed_within_amount"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} of top-up #{self.topup_id} for {self.referrer}"

    @property
    def payable(self) -> Decimal:
        """What the earning adds to a payout: the share earned, less what a reversal of the top-up took back."""
        return self.amount - self.reversed_amount
