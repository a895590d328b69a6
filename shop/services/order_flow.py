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
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from panelapi.types import UpstreamStatus
from shop.models import ACTIVE_STATUSES, LedgerEntry, Order, OrderStatus
from shop.services.wallet import money, wallet_credit

S = OrderStatus
UPSTREAM_TO_ORDER = {
    UpstreamStatus.PENDING: S.PENDING,
    UpstreamStatus.IN_PROGRESS: S.IN_PROGRESS,
    UpstreamStatus.PROCESSING: S.PROCESSING,
    UpstreamStatus.COMPLETED: S.COMPLETED,
    UpstreamStatus.PARTIAL: S.PARTIAL,
    UpstreamStatus.CANCELED: S.CANCELED,
}
PLACED = {S.PENDING, S.IN_PROGRESS, S.PROCESSING, S.COMPLETED, S.PARTIAL, S.CANCELED}
ALLOWED: dict[str, set[str]] = {
    S.AWAITING: {S.SUBMITTING},
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
    _refund(order_id, whole=True, reason="refused by the provider")
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
    _refund(order.pk, whole=True, reason=f"not placed upstream (checked by {admin})")


# Status updates from the panel --------------------------------------------------------


@transaction.atomic
def order_finish(
    *, order_id: int, status: str, remains: int | None, start_count: int | None, upstream_charge: Decimal | None, raw: str
) -> bool:
    """An active order reached Completed, Partial or Canceled: record it and refund what was not delivered, once."""
    if not transition(
        order_id,
        source=ACTIVE_STATUSES,
        target=status,
        upstream_status=raw[:64],
        remains=remains,
        start_count=start_count,
        upstream_charge=upstream_charge,
        finished_at=timezone.now(),
        last_checked_at=timezone.now(),
        next_check_at=None,
    ):
        return False
    if status == S.CANCELED:
        _refund(order_id, whole=True, reason="canceled by the provider")
    elif status == S.PARTIAL:
        _refund(order_id, remains=remains, reason="partially delivered")
    return True


def refund_amount(*, charge: Decimal, total_quantity: int, remains: int | None) -> Decimal:
    """A Partial order's refund: charge x remains / quantity, remains clamped to 0..quantity."""
    undelivered = min(max(remains or 0, 0), total_quantity)
    return min(money(charge * undelivered / total_quantity), charge)


def _refund(order_id: int, *, reason: str, whole: bool = False, remains: int | None = None) -> Decimal:
    order = Order.objects.select_related("user").get(pk=order_id)
    amount = order.charge if whole else refund_amount(charge=order.charge, total_quantity=order.total_quantity, remains=remains)
    if amount <= 0:
        return Decimal("0")
    # The unique constraint on the ledger makes a second refund of one order fail loudly.
    wallet_credit(user=order.user, amount=amount, kind=LedgerEntry.Kind.REFUND, order=order, reason=f"Order #{order.pk}: {reason}")
    Order.objects.filter(pk=order_id, refunded=0).update(refunded=amount)
    return amount
