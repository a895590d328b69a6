"""Every change of a top-up's state, and the ledger entries it makes: credited once, whatever arrives twice.

Only verified reports reach here (a gateway's checked notification, or its
state fetched by the shop's server), or staff. A top-up moves to paid by a
compare-and-set on its state, in the transaction that writes its ledger
entries, and the ledger allows one credit, one fee and one bonus per top-up.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from shop.payments.gateway import gateway_for
from shop.payments.interface import GatewayError, Report, ReportState, Urls
from shop.payments.models import PaymentMethod, TopUp, TopUpEvent, TopUpState
from shop.payments.quotes import AmountRefused, cents, topup_quote
from shop.wallet.models import LedgerEntry
from shop.wallet.services import CONTROL_CHARS, InsufficientFunds, wallet_credit, wallet_debit, wallet_hold, wallet_release

logger = logging.getLogger(__name__)

Kind = TopUpEvent.Kind
ActorKind = TopUpEvent.Actor


@dataclass(frozen=True)
class Actor:
    kind: str
    user_id: int | None = None

    @classmethod
    def staff(cls, user: AbstractBaseUser) -> Actor:
        return cls(ActorKind.STAFF, user.pk)

    @classmethod
    def customer(cls, user: AbstractBaseUser) -> Actor:
        return cls(ActorKind.CUSTOMER, user.pk)


GATEWAY = Actor(ActorKind.GATEWAY)
CHECK = Actor(ActorKind.CHECK)
SYSTEM = Actor(ActorKind.SYSTEM)


class Outcome(enum.StrEnum):
    """What a report did; every outcome but UNKNOWN is recorded in the top-up's history."""

    CREDITED = "credited"
    CLOSED = "closed"  # failed or expired
    REVIEW = "review"  # put up for staff: nothing credited
    REVERSED = "reversed"
    UNCHANGED = "unchanged"  # a duplicate, a late or a still-pending report
    UNKNOWN = "unknown"  # no top-up of this method matches it


class TopUpRefused(Exception):
    """A top-up the customer cannot start; the message is for them, and nothing was written."""


def event_record(topup: TopUp, kind: str, actor: Actor, **detail: Any) -> TopUpEvent:
    return TopUpEvent.objects.create(
        topup=topup,
        kind=kind,
        actor=actor.kind,
        actor_user_id=actor.user_id,
        state=topup.state,
        detail={key: str(value) if isinstance(value, Decimal) else value for key, value in detail.items()},
    )


def topup_create(
    *, user: AbstractBaseUser, method: PaymentMethod, amount: Decimal | str, reference: str = "", urls: Callable[[TopUp], Urls]
) -> TopUp:
    """Start a top-up: the row first (committed), then the gateway's checkout. Raises ``TopUpRefused`` or ``GatewayError``.

    A manual transfer needs the customer's payment reference and waits for staff
    (state review); every other method gets the gateway's id and payment page.
    """
    if not method.is_enabled:
        raise TopUpRefused("This payment method is not available.")
    if method.currency != settings.SHOP_CURRENCY:
        raise TopUpRefused("This payment method is not available.")  # misconfigured: never take another currency
    try:
        quote = topup_quote(method=method, amount=amount)
    except AmountRefused as exc:
        raise TopUpRefused(str(exc)) from None
    reference = reference.strip()
    manual = method.kind == PaymentMethod.Kind.MANUAL
    if manual and not reference:
        raise TopUpRefused("Enter the reference of your transfer, so staff can find it.")
    if len(reference) > 120 or CONTROL_CHARS.search(reference):
        raise TopUpRefused("A reference is plain text of at most 120 characters.")
    with transaction.atomic():
        topup = TopUp.objects.create(
            user=user,
            method=method,
            amount=quote.amount,
            fee=quote.fee,
            bonus=quote.bonus,
            currency=quote.currency,
            reference=reference if manual else "",
            state=TopUpState.REVIEW if manual else TopUpState.PENDING,
            attention_reason=f"Manual transfer: check that {quote.amount} {quote.currency} arrived with reference {reference!r}."
            if manual
            else "",
        )
        event_record(topup, Kind.CREATED, Actor.customer(user), amount=quote.amount, fee=quote.fee, bonus=quote.bonus)
    if manual:
        return topup
    try:
        checkout = gateway_for(method).start(method=method, topup=topup, urls=urls(topup))
    except GatewayError as exc:
        with transaction.atomic():
            TopUp.objects.filter(pk=topup.pk, state=TopUpState.PENDING).update(state=TopUpState.FAILED, updated_at=timezone.now())
            topup.refresh_from_db()
            event_record(topup, Kind.FAILED, SYSTEM, error=str(exc))
        raise
    TopUp.objects.filter(pk=topup.pk).update(gateway_id=checkout.gateway_id, pay_url=checkout.pay_url, updated_at=timezone.now())
    topup.gateway_id, topup.pay_url = checkout.gateway_id, checkout.pay_url
    return topup


