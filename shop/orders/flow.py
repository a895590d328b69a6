"""Every transition of an order's status before the provider reports on it, in one module.

    awaiting -> submitting -> pending / in progress / processing -> completed | partial | canceled
                           -> failed (the panel refused: full refund)
                           -> needs attention (outcome unknown: an admin decides)
                           -> awaiting (the request never reached the panel: retried)
    awaiting -> canceled (the customer canceled it before it was sent: full refund)
    needs attention -> pending (admin recorded the upstream id) | failed (admin: not placed, refund)

    Subscriptions (the provider reports them so; ``subscription_refund`` gives back the unused reserve at any end):
    pending / in progress / processing -> active <-> paused -> completed | canceled | expired (never partial)

A subscription's refund rests on the posts the panel reports served: each
readable figure raises ``posts_done`` and never lowers it. If the panel never
gave one (``posts_done`` still 0 and none in the final reading), a Canceled one
is refunded in full, as panels do for a canceled order; a Completed or Expired
one is refunded nothing automatically (the panel says it delivered, and how
much is unknown) and keeps a note for staff, who settle it by hand.

A submitting or running order may take any status the provider reports
(``PLACED``), as the provider's word decides; an active or paused one only the
statuses of a subscription.

Each transition is a compare-and-set UPDATE on the status, so two workers can
never both make it; refunds and the order's history event happen in the same
transaction as the status change, and the ledger's unique constraint allows one
refund per order. The provider's status readings are ``shop.orders.readings``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from panelapi.types import UpstreamStatus
from shop.notifications.kinds import STAFF_ATTENTION
from shop.notifications.queue import notify_later
from shop.orders.history import SYSTEM, Actor, Kind, event_record
from shop.orders.models import Order, OrderStatus
from shop.wallet.models import LedgerEntry
from shop.wallet.services import money, wallet_credit

S = OrderStatus
#: The provider's word for an ordinary order. "Active" is a drip-feed parent still running; "Paused" and
#: "Expired" are no ordinary order's: unknown there, so the order keeps its status and stays active.
UPSTREAM_TO_ORDER = {
    UpstreamStatus.PENDING: S.PENDING,
    UpstreamStatus.IN_PROGRESS: S.IN_PROGRESS,
    UpstreamStatus.PROCESSING: S.PROCESSING,
    UpstreamStatus.ACTIVE: S.IN_PROGRESS,
    UpstreamStatus.COMPLETED: S.COMPLETED,
    UpstreamStatus.PARTIAL: S.PARTIAL,
    UpstreamStatus.CANCELED: S.CANCELED,
}
#: The provider's word for a Subscriptions order. It has no remains, so it is never Partial: a panel that says
#: so has ended it, and it is refunded like any other end, by the posts served.
SUBSCRIPTION_UPSTREAM_TO_ORDER = {
    **UPSTREAM_TO_ORDER,
    UpstreamStatus.ACTIVE: S.SUB_ACTIVE,
    UpstreamStatus.PAUSED: S.SUB_PAUSED,
    UpstreamStatus.PARTIAL: S.COMPLETED,
    UpstreamStatus.EXPIRED: S.EXPIRED,
}
PLACED = set(S.PLACED)
SUBSCRIPTION_RUNNING = {S.SUB_ACTIVE, S.SUB_PAUSED, S.COMPLETED, S.CANCELED, S.EXPIRED}
ALLOWED: dict[str, set[str]] = {
    S.AWAITING: {S.SUBMITTING, S.CANCELED},
    S.SUBMITTING: {S.AWAITING, S.FAILED, S.NEEDS_ATTENTION} | PLACED,
    S.PENDING: PLACED,
    S.IN_PROGRESS: PLACED,
    S.PROCESSING: PLACED,
    S.SUB_ACTIVE: SUBSCRIPTION_RUNNING,
    S.SUB_PAUSED: SUBSCRIPTION_RUNNING,
    S.NEEDS_ATTENTION: {S.PENDING, S.FAILED},
    S.COMPLETED: set(),
    S.PARTIAL: set(),
    S.CANCELED: set(),
    S.FAILED: set(),
    S.EXPIRED: set(),
}
# Back-off of a submission that did not go through: 15 s, 30 s, ... up to 10 min.
RETRY_FIRST = 15
RETRY_MAX = 600
# Stored in ``Order.error`` (English; marked so that a page that shows it can translate it: ``{% translate order.error %}``).
UNKNOWN_AFTER_SWEEP = gettext_noop("The provider's answer was lost; an admin will check the order.")


class TransitionError(Exception):
    """A transition the state machine does not allow (a programming error, or an admin racing a worker)."""


def transition(order_id: int, *, source: Iterable[str], target: str, **changes: object) -> bool:
    """Move the order from one of ``source`` to ``target`` if it is still there; True if this call did it."""
    source = set(source)
    for status in source:
        if target not in ALLOWED[status]:
            raise TransitionError(f"{status} -> {target} is not a transition of an order")
    changes.setdefault("updated_at", timezone.now())
    return bool(Order.objects.filter(pk=order_id, status__in=source).update(status=target, **changes))


def retry_delay(*, attempts: int) -> timedelta:
    """How long an order waits before its next submission after ``attempts`` tries that did not go through."""
    return timedelta(seconds=min(RETRY_MAX, RETRY_FIRST * 2 ** max(attempts - 1, 0)))


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


@transaction.atomic
def order_claim(*, order_id: int) -> bool:
    """Take the order for submission. Call it outside any transaction: the claim is committed before the HTTP call."""
    claimed = transition(
        order_id, source=[S.AWAITING], target=S.SUBMITTING, submitting_since=timezone.now(), submit_attempts=F("submit_attempts") + 1
    )
    if claimed:
        event_record(order_id=order_id, kind=Kind.CLAIMED, status=S.SUBMITTING)
    return claimed


@transaction.atomic
def order_release(*, order_id: int, error: str, held: bool = False) -> bool:
    """The request provably never reached the panel: back to awaiting, to be tried again after a back-off.

    ``held``: the provider cannot take orders now (its own funds, its configuration), rather than a network failure.
    """
    attempts = Order.objects.filter(pk=order_id).values_list("submit_attempts", flat=True).first() or 1
    released = transition(
        order_id,
        source=[S.SUBMITTING],
        target=S.AWAITING,
        submitting_since=None,
        error=error[:500],
        next_attempt_at=timezone.now() + retry_delay(attempts=attempts),
    )
    if released:
        event_record(order_id=order_id, kind=Kind.HELD if held else Kind.RETRY, status=S.AWAITING, message=error[:500])
    return released


@transaction.atomic
def order_hold(*, order_id: int, error: str) -> bool:
    """An awaiting order whose provider takes no orders now (low balance): not sent, tried again after a back-off.

    Each hold counts as an attempt, so a long hold is retried less and less often
    (up to every ``RETRY_MAX`` seconds); the event is written when the reason changes.
    """
    order = Order.objects.filter(pk=order_id, status=S.AWAITING).values("submit_attempts", "error").first()
    if order is None:
        return False
    attempts = order["submit_attempts"] + 1
    held = Order.objects.filter(pk=order_id, status=S.AWAITING).update(
        submit_attempts=attempts,
        error=error[:500],
        next_attempt_at=timezone.now() + retry_delay(attempts=attempts),
        updated_at=timezone.now(),
    )
    if held and order["error"] != error[:500]:
        event_record(order_id=order_id, kind=Kind.HELD, status=S.AWAITING, message=error[:500])
    return bool(held)


@transaction.atomic
def order_placed(*, order_id: int, upstream_order_id: str) -> bool:
    """The panel took the order. Also accepted after a sweep moved a slow submission to needs attention."""
    now = timezone.now()
    order = Order.objects.only("created_at").get(pk=order_id)
    placed = transition(
        order_id,
        source=[S.SUBMITTING, S.NEEDS_ATTENTION],
        target=S.PENDING,
        upstream_order_id=upstream_order_id,
        submitting_since=None,
        error="",
        next_check_at=next_check_at(created_at=order.created_at, now=now),
    )
    if placed:
        event_record(order_id=order_id, kind=Kind.SENT, status=S.PENDING, upstream_order_id=upstream_order_id)
    return placed


@transaction.atomic
def order_refused(*, order_id: int, message: str) -> bool:
    """The panel refused the order: it failed, and the whole charge goes back."""
    if not transition(
        order_id, source=[S.SUBMITTING], target=S.FAILED, submitting_since=None, error=message[:500], finished_at=timezone.now()
    ):
        return False
    event_record(order_id=order_id, kind=Kind.REFUSED, status=S.FAILED, message=message[:500])
    _refund(order_id, reason="refused by the provider")
    return True


@transaction.atomic
def order_cancel_unsent(*, order_id: int, actor: Actor = SYSTEM) -> bool:
    """The customer cancels an order the provider never received: canceled here, refunded in full."""
    if not transition(order_id, source=[S.AWAITING], target=S.CANCELED, finished_at=timezone.now(), next_attempt_at=None):
        return False
    event_record(order_id=order_id, kind=Kind.CANCELED, actor=actor, status=S.CANCELED)
    _refund(order_id, reason="canceled before it was sent")
    return True


@transaction.atomic
def order_unknown(*, order_id: int, message: str) -> bool:
    """The outcome is unknown: no resubmission, no refund, until an admin decides."""
    unknown = transition(order_id, source=[S.SUBMITTING], target=S.NEEDS_ATTENTION, submitting_since=None, error=message[:500])
    if unknown:
        event_record(order_id=order_id, kind=Kind.UNKNOWN, status=S.NEEDS_ATTENTION, reason=message[:500])
        notify_later(STAFF_ATTENTION, order_id)
    return unknown


def orders_stale_submissions_flag(*, older_than: timedelta) -> int:
    """Orders stuck in submitting (a worker died mid-call) go to needs attention; each is its own compare-and-set."""
    cutoff = timezone.now() - older_than
    stale = Order.objects.filter(status=S.SUBMITTING, submitting_since__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:1000]
    return sum(order_unknown(order_id=order_id, message=UNKNOWN_AFTER_SWEEP) for order_id in stale)


# Admin resolution of needs attention ----------------------------------------------


@transaction.atomic
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
    event_record(
        order_id=order.pk,
        kind=Kind.RESOLVED,
        actor=Actor.admin(admin),
        status=S.PENDING,
        outcome="placed",
        upstream_order_id=upstream_order_id,
    )


@transaction.atomic
def order_resolve_not_placed(*, order: Order, admin: AbstractBaseUser) -> None:
    if not transition(
        order.pk, source=[S.NEEDS_ATTENTION], target=S.FAILED, error="Not placed with the provider; refunded.", finished_at=timezone.now()
    ):
        raise TransitionError(f"Order #{order.pk} no longer needs attention.")
    event_record(order_id=order.pk, kind=Kind.RESOLVED, actor=Actor.admin(admin), status=S.FAILED, outcome="not placed")
    _refund(order.pk, reason=f"not placed upstream (checked by {admin})", actor=Actor.admin(admin), by=admin)


# Refunds ------------------------------------------------------------------------------


def refund_amount(*, charge: Decimal, total_quantity: int, remains: int | None) -> Decimal:
    """A Partial order's refund: charge x remains / quantity, remains clamped to 0..quantity."""
    undelivered = min(max(remains or 0, 0), total_quantity)
    return min(money(charge * undelivered / total_quantity), charge)


