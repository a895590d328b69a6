"""Every transition of an order's status, in one module.

    awaiting -> submitting -> pending / in progress / processing -> completed | partial | canceled
                           -> failed (the panel refused: full refund)
                           -> needs attention (outcome unknown: an admin decides)
                           -> awaiting (the request never reached the panel: retried)
    needs attention -> pending (admin recorded the upstream id) | failed (admin: not placed, refund)

Each transition is a compare-and-set UPDATE on the status, so two workers can
never both make it; refunds happen in the same transaction as the status
change, and the ledger's unique constraint allows one refund per order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from panelapi.types import UpstreamStatus
from shop.core.bulk import update_from_values
from shop.orders.models import Order, OrderStatus
from shop.wallet.models import LedgerEntry
from shop.wallet.services import Credit, money, wallet_credit, wallet_credit_many

S = OrderStatus
UPSTREAM_TO_ORDER = {
    UpstreamStatus.PENDING: S.PENDING,
    UpstreamStatus.IN_PROGRESS: S.IN_PROGRESS,
    UpstreamStatus.PROCESSING: S.PROCESSING,
    UpstreamStatus.COMPLETED: S.COMPLETED,
    UpstreamStatus.PARTIAL: S.PARTIAL,
    UpstreamStatus.CANCELED: S.CANCELED,
}
PLACED = set(S.PLACED)
ALLOWED: dict[str, set[str]] = {
    S.AWAITING: {S.SUBMITTING, S.CANCELED},
    S.SUBMITTING: {S.AWAITING, S.FAILED, S.NEEDS_ATTENTION} | PLACED,
    S.PENDING: PLACED,
    S.IN_PROGRESS: PLACED,
    S.PROCESSING: PLACED,
    S.NEEDS_ATTENTION: {S.PENDING, S.FAILED},
    S.COMPLETED: set(),
    S.PARTIAL: set(),
    S.CANCELED: set(),
    S.FAILED: set(),
}


class TransitionError(Exception):
    """A transition the state machine does not allow (a programming error, or an admin racing a worker)."""


def transition(order_id: int, *, source: Iterable[str], target: str, **changes: object) -> bool:
    """Move the order from one of ``source`` to ``target`` if it is still there; True if this call did it."""
    source = set(source)
    for status in source:
        if target not in ALLOWED[status]:
            raise TransitionError(f"{status} -> {target} is not a transition of an order")
    return bool(Order.objects.filter(pk=order_id, status__in=source).update(status=target, **changes))


def next_check_at(*, created_at: datetime, now: datetime) -> datetime:
    """When to ask about an active order again: often while young, rarely once it has run for long."""
    base = settings.ORDER_POLL_INTERVAL
    age = now - created_at
    if age < timedelta(hours=1):
        delay = base
    elif age < timedelta(hours=6):
        delay = base * 5
    elif age < timedelta(days=1):
        delay = base * 15
    else:
        delay = base * 60
    return now + timedelta(seconds=delay)


# Submission ---------------------------------------------------------------------


def order_claim(*, order_id: int) -> bool:
    """Take the order for submission. Runs outside any transaction so the claim is committed before the HTTP call."""
    from django.db.models import F

    return transition(
        order_id, source=[S.AWAITING], target=S.SUBMITTING, submitting_since=timezone.now(), submit_attempts=F("submit_attempts") + 1
    )


def order_release(*, order_id: int, error: str) -> bool:
    """The request provably never reached the panel: back to awaiting, to be tried again."""
    return transition(order_id, source=[S.SUBMITTING], target=S.AWAITING, submitting_since=None, error=error[:500])


def order_placed(*, order_id: int, upstream_order_id: str) -> bool:
    """The panel took the order. Also accepted after a sweep moved a slow submission to needs attention."""
    now = timezone.now()
    order = Order.objects.only("created_at").get(pk=order_id)
    return transition(
        order_id,
        source=[S.SUBMITTING, S.NEEDS_ATTENTION],
        target=S.PENDING,
        upstream_order_id=upstream_order_id,
        submitting_since=None,
        error="",
        next_check_at=next_check_at(created_at=order.created_at, now=now),
    )


@transaction.atomic
def order_refused(*, order_id: int, message: str) -> bool:
    """The panel refused the order: it failed, and the whole charge goes back."""
    if not transition(
        order_id, source=[S.SUBMITTING], target=S.FAILED, submitting_since=None, error=message[:500], finished_at=timezone.now()
    ):
        return False
    _refund(order_id, reason="refused by the provider")
    return True


@transaction.atomic
def order_cancel_unsent(*, order_id: int) -> bool:
    """The customer cancels an order the provider never received: canceled here, refunded in full."""
    if not transition(order_id, source=[S.AWAITING], target=S.CANCELED, finished_at=timezone.now()):
        return False
    _refund(order_id, reason="canceled before it was sent")
    return True


def order_unknown(*, order_id: int, message: str) -> bool:
    """The outcome is unknown: no resubmission, no refund, until an admin decides."""
    return transition(order_id, source=[S.SUBMITTING], target=S.NEEDS_ATTENTION, submitting_since=None, error=message[:500])


def orders_stale_submissions_flag(*, older_than: timedelta) -> int:
    """Orders stuck in submitting (a worker died mid-call) go to needs attention."""
    cutoff = timezone.now() - older_than
    return Order.objects.filter(status=S.SUBMITTING, submitting_since__lt=cutoff).update(
        status=S.NEEDS_ATTENTION, submitting_since=None, error="The provider's answer was lost; an admin will check the order."
    )


# Admin resolution of needs attention ----------------------------------------------


def order_resolve_placed(*, order: Order, upstream_order_id: str, admin: AbstractBaseUser) -> None:
    upstream_order_id = upstream_order_id.strip()
    if not upstream_order_id or len(upstream_order_id) > 64:
        raise TransitionError("Give the provider's order id (1 to 64 characters).")
    if Order.objects.filter(provider_id=order.provider_id, upstream_order_id=upstream_order_id).exclude(pk=order.pk).exists():
        raise TransitionError(f"Another order already has the provider's id {upstream_order_id}.")
    if not transition(
        order.pk,
        source=[S.NEEDS_ATTENTION],
        target=S.PENDING,
        upstream_order_id=upstream_order_id,
        error="",
        next_check_at=timezone.now(),
    ):
        raise TransitionError(f"Order #{order.pk} no longer needs attention.")


@transaction.atomic
def order_resolve_not_placed(*, order: Order, admin: AbstractBaseUser) -> None:
    if not transition(
        order.pk, source=[S.NEEDS_ATTENTION], target=S.FAILED, error="Not placed with the provider; refunded.", finished_at=timezone.now()
    ):
        raise TransitionError(f"Order #{order.pk} no longer needs attention.")
    _refund(order.pk, reason=f"not placed upstream (checked by {admin})")


# Status updates from the panel --------------------------------------------------------


@dataclass(frozen=True)
class PolledOrder:
    """What the shop knows of an active order when it asks the panel about it."""

    pk: int
    user_id: int
    status: str
    charge: Decimal
    total_quantity: int
    created_at: datetime
    checks: int


@dataclass(frozen=True)
class Reading:
    """One order's status as the panel reported it, mapped to the shop's status."""

    order: PolledOrder
    status: str
    raw: str
    start_count: int | None
    remains: int | None
    upstream_charge: Decimal | None
    note: str = ""  # stored as the order's error: what was odd about the reading


RUNNING_FIELDS = [
    "status",
    "upstream_status",
    "start_count",
    "remains",
    "upstream_charge",
    "next_check_at",
    "last_checked_at",
    "checks",
    "error",
]
FINISHED_FIELDS = [*RUNNING_FIELDS, "finished_at", "refunded"]


@transaction.atomic
def orders_store_running(*, readings: list[Reading], now: datetime) -> int:
    """Orders still running: store the panel's figures and schedule the next check. Returns how many changed."""
    _check_targets(readings, final=False)
    rows = [
        {
            **_figures(reading, now),
            "next_check_at": next_check_at(created_at=reading.order.created_at, now=now),
        }
        for reading in readings
    ]
    return len(update_from_values(Order, rows, fields=RUNNING_FIELDS, status_in=S.ACTIVE))


