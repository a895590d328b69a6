"""Referral reads for the customer's affiliates page and for staff."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q, Sum

from shop.affiliates.models import AffiliateLink, Referral, ReferralEarning, ReferralPayout

SHOWN = 50


@dataclass(frozen=True)
class AffiliateSummary:
    link: AffiliateLink
    signups: int
    paying: int  # referrals with at least one earning
    earned: Decimal
    unpaid: Decimal
    earnings: list[ReferralEarning]
    payouts: list[ReferralPayout]


def affiliate_summary(*, link: AffiliateLink) -> AffiliateSummary:
    """``link``'s owner's referrals and earnings in five queries, however many there are (the latest ``SHOWN`` of each list)."""
    referrer = link.user_id
    signups = Referral.objects.filter(referrer_id=referrer).aggregate(
        total=Count("pk"), paying=Count("pk", filter=Q(earnings__isnull=False), distinct=True)
    )
    kept = F("amount") - F("reversed_amount")  # what a refund or dispute of the top-up did not take back
    sums = ReferralEarning.objects.filter(referrer_id=referrer).aggregate(earned=Sum(kept), unpaid=Sum(kept, filter=Q(payout__isnull=True)))
    earnings = list(
        ReferralEarning.objects.filter(referrer_id=referrer).select_related("referral__referee", "topup").order_by("-pk")[:SHOWN]
    )
    payouts = list(ReferralPayout.objects.filter(referrer_id=referrer).order_by("-pk")[:SHOWN])
    return AffiliateSummary(
        link=link,
        signups=signups["total"],
        paying=signups["paying"],
        earned=sums["earned"] or Decimal("0"),
        unpaid=sums["unpaid"] or Decimal("0"),
        earnings=earnings,
        payouts=payouts,
    )


def masked(user: AbstractBaseUser) -> str:
    """A referee as their referrer sees them: the first two characters of the username, the rest hidden."""
    name = user.get_username()
    return name[:2] + "•" * max(len(name) - 2, 3)
