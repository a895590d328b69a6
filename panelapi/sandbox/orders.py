"""The sandbox panel's orders: their stored state, amounts, and how they move through their statuses.

An order's outcome (Completed, Partial or Canceled) is drawn from the seed when
it is placed; what a status call shows is then a pure function of the order, the
panel clock and the length of a stage, so a run replays exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .subscriptions import Subscription, posts_served, subscription_used

__all__ = [
    "FIRST_ORDER_ID",
    "PACKAGE_TYPES",
    "PLACES",
    "ZERO",
    "Order",
    "OrderView",
    "draw_outcome",
    "money",
    "net_charge",
    "order_view",
    "refill_status_word",
]

PLACES = Decimal("0.00001")
ZERO = Decimal("0")
FIRST_ORDER_ID = 10001
PACKAGE_TYPES = frozenset({"Package", "Custom Comments Package"})


def money(value: Decimal) -> str:
    """Format an amount the way the upstream does: five decimals."""
    return str(value.quantize(PLACES, ROUND_HALF_UP))


@dataclass(slots=True)
class Order:
    """One order as placed, with its drawn outcome; only events change it."""

    id: int
    service: int
    type: str
    link: str
    quantity: int
    charge: Decimal
    created: float
    outcome: str  # final status drawn at creation: Completed, Partial or Canceled
    final_remains: int
    start_count: int
    refill_ok: bool
    cancel_ok: bool
    canceled_at: float | None = None
    settled: bool = False  # refund (if any) already returned to the balance
    # Subscriptions only: its fields, what each post gets, and the service's rate when placed.
    subscription: Subscription | None = None
    units: list[int] = field(default_factory=list)
    rate: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class OrderView:
    """What a status call shows of an order at one moment."""

    status: str
    remains: int
    start_count: int
    charge: Decimal
    final: bool
    posts: int = 0  # subscriptions: posts served so far


def draw_outcome(seed: int, order_id: int, quantity: int) -> tuple[str, int, int]:
    """Draw an order's final (status, remains, start count) from the seed."""
    # Seeded per order, so an outcome does not depend on the call order.
    rng = random.Random(f"{seed}:{order_id}")
    roll, start_count, share = rng.random(), rng.randint(0, 50000), rng.uniform(0.05, 0.60)
    if roll < 0.80 or (roll < 0.92 and quantity < 2):
        return "Completed", 0, start_count
    if roll < 0.92:
        return "Partial", min(quantity - 1, max(1, round(quantity * share))), start_count
    return "Canceled", quantity, start_count


def order_view(order: Order, now: float, stage: float) -> OrderView:
    """What `order` shows at panel time `now`: Pending for one stage, then In progress (or Processing) for two."""
    if order.subscription is not None:
        return subscription_view(order, now, stage)
    if order.canceled_at is not None:
        started = order.canceled_at >= order.created + stage
        return OrderView("Canceled", order.quantity, order.start_count if started else 0, ZERO, True)
    elapsed = now - order.created
    if elapsed < stage:
        return OrderView("Pending", order.quantity, 0, order.charge, False)
    if order.outcome == "Canceled":
        return OrderView("Canceled", order.quantity, 0, ZERO, True)
    if elapsed < 3 * stage:
        delivered = int((order.quantity - order.final_remains) * (elapsed - stage) / (2 * stage))
        status = "Processing" if order.type in PACKAGE_TYPES else "In progress"
        return OrderView(status, order.quantity - delivered, order.start_count, order.charge, False)
    return OrderView(order.outcome, order.final_remains, order.start_count, net_charge(order), True)


def subscription_end(order: Order, stage: float) -> float:
    """When a subscription that is not canceled ends: its last post served, or its expiry if that comes first."""
    assert order.subscription is not None
    done = order.created + order.subscription.total_posts * stage
    return done if order.subscription.expires is None else min(done, order.subscription.expires)


def subscription_view(order: Order, now: float, stage: float) -> OrderView:
    """Active while it serves a post per stage; then Completed, Expired or Canceled, whichever came first."""
    sub = order.subscription
    assert sub is not None
    end = subscription_end(order, stage)
    if order.canceled_at is not None and order.canceled_at < end:
        status, until = "Canceled", order.canceled_at
    elif now >= end:
        expired = sub.expires is not None and sub.expires < order.created + sub.total_posts * stage
        status, until = ("Expired" if expired else "Completed"), end
    else:
        status, until = "Active", now
    served = posts_served(order.created, until, stage, sub.total_posts)
    used = subscription_used(order.units, served, order.rate)
    return OrderView(status, 0, 0, used, status != "Active", served)


def subscription_refund_at(order: Order, until: float, stage: float) -> Decimal:
    """What a subscription gives back if it ends at `until`: its charge less what the posts served by then cost."""
    assert order.subscription is not None
    served = posts_served(order.created, min(until, subscription_end(order, stage)), stage, order.subscription.total_posts)
    return order.charge - subscription_used(order.units, served, order.rate)


def net_charge(order: Order) -> Decimal:
    """The charge the order keeps once final (Partial keeps the delivered share)."""
    if order.outcome == "Canceled":
        return ZERO
    if order.outcome == "Partial":
        delivered = order.quantity - order.final_remains
        return (order.charge * delivered / order.quantity).quantize(PLACES, ROUND_HALF_UP)
    return order.charge


def refill_status_word(created: float, now: float, stage: float) -> str:
    """The status of a refill made at `created`, at panel time `now`."""
    elapsed = now - created
    if elapsed < stage:
        return "Pending"
    return "In progress" if elapsed < 3 * stage else "Completed"
