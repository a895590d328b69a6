"""Storing what the provider reports of active orders: figures, finished statuses and their refunds, in bulk.

Every write is a compare-and-set on the active statuses (``shop.core.bulk``):
of two pollers storing the same reading only one changes a row, and only the
rows this call changed get a history event and, when finished, a refund, in the
same transaction. A reading that changes nothing (same status, word and
figures) adds no event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from shop.core.bulk import Following, update_from_values
from shop.notifications.kinds import ORDER_REFUNDED
from shop.notifications.queue import notify_later
from shop.orders.averages import service_averages_refresh
from shop.orders.flow import TransitionError, next_check_at, refund_amount, subscription_refund
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
    quantity: int = 0
    rate: Decimal = Decimal("0")
    posts_done: int | None = None  # set (0 when placed) on Subscriptions orders only: it tells them apart

    @property
    def subscription(self) -> bool:
        return self.posts_done is not None


#: The columns a ``PolledOrder`` is read from, in its fields' order.
POLLED_FIELDS = (
    "pk",
    "user_id",
    "status",
    "charge",
    "total_quantity",
    "created_at",
    "checks",
    "start_count",
    "remains",
    "upstream_status",
    "quantity",
    "rate",
    "posts_done",
)


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
    posts: int | None = None  # a subscription's posts served, as the panel reported them

    @property
    def posts_done(self) -> int | None:
        """What the order's ``posts_done`` becomes: a subscription's count from the panel, never lower (kept when it sends none)."""
        if not self.order.subscription or self.posts is None:
            return self.order.posts_done
        return max(self.order.posts_done or 0, self.posts)

    @property
    def posts_served(self) -> int | None:
        """A subscription's posts served as far as the panel ever said; None if it never reported any (still 0, none now)."""
        if self.posts is None and not self.order.posts_done:
            return None
        return self.posts_done

    @property
    def changes_something(self) -> bool:
        before = self.order
        return (self.status, self.raw[:64], self.start_count, self.remains, self.posts_done) != (
            before.status,
            before.upstream_status,
            before.start_count,
            before.remains,
            before.posts_done,
        )


RUNNING_FIELDS = [
    "status",
    "upstream_status",
    "start_count",
    "remains",
    "upstream_charge",
    "posts_done",
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
    readings = [_noted(reading) for reading in readings]
    refunds = {reading.order.pk: refund_due(reading) for reading in readings}
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
            reason=f"Order #{pk}: {_refund_reason(by_pk[pk])}",
            order_id=pk,
        )
        for pk in sorted(finished)
        if refunds[pk] > 0
    ]
    if credits:
        wallet_credit_many(credits=credits)
        notify_later(ORDER_REFUNDED, *(credit.order_id for credit in credits))
    completed = [pk for pk in finished if by_pk[pk].status == S.COMPLETED]
    if completed:
        # The services these orders completed get a fresh average time, two queries for the whole batch.
        service_averages_refresh(service_ids=Order.objects.filter(pk__in=completed).values("service_id"))
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
        **({"posts": reading.posts_done} if reading.order.subscription else {}),
    )


#: The note a subscription keeps when it ends Completed or Expired without the panel ever reporting its posts.
NO_POSTS_NOTE = (
    "Provider: no posts served were ever reported for this subscription, so its unused reserve was not refunded; "
    "staff check with the provider and credit the customer by hand if due."
)


def _noted(reading: Reading) -> Reading:
    """A finished subscription's reading, with ``NO_POSTS_NOTE`` added where its refund cannot be worked out."""
    if not reading.order.subscription or reading.posts_served is not None or reading.status == S.CANCELED:
        return reading
    return replace(reading, note=f"{reading.note} {NO_POSTS_NOTE}".strip())


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
        "posts_done": reading.posts_done,
        "last_checked_at": now,
        "checks": reading.order.checks + 1,
        "error": reading.note[:500],
        "updated_at": now,
    }


def refund_due(reading: Reading) -> Decimal:
    """What a reading of a finished order gives back: nothing, the undelivered share, all of it, or a subscription's unused reserve."""
    order = reading.order
    if order.subscription:
        # Any end of a subscription gives back the part of its reserve the served posts did not use (``subscription_refund``).
        return subscription_refund(
            status=reading.status, charge=order.charge, rate=order.rate, per_post=order.quantity, posts_done=reading.posts_served
        )
    if reading.status == S.CANCELED:
        return reading.order.charge
    if reading.status == S.PARTIAL:
        return refund_amount(charge=reading.order.charge, total_quantity=reading.order.total_quantity, remains=reading.remains)
    return Decimal("0")


def _refund_reason(reading: Reading) -> str:
    if reading.order.subscription:
        served = "no posts reported" if reading.posts_served is None else f"{reading.posts_served} posts served"
        return f"subscription {S(reading.status).label.lower()}: the reserve not used ({served})"
    return "canceled by the provider" if reading.status == S.CANCELED else "partially delivered"
