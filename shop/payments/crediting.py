"""Every change of a top-up's state, and the ledger entries it makes: credited once, whatever arrives twice.

Only verified reports reach here (a gateway's checked notification, or its
state fetched by the shop's server), or staff. A top-up moves to paid by a
compare-and-set on its state, in the transaction that writes its ledger
entries, and the ledger allows one credit, one fee and one bonus per top-up.
Refunds and disputes: ``shop.payments.reversals``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.affiliates.services import referral_earn
from shop.notifications.kinds import STAFF_TOPUP_REVIEW, TOPUP_CREDITED
from shop.notifications.queue import notify_later
from shop.payments.gateway import gateway_for
from shop.payments.history import CHECK, GATEWAY, SYSTEM, Actor, ActorKind, Kind, Outcome, TopUpRefused, event_record, staff_reason
from shop.payments.interface import REFUND, GatewayError, Report, ReportState, Urls
from shop.payments.models import PaymentMethod, TopUp, TopUpState
from shop.payments.quotes import AmountRefused, topup_quote
from shop.payments.reversals import reversal_record, reversal_settle, topup_owed_collect, topup_owed_write_off
from shop.wallet.models import LedgerEntry
from shop.wallet.services import CONTROL_CHARS, wallet_credit, wallet_debit

__all__ = [  # the history's names too, so callers import every write from here
    "CHECK",
    "GATEWAY",
    "SYSTEM",
    "Actor",
    "Outcome",
    "TopUpRefused",
    "topup_check",
    "topup_create",
    "topup_expire",
    "topup_find",
    "topup_owed_collect",
    "topup_owed_write_off",
    "topup_report_apply",
    "topup_staff_credit",
    "topup_staff_reject",
]

logger = logging.getLogger(__name__)

UNVERIFIED = gettext_lazy(
    "Confirm your email address before adding funds: follow the link we mailed you (Account → Email addresses sends a new one)."
)


def topup_create(
    *, user: AbstractBaseUser, method: PaymentMethod, amount: Decimal | str, reference: str = "", urls: Callable[[TopUp], Urls]
) -> TopUp:
    """Start a top-up: the row first (committed), then the gateway's checkout. Raises ``TopUpRefused`` or ``GatewayError``.

    A manual transfer needs the customer's payment reference and waits for staff
    (state review); every other method gets the gateway's id and payment page.
    A customer may have at most ``TOPUP_OPEN_LIMIT`` top-ups waiting at once.
    """
    if not method.is_enabled or method.currency != settings.SHOP_CURRENCY:  # another currency: misconfigured, never taken
        raise TopUpRefused(_("This payment method is not available."))
    if not EmailAddress.objects.filter(user=user, verified=True).exists():  # allauth's record of a confirmed address
        raise TopUpRefused(UNVERIFIED)
    try:
        quote = topup_quote(method=method, amount=amount)
    except AmountRefused as exc:
        raise TopUpRefused(str(exc)) from None
    reference = reference.strip()
    manual = method.kind == PaymentMethod.Kind.MANUAL
    if manual and not reference:
        raise TopUpRefused(_("Enter the reference of your transfer, so staff can find it."))
    if len(reference) > 120 or CONTROL_CHARS.search(reference):
        raise TopUpRefused(_("A reference is plain text of at most 120 characters."))
    recent = timezone.now() - timedelta(seconds=settings.TOPUP_LIFETIME)
    if TopUp.objects.filter(user=user, state__in=TopUpState.OPEN, created_at__gte=recent).count() >= settings.TOPUP_OPEN_LIMIT:
        raise TopUpRefused(
            _("You have %(count)s payments waiting already: finish one of them, or wait until they expire.")
            % {"count": settings.TOPUP_OPEN_LIMIT}
        )
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
        event_record(topup, Kind.CREATED, Actor.customer(user), {"amount": quote.amount, "fee": quote.fee, "bonus": quote.bonus})
        if manual:  # staff check that the transfer arrived
            notify_later(STAFF_TOPUP_REVIEW, topup.pk)
    if manual:
        return topup
    try:
        checkout = gateway_for(method).start(method=method, topup=topup, urls=urls(topup))
    except GatewayError as exc:
        with transaction.atomic():
            TopUp.objects.filter(pk=topup.pk, state=TopUpState.PENDING).update(state=TopUpState.FAILED, updated_at=timezone.now())
            topup.refresh_from_db()
            event_record(topup, Kind.FAILED, SYSTEM, {"error": str(exc)})
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
    """Apply one verified report of ``method``'s gateway to its top-up, once. Safe to call any number of times, in any order."""
    topup = topup_find(method=method, report=report)
    if topup is None:
        logger.info("payment report for no known top-up: method=%s gateway_id=%s state=%s", method.code, report.gateway_id, report.state)
        return Outcome.UNKNOWN
    # The gateway's own facts under one key: they can never clash with (or override) the history's own fields.
    facts = {"report": report.state.value, "event_id": report.event_id, "note": report.note, "gateway": dict(report.detail)}
    other = _other_payment(topup, report)
    if other and report.state != ReportState.PAID:  # found by the public id, but about another payment of the gateway
        event_record(topup, Kind.IGNORED, actor, {**facts, "why": other})
        return Outcome.UNCHANGED
    if report.state == ReportState.PAID:
        mismatch = other or _mismatch(method, topup, report)
        if mismatch:
            return _review(topup, actor, mismatch, facts, gateway_payment=report.gateway_payment)
        return _credit(topup, actor, facts, states=TopUpState.CREDITABLE, gateway_payment=report.gateway_payment)
    if report.state == ReportState.MISMATCH:
        reason = report.note or "The gateway reports a payment that does not match."
        return _review(topup, actor, reason, facts, gateway_payment=report.gateway_payment)
    if report.state in (ReportState.FAILED, ReportState.EXPIRED):
        return _close(topup, actor, TopUpState.FAILED if report.state == ReportState.FAILED else TopUpState.EXPIRED, facts)
    if report.state == ReportState.REVERSED:
        return reversal_record(
            topup=topup, kind=report.reversal or REFUND, total=report.reversed_total or Decimal("0"), actor=actor, facts=facts
        )
    if actor.kind == ActorKind.GATEWAY:  # a pending notification is kept; a pending status poll is not worth a row
        event_record(topup, Kind.NOTIFIED, actor, facts)
    return Outcome.UNCHANGED


