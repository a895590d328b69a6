"""Refunds and disputes of paid top-ups: the balance gives back what the top-up gave, in the same share, once.

A gateway reports each kind of reversal as a running total for the payment
(a refund of 40, then of 100 in all; a dispute of the rest). The top-up keeps
the highest total seen of each kind, whatever order reports arrive in, even
before it is paid (a refund can be delivered before the payment it refunds);
what the balance owes is then ``credited x min(refunded + disputed, amount) /
amount``, less what was taken, is owed, or was written off. A balance that
cannot cover it gives nothing (it never goes negative) and goes on hold: no new
order until staff collect what is owed or write it off.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from shop.affiliates.services import referral_reverse
from shop.payments.history import Actor, Kind, Outcome, TopUpRefused, event_record, staff_reason
from shop.payments.interface import DISPUTE, REFUND
from shop.payments.models import TopUp, TopUpState
from shop.payments.quotes import cents
from shop.wallet.models import LedgerEntry, Wallet
from shop.wallet.services import InsufficientFunds, wallet_debit, wallet_hold, wallet_release

logger = logging.getLogger(__name__)

TOTALS = {REFUND: "refunded_total", DISPUTE: "disputed_total"}


def reversal_record(*, topup: TopUp, kind: str, total: Decimal, actor: Actor, facts: dict[str, Any]) -> Outcome:
    """Record a gateway's running total of one kind of reversal, and settle the balance if the top-up is paid."""
    field = TOTALS.get(kind, TOTALS[REFUND])
    total = max(total, Decimal("0"))
    with transaction.atomic():
        locked = TopUp.objects.select_for_update().get(pk=topup.pk)
        if total <= getattr(locked, field):
            event_record(locked, Kind.IGNORED, actor, {**facts, "why": f"{kind} of {total} already recorded"})
            return Outcome.UNCHANGED
        setattr(locked, field, total)
        locked.save(update_fields=[field, "updated_at"])
        if locked.state != TopUpState.PAID:
            event_record(locked, Kind.REVERSED, actor, {**facts, kind: total, "applied": "when the top-up is paid"})
            return Outcome.REVERSED
        reversal_settle(locked, actor, {**facts, kind: total})
    return Outcome.REVERSED


def reversal_settle(locked: TopUp, actor: Actor, facts: dict[str, Any]) -> Decimal:
    """Take from the balance what the recorded reversals of a paid top-up still call for; returns the amount moved or owed.

    ``locked`` is the top-up row locked by the caller's transaction (``select_for_update``), in the state paid.
    """
    share = min(locked.refunded_total + locked.disputed_total, locked.amount) / locked.amount
    delta = cents(locked.credited * share) - locked.reversed_amount - locked.reversal_owed - locked.reversal_written_off
    if delta <= 0:
        if facts:
            event_record(locked, Kind.IGNORED, actor, {**facts, "why": "reversal already applied"})
        return Decimal("0")
    Wallet.objects.select_for_update().filter(user_id=locked.user_id).first()  # the wallet before the debit and the hold
    try:
        with transaction.atomic():
            wallet_debit(
                user=locked.user, amount=delta, kind=LedgerEntry.Kind.REVERSAL, reason=f"Top-up #{locked.pk} reversed", topup=locked
            )
        locked.reversed_amount += delta
        covered = True
    except InsufficientFunds:
        locked.reversal_owed += delta
        locked.attention_reason = f"Reversed by the gateway: {locked.reversal_owed} {locked.currency} not covered by the balance."
        wallet_hold(user=locked.user, reason=f"Top-up #{locked.pk} was reversed and the balance could not cover it.")
        covered = False
    locked.save(update_fields=["reversed_amount", "reversal_owed", "attention_reason", "updated_at"])
    event_record(locked, Kind.REVERSED, actor, {**facts, "amount": delta, "covered": covered})
    logger.warning("top-up %s reversed by %s (covered: %s)", locked.pk, delta, covered)
    referral_reverse(topup=locked)  # the referrer's unpaid share of the top-up shrinks in step
    return delta


def topup_owed_collect(*, topup: TopUp, staff: AbstractBaseUser) -> Outcome:
    """Staff take a reversal the balance could not cover, now that it can: all that is owed, or nothing.

    Lifts the balance's hold when no other top-up of the customer still owes. Raises
    ``TopUpRefused`` (nothing written) when nothing is owed or the balance is still short.
    """
    with transaction.atomic():
        locked = TopUp.objects.select_for_update().get(pk=topup.pk)
        owed = locked.reversal_owed
        if owed <= 0:
            raise TopUpRefused(f"Top-up #{locked.pk} owes nothing.")
        try:
            with transaction.atomic():
                wallet_debit(
                    user=locked.user, amount=owed, kind=LedgerEntry.Kind.REVERSAL, reason=f"Top-up #{locked.pk} reversed", topup=locked
                )
        except InsufficientFunds as exc:
            raise TopUpRefused(f"The balance ({exc.available}) cannot cover the {owed} {locked.currency} owed yet.") from None
        locked.reversed_amount += owed
        locked.reversal_owed = Decimal("0")
        locked.attention_reason = ""
        locked.save(update_fields=["reversed_amount", "reversal_owed", "attention_reason", "updated_at"])
        event_record(locked, Kind.REVERSED, Actor.staff(staff), {"amount": owed, "covered": True, "collected": "owed"})
        _release_when_clear(locked)
    return Outcome.REVERSED


def topup_owed_write_off(*, topup: TopUp, staff: AbstractBaseUser, reason: str) -> Outcome:
    """Staff give up what a reversal left owed (settled outside the shop, or a loss), with a reason; nothing is debited.

    The amount is remembered (``reversal_written_off``), so a reversal reported again does not ask for it twice.
    Lifts the balance's hold when no other top-up of the customer still owes.
    """
    reason = staff_reason(reason, action="A write-off")
    with transaction.atomic():
        locked = TopUp.objects.select_for_update().get(pk=topup.pk)
        owed = locked.reversal_owed
        if owed <= 0:
            raise TopUpRefused(f"Top-up #{locked.pk} owes nothing.")
        locked.reversal_written_off += owed
        locked.reversal_owed = Decimal("0")
        locked.attention_reason = ""
        locked.save(update_fields=["reversal_written_off", "reversal_owed", "attention_reason", "updated_at"])
        event_record(locked, Kind.WRITTEN_OFF, Actor.staff(staff), {"amount": owed, "reason": reason})
        _release_when_clear(locked)
    return Outcome.CLOSED


def _release_when_clear(topup: TopUp) -> None:
    # The wallet first: a reversal of another top-up that is putting the hold back waits here, and is then seen below.
    Wallet.objects.select_for_update().filter(user_id=topup.user_id).first()
    if not TopUp.objects.filter(user_id=topup.user_id, reversal_owed__gt=0).exists():
        wallet_release(user=topup.user)