def upstream_target(status: UpstreamStatus, *, subscription: bool) -> str | None:
    """The shop's status for the provider's word, by the order's kind; None for a word that means nothing for it."""
    return (SUBSCRIPTION_UPSTREAM_TO_ORDER if subscription else UPSTREAM_TO_ORDER).get(status)


def subscription_refund(*, status: str, charge: Decimal, rate: Decimal, per_post: int, posts_done: int | None) -> Decimal:
    """What a Subscriptions order gives back when it ends (Completed, Expired, Canceled): the reserve it did not use.

    The charge reserved the most it can deliver, ``per_post`` (its max) on each
    post ordered. A served post can have cost at most ``per_post`` units, so the
    used part is ``posts_done x per_post x rate / 1000`` (rounded half-up to the
    shop's places, like a charge), and the refund is the rest, never below 0.
    ``posts_done`` None: the panel never reported the posts served; then only a
    Canceled one comes back (in full), a Completed or Expired one gives back nothing.
    """
    if posts_done is None:
        return charge if status == S.CANCELED else Decimal("0")
    used = money(rate * per_post * max(posts_done, 0) / 1000)
    return max(charge - used, Decimal("0"))


def _refund(order_id: int, *, reason: str, actor: Actor = SYSTEM, by: AbstractBaseUser | None = None) -> Decimal:
    """Give back the whole charge of an order that was never placed; ``by`` is the admin who decided it, if one did."""
    order = Order.objects.select_related("user").get(pk=order_id)
    # The unique constraint on the ledger makes a second refund of one order fail loudly.
    wallet_credit(
        user=order.user,
        amount=order.charge,
        kind=LedgerEntry.Kind.REFUND,
        order=order,
        reason=f"Order #{order.pk}: {reason}",
        created_by=by,
    )
    Order.objects.filter(pk=order_id, refunded=0).update(refunded=order.charge)
    event_record(order_id=order_id, kind=Kind.REFUNDED, actor=actor, status=order.status, amount=order.charge)
    return order.charge