def _other_payment(topup: TopUp, report: Report) -> str:
    """Why a report found by the top-up's public id is about another payment of the gateway; empty when it is not."""
    if report.gateway_id and topup.gateway_id and report.gateway_id != topup.gateway_id:
        return f"The gateway's payment id {report.gateway_id!r} is not this top-up's ({topup.gateway_id!r})."
    if report.gateway_payment and topup.gateway_payment and report.gateway_payment != topup.gateway_payment:
        return f"The gateway's payment {report.gateway_payment!r} is not this top-up's ({topup.gateway_payment!r})."
    return ""


def _mismatch(method: PaymentMethod, topup: TopUp, report: Report) -> str:
    """Why a paid report does not match the top-up the shop created; empty when it does. Amounts compare exactly."""
    if report.amount is None or report.amount != topup.amount:
        return f"Paid {report.amount} {report.currency}, but the top-up asked for {topup.amount:.2f} {topup.currency}."
    if report.currency.upper() != topup.currency.upper():
        return f"Paid in {report.currency or 'no currency'}, but the top-up asked for {topup.currency}."
    if report.merchant is not None and report.merchant != method.merchant_id:
        return "The payment was made to another merchant account."
    return ""


def _credit(topup: TopUp, actor: Actor, facts: dict[str, Any], *, states: tuple[str, ...], gateway_payment: str = "") -> Outcome:
    """Move the top-up from one of ``states`` to paid and write its entries, then settle any reversal recorded before."""
    with transaction.atomic():
        now = timezone.now()
        changes: dict[str, Any] = {"state": TopUpState.PAID, "paid_at": now, "attention_reason": "", "updated_at": now}
        if gateway_payment and not topup.gateway_payment:
            changes["gateway_payment"] = gateway_payment
        if not TopUp.objects.filter(pk=topup.pk, state__in=states).update(**changes):
            topup.refresh_from_db()
            event_record(topup, Kind.IGNORED, actor, {**facts, "why": f"already {topup.state}"})
            return Outcome.UNCHANGED
        locked = TopUp.objects.select_for_update(of=("self",)).select_related("user", "method").get(pk=topup.pk)
        user = locked.user
        label = f"Top-up #{locked.pk} via {locked.method.name}"
        wallet_credit(user=user, amount=locked.amount, kind=LedgerEntry.Kind.TOPUP, reason=label, topup=locked)
        if locked.fee:
            wallet_debit(user=user, amount=locked.fee, kind=LedgerEntry.Kind.TOPUP_FEE, reason=f"Fee for top-up #{locked.pk}", topup=locked)
        if locked.bonus:
            wallet_credit(
                user=user, amount=locked.bonus, kind=LedgerEntry.Kind.TOPUP_BONUS, reason=f"Bonus for top-up #{locked.pk}", topup=locked
            )
        event_record(locked, Kind.PAID, actor, {**facts, "credited": locked.credited})
        notify_later(TOPUP_CREDITED, locked.pk)
        referral_earn(topup=locked)  # the referrer's share of what was paid, in the same transaction
        if locked.refunded_total or locked.disputed_total:  # a refund or dispute delivered before the payment
            reversal_settle(locked, actor, {"reversal": "recorded before the payment"})
    logger.info("top-up %s credited: %s %s", topup.pk, locked.credited, locked.currency)
    return Outcome.CREDITED


