"""Referral writes: links, attributing a sign-up, earning on a paid top-up (once), paying earnings out (once).

Earnings are a share of what a referee *paid* in a top-up (``TopUp.amount``): not of its bonus, and never of an
admin's credit, which is no top-up. Each top-up earns at most once (its earning's unique ``topup``). A payout
locks the referrer's unpaid earnings, records them as paid by it and credits their sum through the ledger in
one transaction, so two payouts at once cannot pay one earning twice.
"""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from shop.affiliates.models import AffiliateLink, Referral, ReferralEarning, ReferralPayout
from shop.catalogue.models import ShopSettings
from shop.payments.models import TopUp
from shop.storefront.templatetags.shop_format import format_money
from shop.wallet.models import LedgerEntry
from shop.wallet.services import money, wallet_credit

logger = logging.getLogger(__name__)

CODE_BYTES = 6  # 8 URL-safe characters
MAX_CHAIN = 1000  # how far up a chain of referrers the circular check looks (chains are short; this bounds a bad one)


class ReferralRefused(ValueError):
    """The referral was not recorded; the message says why."""


class PayoutRefused(ValueError):
    """Nothing was paid out; the message says why, for people."""


def affiliate_link_of(*, user: AbstractBaseUser) -> AffiliateLink:
    """``user``'s link, made the first time it is asked for."""
    link = AffiliateLink.objects.filter(user=user).first()
    while link is None:
        code = secrets.token_urlsafe(CODE_BYTES)
        try:
            with transaction.atomic():
                link = AffiliateLink.objects.create(user=user, code=code)
        except IntegrityError:  # the code was taken (or another request made the link): look again
            link = AffiliateLink.objects.filter(user=user).first()
    return link


def referral_click(*, code: str) -> AffiliateLink | None:
    """Count a visit through the link ``code``; None when there is no such link."""
    link = AffiliateLink.objects.filter(code=code).first() if 0 < len(code) <= 16 else None
    if link is not None:
        AffiliateLink.objects.filter(pk=link.pk).update(clicks=F("clicks") + 1)
    return link


def referral_attach(*, referee: AbstractBaseUser, code: str) -> Referral:
    """Record that ``referee`` signed up through the link ``code``. Refuses an unknown link, oneself (the same account or
    email address), a circle (the referrer was referred, directly or not, by the referee) and a second referrer."""
    link = AffiliateLink.objects.select_related("user").filter(code=code).first()
    if link is None:
        raise ReferralRefused("No such referral link.")
    referrer = link.user
    if referrer.pk == referee.pk or (referrer.email and referrer.email.lower() == referee.email.lower()):
        raise ReferralRefused("A customer cannot refer themselves.")
    ancestor, seen = referrer.pk, 0
    while seen < MAX_CHAIN:
        ancestor = Referral.objects.filter(referee_id=ancestor).values_list("referrer_id", flat=True).first()
        if ancestor is None:
            break
        if ancestor == referee.pk:
            raise ReferralRefused("Referrals cannot go round in a circle.")
        seen += 1
    try:
        with transaction.atomic():
            return Referral.objects.create(referee=referee, referrer=referrer)
    except IntegrityError as exc:
        raise ReferralRefused("This customer was referred already.") from exc


def referral_earn(*, topup: TopUp) -> ReferralEarning | None:
    """The referrer's share of the paid top-up ``topup``; None when its payer has no referrer or the share is 0.

    Call it in the transaction that credits the top-up. A second call for the same top-up earns nothing more.
    """
    referral = Referral.objects.filter(referee_id=topup.user_id).first()
    if referral is None:
        return None
    percent = ShopSettings.load().referral_percent
    amount = money(topup.amount * percent / Decimal(100))
    if amount <= 0:
        return None
    earning, _created = ReferralEarning.objects.get_or_create(
        topup=topup, defaults={"referral": referral, "referrer_id": referral.referrer_id, "percent": percent, "amount": amount}
    )
    return earning


def referral_reverse(*, topup: TopUp) -> Decimal:
    """Take back from the referrer's earning of ``topup`` the share its recorded refunds and disputes call for, if the
    earning is not paid out yet; returns what was taken back.

    Call it in the transaction that settles the reversal, with ``topup`` locked. An earning already paid out stays paid
    (the referrer's balance is not debited for it; staff can debit it by hand) and is logged.
    """
    earning = ReferralEarning.objects.select_for_update().filter(topup=topup).first()
    if earning is None:
        return Decimal("0")
    if earning.payout_id is not None:
        logger.warning("top-up %s reversed after its referral earning %s was paid out", topup.pk, earning.pk)
        return Decimal("0")
    share = min(topup.refunded_total + topup.disputed_total, topup.amount) / topup.amount
    due = money(earning.amount * share) - earning.reversed_amount
    if due <= 0:
        return Decimal("0")
    ReferralEarning.objects.filter(pk=earning.pk).update(reversed_amount=earning.reversed_amount + due)
    return due


def unpaid_total(*, referrer: AbstractBaseUser) -> Decimal:
    unpaid = ReferralEarning.objects.filter(referrer=referrer, payout__isnull=True)
    total = unpaid.aggregate(total=Sum(F("amount") - F("reversed_amount")))["total"]
    return total or Decimal("0")


def referral_payout(*, referrer: AbstractBaseUser) -> ReferralPayout:
    """Move every unpaid earning of ``referrer`` to their balance, once, when they add up to the shop's minimum."""
    minimum = ShopSettings.load().referral_payout_minimum
    with transaction.atomic():
        unpaid = list(ReferralEarning.objects.select_for_update().filter(referrer=referrer, payout__isnull=True).order_by("pk"))
        if not unpaid:
            raise PayoutRefused(_("You have no earnings to pay out yet."))
        total = money(sum(earning.payable for earning in unpaid))
        if total < minimum:
            raise PayoutRefused(
                _("Earnings are paid out from %(minimum)s: you have %(total)s so far.")
                % {"minimum": format_money(minimum), "total": format_money(total)}
            )
        entry = wallet_credit(
            user=referrer, amount=total, kind=LedgerEntry.Kind.REFERRAL, reason=f"Referral earnings ({len(unpaid)} top-ups)"
        )
        payout = ReferralPayout.objects.create(referrer=referrer, amount=total, entry=entry)
        ReferralEarning.objects.filter(pk__in=[earning.pk for earning in unpaid]).update(payout=payout)
    return payout