def topup_find(*, method: PaymentMethod, report: Report) -> TopUp | None:
    """The top-up of ``method`` a report is about: by the gateway's id, its second id, or the public id the shop sent."""
    topups = TopUp.objects.filter(method=method)
    if report.gateway_id and (found := topups.filter(gateway_id=report.gateway_id).first()):
        return found
    if report.gateway_payment and (found := topups.filter(gateway_payment=report.gateway_payment).first()):
        return found
    try:
        public_id = uuid.UUID(report.reference)
    except (ValueError, AttributeError, TypeError):
        return None
    return topups.filter(public_id=public_id).first()


def topup_report_apply(*, method: PaymentMethod, report: Report, actor: Actor = GATEWAY) -> Outcome:
    """Apply one verified report of ``method``'s gateway to its top-up, once. Safe to call any number of times."""
    topup = topup_find(method=method, report=report)
    if topup is None:
        logger.info("payment report for no known top-up: method=%s gateway_id=%s state=%s", method.code, report.gateway_id, report.state)
        return Outcome.UNKNOWN
    kind = Kind.NOTIFIED if actor.kind == ActorKind.GATEWAY else Kind.CHECKED
    # The gateway's own facts under one key: they can never clash with (or override) the history's own fields.
    facts = {"report": report.state.value, "event_id": report.event_id, "note": report.note, "gateway": dict(report.detail)}
    if report.state == ReportState.PAID:
        mismatch = _mismatch(method, topup, report)
        if mismatch:
            return _review(topup, actor, mismatch, facts)
        return _credit(topup, actor, facts, gateway_payment=report.gateway_payment)
    if report.state == ReportState.MISMATCH:
        return _review(topup, actor, report.note or "The gateway reports a payment that does not match.", facts)
    if report.state in (ReportState.FAILED, ReportState.EXPIRED):
        return _close(topup, actor, TopUpState.FAILED if report.state == ReportState.FAILED else TopUpState.EXPIRED, facts)
    if report.state == ReportState.REVERSED:
        return _reverse(topup, actor, report.reversed_total or Decimal("0"), facts)
    if actor.kind == ActorKind.GATEWAY:  # a pending notification is kept; a pending status poll is not worth a row
        event_record(topup, kind, actor, **facts)
    return Outcome.UNCHANGED


def _mismatch(method: PaymentMethod, topup: TopUp, report: Report) -> str:
    """Why a paid report does not match the top-up the shop created; empty when it does."""
    if report.gateway_id and topup.gateway_id and report.gateway_id != topup.gateway_id:
        return f"The gateway's payment id {report.gateway_id!r} is not this top-up's ({topup.gateway_id!r})."
    if report.amount is None or cents(report.amount) != cents(topup.amount):
        return f"Paid {report.amount} {report.currency}, but the top-up asked for {cents(topup.amount)} {topup.currency}."
    if report.currency.upper() != topup.currency.upper():
        return f"Paid in {report.currency or 'no currency'}, but the top-up asked for {topup.currency}."
    if report.merchant is not None and report.merchant != method.merchant_id:
        return "The payment was made to another merchant account."
    return ""


