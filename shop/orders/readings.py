"""Storing what the provider reports of active orders: figures, finished statuses and their refunds, in bulk.

Every write is a compare-and-set on the active statuses (``shop.core.bulk``):
of two pollers storing the same reading only one changes a row, and only the
rows this call changed get a history event and, when finished, a refund, in the
same transaction. A reading that changes nothing (same status, word and
figures) adds no event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from shop.core.bulk import Following, update_from_values
from shop.orders.flow import TransitionError, next_check_at, refund_amount
from shop.orders.history import EVENT_FIELDS, Kind, event_row
from shop.orders.models import Order, OrderEvent, OrderStatus
from shop.wallet.models import LedgerEntry
from shop.wallet.services import Credit, wallet_credit_many

S = OrderStatus


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
    start_count: int | None = None
    remains: int | None = None
    upstream_status: str = ""


#: The columns a ``PolledOrder`` is read from, in its fields' order.
POLLED_FIELDS = ("pk", "user_id", "status", "charge", "total_quantity", "created_at", "checks", "start_count", "remains", "upstream_status")


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

    @property
    def changes_something(self) -> bool:
        before = self.order
        return (self.status, self.raw[:64], self.start_count, self.remains) != (
            before.status,
            before.upstream_status,
            before.start_count,
            before.remains,
        )


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
    "updated_at",
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
            "checks__was": reading.order.checks,
        }
        for reading in readings
    ]
    # Guarded on the count of checks read: of two pollers storing the same reading, the second changes nothing.
    events = Following(
        OrderEvent, [_status_event(reading, now) for reading in readings if reading.changes_something], EVENT_FIELDS, "order_id"
    )
    return len(update_from_values(Order, rows, fields=RUNNING_FIELDS, status_in=S.ACTIVE, unchanged=["checks"], following=events))


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
    events = []
    for reading in readings:
        events.append(_status_event(reading, now))
        if refunds[reading.order.pk] > 0:
            refunded = event_row(
                order_id=reading.order.pk, kind=Kind.REFUNDED, status=reading.status, now=now, amount=refunds[reading.order.pk]
            )
            events.append(refunded)
    # The events of the rows this call finished go in with the update itself.
    following = Following(OrderEvent, events, EVENT_FIELDS, "order_id")
    finished = update_from_values(Order, rows, fields=FINISHED_FIELDS, status_in=S.ACTIVE, following=following)
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


@transaction.atomic
def orders_postpone(*, failures: list[tuple[PolledOrder, str]], now: datetime) -> int:
    """Orders the panel gave no usable answer for: keep them as they are, note why, ask again later."""
    rows = [
        {
            "pk": order.pk,
            "next_check_at": next_check_at(created_at=order.created_at, now=now),
            "last_checked_at": now,
            "error": error[:500],
            "updated_at": now,
        }
        for order, error in failures
    ]
    return len(update_from_values(Order, rows, fields=["next_check_at", "last_checked_at", "error", "updated_at"], status_in=S.ACTIVE))


def _status_event(reading: Reading, now: datetime) -> dict[str, object]:
    return event_row(
        order_id=reading.order.pk,
        kind=Kind.STATUS,
        status=reading.status,
        now=now,
        upstream_status=reading.raw[:64],
        start_count=reading.start_count,
        remains=reading.remains,
        upstream_charge=reading.upstream_charge,
        note=reading.note,
    )


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
        "updated_at": now,
    }


def _refund_due(reading: Reading) -> Decimal:
    if reading.status == S.CANCELED:
        return reading.order.charge
    if reading.status == S.PARTIAL:
        return refund_amount(charge=reading.order.charge, total_quantity=reading.order.total_quantity, remains=reading.remains)
    return Decimal("0")