def _review(topup: TopUp, actor: Actor, reason: str, facts: dict[str, Any], *, gateway_payment: str = "") -> Outcome:
    with transaction.atomic():
        changes: dict[str, Any] = {"state": TopUpState.REVIEW, "attention_reason": reason[:500], "updated_at": timezone.now()}
        if gateway_payment and not topup.gateway_payment:  # so a later refund or dispute of it finds the top-up
            changes["gateway_payment"] = gateway_payment
        if not TopUp.objects.filter(pk=topup.pk, state__in=TopUpState.CREDITABLE).update(**changes):
            topup.refresh_from_db()
            event_record(topup, Kind.IGNORED, actor, {**facts, "why": f"already {topup.state}", "mismatch": reason})
            return Outcome.UNCHANGED
        topup.refresh_from_db()
        event_record(topup, Kind.REVIEW, actor, {**facts, "reason": reason})
        notify_later(STAFF_TOPUP_REVIEW, topup.pk)
    logger.warning("top-up %s needs review: %s", topup.pk, reason)
    return Outcome.REVIEW


def _close(topup: TopUp, actor: Actor, state: str, facts: dict[str, Any]) -> Outcome:
    with transaction.atomic():
        if not TopUp.objects.filter(pk=topup.pk, state=TopUpState.PENDING).update(state=state, updated_at=timezone.now()):
            topup.refresh_from_db()  # a late "failed" after "paid" (or a repeat): recorded, nothing changes
            event_record(topup, Kind.IGNORED, actor, {**facts, "why": f"already {topup.state}"})
            return Outcome.UNCHANGED
        topup.refresh_from_db()
        event_record(topup, Kind.FAILED if state == TopUpState.FAILED else Kind.EXPIRED, actor, facts)
    return Outcome.CLOSED


def topup_staff_credit(*, topup: TopUp, staff: AbstractBaseUser) -> Outcome:
    """Staff confirm a top-up under review (a manual transfer, a mismatch they checked), or a manual transfer still pending:
    credit it as it was created. A gateway's payment that is still pending, failed or expired is the gateway's to decide."""
    states = (TopUpState.REVIEW, TopUpState.PENDING) if topup.method.kind == PaymentMethod.Kind.MANUAL else (TopUpState.REVIEW,)
    return _credit(topup, Actor.staff(staff), {"by": "staff"}, states=states)


def topup_staff_reject(*, topup: TopUp, staff: AbstractBaseUser, reason: str) -> Outcome:
    """Staff refuse a top-up under review or still pending, with a reason the customer sees. Credits nothing."""
    reason = staff_reason(reason, action="A rejection")
    with transaction.atomic():
        if not TopUp.objects.filter(pk=topup.pk, state__in=TopUpState.OPEN).update(
            state=TopUpState.REJECTED, attention_reason=reason, updated_at=timezone.now()
        ):
            topup.refresh_from_db()
            raise TopUpRefused(
                f"Top-up #{topup.pk} is {topup.get_state_display().lower()}: only a pending one or one under review can be rejected."
            )
        topup.refresh_from_db()
        event_record(topup, Kind.REJECTED, Actor.staff(staff), {"reason": reason})
    return Outcome.CLOSED


def topup_expire(*, topup: TopUp) -> Outcome:
    """Close a top-up still pending past ``TOPUP_LIFETIME`` as expired (from pending only). A later verified payment still credits it."""
    return _close(topup, SYSTEM, TopUpState.EXPIRED, {"expiry": f"no payment within {settings.TOPUP_LIFETIME} s"})


def topup_check(*, topup: TopUp) -> Outcome:
    """Fetch the top-up's state from its gateway (server to server) and apply it. Raises ``GatewayError`` when unreachable."""
    TopUp.objects.filter(pk=topup.pk).update(checked_at=timezone.now())
    report = gateway_for(topup.method).fetch(method=topup.method, topup=topup)
    if report is None:
        return Outcome.UNCHANGED
    return topup_report_apply(method=topup.method, report=report, actor=CHECK)