def _credit(topup: TopUp, actor: Actor, facts: dict[str, Any], *, gateway_payment: str = "") -> Outcome:
    with transaction.atomic():
        changes: dict[str, Any] = {
            "state": TopUpState.PAID,
            "paid_at": timezone.now(),
            "attention_reason": "",
            "updated_at": timezone.now(),
        }
        if gateway_payment and not topup.gateway_payment:
            changes["gateway_payment"] = gateway_payment
        creditable = TopUpState.REVIEW if actor.kind == ActorKind.STAFF else None
        states = (*TopUpState.CREDITABLE, creditable) if creditable else TopUpState.CREDITABLE
        if not TopUp.objects.filter(pk=topup.pk, state__in=states).update(**changes):
            topup.refresh_from_db()
            event_record(topup, Kind.IGNORED, actor, why=f"already {topup.state}", **facts)
            return Outcome.UNCHANGED
        topup.refresh_from_db()
        user = topup.user
        label = f"Top-up #{topup.pk} via {topup.method.name}"
        wallet_credit(user=user, amount=topup.amount, kind=LedgerEntry.Kind.TOPUP, reason=label, topup=topup)
        if topup.fee:
            wallet_debit(user=user, amount=topup.fee, kind=LedgerEntry.Kind.TOPUP_FEE, reason=f"Fee for top-up #{topup.pk}", topup=topup)
        if topup.bonus:
            wallet_credit(
                user=user, amount=topup.bonus, kind=LedgerEntry.Kind.TOPUP_BONUS, reason=f"Bonus for top-up #{topup.pk}", topup=topup
            )
        event_record(topup, Kind.PAID, actor, credited=topup.credited, **facts)
    logger.info("top-up %s credited: %s %s", topup.pk, topup.credited, topup.currency)
    return Outcome.CREDITED


def _review(topup: TopUp, actor: Actor, reason: str, facts: dict[str, Any]) -> Outcome:
    with transaction.atomic():
        if not TopUp.objects.filter(pk=topup.pk, state__in=TopUpState.CREDITABLE).update(
            state=TopUpState.REVIEW, attention_reason=reason[:500], updated_at=timezone.now()
        ):
            topup.refresh_from_db()
            event_record(topup, Kind.IGNORED, actor, why=f"already {topup.state}", mismatch=reason, **facts)
            return Outcome.UNCHANGED
        topup.refresh_from_db()
        event_record(topup, Kind.REVIEW, actor, reason=reason, **facts)
    logger.warning("top-up %s needs review: %s", topup.pk, reason)
    return Outcome.REVIEW


def _close(topup: TopUp, actor: Actor, state: str, facts: dict[str, Any]) -> Outcome:
    with transaction.atomic():
        if not TopUp.objects.filter(pk=topup.pk, state=TopUpState.PENDING).update(state=state, updated_at=timezone.now()):
            topup.refresh_from_db()  # a late "failed" after "paid" (or a repeat): recorded, nothing changes
            event_record(topup, Kind.IGNORED, actor, why=f"already {topup.state}", **facts)
            return Outcome.UNCHANGED
        topup.refresh_from_db()
        event_record(topup, Kind.FAILED if state == TopUpState.FAILED else Kind.EXPIRED, actor, **facts)
    return Outcome.CLOSED


def _reverse(topup: TopUp, actor: Actor, reversed_total: Decimal, facts: dict[str, Any]) -> Outcome:
    """Take back the share of a paid top-up that the gateway returned to the payer (refund) or a dispute holds.

    ``reversed_total`` is the gateway's running total for this payment, so a
    repeated or partial report moves only the difference. The balance gives
    back what the top-up gave (its amount less fee plus bonus) in the same share;
    if the balance cannot cover it, nothing is taken, the balance goes on hold
    (no new orders) and staff see the top-up.
    """
    with transaction.atomic():
        locked = TopUp.objects.select_for_update().get(pk=topup.pk)
        if locked.state != TopUpState.PAID:
            event_record(locked, Kind.IGNORED, actor, why=f"a reversal of a top-up that is {locked.state}", **facts)
            return Outcome.UNCHANGED
        share = min(max(reversed_total, Decimal("0")), locked.amount) / locked.amount
        target = cents(locked.credited * share)
        delta = target - locked.reversed_amount - locked.reversal_owed
        if delta <= 0:
            event_record(locked, Kind.IGNORED, actor, why="reversal already applied", reversed_total=reversed_total, **facts)
            return Outcome.UNCHANGED
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
        event_record(locked, Kind.REVERSED, actor, amount=delta, covered=covered, reversed_total=reversed_total, **facts)
    logger.warning("top-up %s reversed by %s (covered: %s)", topup.pk, delta, covered)
    return Outcome.REVERSED