@transaction.atomic
def orders_finish(*, readings: list[Reading], now: datetime) -> list[int]:
    """Orders that reached Completed, Partial or Canceled: record them and refund the undelivered share, once.

    The status change is a compare-and-set: of two pollers reading the same
    final status only one changes the row, and only its winners are refunded,
    in the same transaction. Returns the ids this call finished.
    """
    _check_targets(readings, final=True)
    refunds = {reading.order.pk: _refund_due(reading) for reading in readings}
    rows = [
        {**_figures(reading, now), "next_check_at": None, "finished_at": now, "refunded": refunds[reading.order.pk]} for reading in readings
    ]
    finished = update_from_values(Order, rows, fields=FINISHED_FIELDS, status_in=S.ACTIVE)
    by_pk = {reading.order.pk: reading for reading in readings}
    credits = [
        Credit(
            user_id=by_pk[pk].order.user_id,
            amount=refunds[pk],
            kind=LedgerEntry.Kind.REFUND,
            reason=f"Order #{pk}: {'canceled by the provider' if by_pk[pk].status == S.CANCELED else 'partially delivered'}",
            order_id=pk,
        )
        for pk in sorted(finished)
        if refunds[pk] > 0
    ]
    if credits:
        wallet_credit_many(credits=credits)
    return finished