def topup_staff_credit(*, topup: TopUp, staff: AbstractBaseUser) -> Outcome:
    """Staff confirm a top-up under review (a manual transfer, a mismatch they checked): credit it as it was created."""
    return _credit(topup, Actor.staff(staff), {"by": "staff"})


def topup_staff_reject(*, topup: TopUp, staff: AbstractBaseUser, reason: str) -> Outcome:
    """Staff refuse a top-up under review or still pending, with a reason the customer sees. Credits nothing."""
    reason = reason.strip()
    if not reason or len(reason) > 500 or CONTROL_CHARS.search(reason):
        raise TopUpRefused("A rejection needs a reason of 1 to 500 characters of plain text.")
    with transaction.atomic():
        if not TopUp.objects.filter(pk=topup.pk, state__in=TopUpState.OPEN).update(
            state=TopUpState.REJECTED, attention_reason=reason, updated_at=timezone.now()
        ):
            topup.refresh_from_db()
            raise TopUpRefused(
                f"Top-up #{topup.pk} is {topup.get_state_display().lower()}: only a pending one or one under review can be rejected."
            )
        topup.refresh_from_db()
        event_record(topup, Kind.REJECTED, Actor.staff(staff), reason=reason)
    return Outcome.CLOSED


def topup_expire(*, topup: TopUp) -> Outcome:
    """Close a top-up still pending past ``TOPUP_LIFETIME`` as expired (from pending only). A later verified payment still credits it."""
    return _close(topup, SYSTEM, TopUpState.EXPIRED, {"why": f"no payment within {settings.TOPUP_LIFETIME} s"})


def topup_check(*, topup: TopUp) -> Outcome:
    """Fetch the top-up's state from its gateway (server to server) and apply it. Raises ``GatewayError`` when unreachable."""
    TopUp.objects.filter(pk=topup.pk).update(checked_at=timezone.now())
    report = gateway_for(topup.method).fetch(method=topup.method, topup=topup)
    if report is None:
        return Outcome.UNCHANGED
    return topup_report_apply(method=topup.method, report=report, actor=CHECK)


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
        event_record(locked, Kind.REVERSED, Actor.staff(staff), amount=owed, covered=True, collected="owed")
        _release_when_clear(locked)
    return Outcome.REVERSED


def topup_owed_write_off(*, topup: TopUp, staff: AbstractBaseUser, reason: str) -> Outcome:
    """Staff give up what a reversal left owed (settled outside the shop, or a loss), with a reason; nothing is debited.

    Lifts the balance's hold when no other top-up of the customer still owes.
    """
    reason = reason.strip()
    if not reason or len(reason) > 500 or CONTROL_CHARS.search(reason):
        raise TopUpRefused("A write-off needs a reason of 1 to 500 characters of plain text.")
    with transaction.atomic():
        locked = TopUp.objects.select_for_update().get(pk=topup.pk)
        owed = locked.reversal_owed
        if owed <= 0:
            raise TopUpRefused(f"Top-up #{locked.pk} owes nothing.")
        locked.reversal_owed = Decimal("0")
        locked.attention_reason = ""
        locked.save(update_fields=["reversal_owed", "attention_reason", "updated_at"])
        event_record(locked, Kind.WRITTEN_OFF, Actor.staff(staff), amount=owed, reason=reason)
        _release_when_clear(locked)
    return Outcome.CLOSED


def _release_when_clear(topup: TopUp) -> None:
    if not TopUp.objects.filter(user_id=topup.user_id, reversal_owed__gt=0).exists():
        wallet_release(user=topup.user)