def order_finish(
    *, order_id: int, status: str, remains: int | None, start_count: int | None, upstream_charge: Decimal | None, raw: str
) -> bool:
    """One order's final status (``orders_finish`` for a single order)."""
    order = Order.objects.values("pk", "user_id", "status", "charge", "total_quantity", "created_at", "checks").get(pk=order_id)
    reading = Reading(PolledOrder(**order), status, raw, start_count, remains, upstream_charge)
    return bool(orders_finish(readings=[reading], now=timezone.now()))


@transaction.atomic
def orders_postpone(*, failures: list[tuple[PolledOrder, str]], now: datetime) -> int:
    """Orders the panel gave no usable answer for: keep them as they are, note why, ask again later."""
    rows = [
        {"pk": order.pk, "next_check_at": next_check_at(created_at=order.created_at, now=now), "last_checked_at": now, "error": error[:500]}
        for order, error in failures
    ]
    return len(update_from_values(Order, rows, fields=["next_check_at", "last_checked_at", "error"], status_in=S.ACTIVE))


def _check_targets(readings: list[Reading], *, final: bool) -> None:
    allowed = set(S.UPSTREAM_FINAL if final else S.ACTIVE)
    wrong = {reading.status for reading in readings} - allowed
    if wrong:
        raise TransitionError(f"active -> {sorted(wrong)} is not a transition of this kind")


def _figures(reading: Reading, now: datetime) -> dict[str, object]:
    return {
        "pk": reading.order.pk,
        "status": reading.status,
        "upstream_status": reading.raw[:64],
        "start_count": reading.start_count,
        "remains": reading.remains,
        "upstream_charge": reading.upstream_charge,
        "last_checked_at": now,
        "checks": reading.order.checks + 1,
        "error": reading.note[:500],
    }


def _refund_due(reading: Reading) -> Decimal:
    if reading.status == S.CANCELED:
        return reading.order.charge
    if reading.status == S.PARTIAL:
        return refund_amount(charge=reading.order.charge, total_quantity=reading.order.total_quantity, remains=reading.remains)
    return Decimal("0")


def refund_amount(*, charge: Decimal, total_quantity: int, remains: int | None) -> Decimal:
    """A Partial order's refund: charge x remains / quantity, remains clamped to 0..quantity."""
    undelivered = min(max(remains or 0, 0), total_quantity)
    return min(money(charge * undelivered / total_quantity), charge)


def _refund(order_id: int, *, reason: str) -> Decimal:
    """Give back the whole charge of an order that was never placed."""
    order = Order.objects.select_related("user").get(pk=order_id)
    # The unique constraint on the ledger makes a second refund of one order fail loudly.
    wallet_credit(user=order.user, amount=order.charge, kind=LedgerEntry.Kind.REFUND, order=order, reason=f"Order #{order.pk}: {reason}")
    Order.objects.filter(pk=order_id, refunded=0).update(refunded=order.charge)
    return order.charge
