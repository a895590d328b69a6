"""The sandbox panel's orders: their stored state, amounts, and how they move through their statuses.

An order's outcome (Completed, Partial or Canceled) is drawn from the seed when
it is placed; what a status call shows is then a pure function of the order, the
panel clock and the length of a stage, so a run replays exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

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


@dataclass(frozen=True, slots=True)
class OrderView:
    """What a status call shows of an order at one moment."""

    status: str
    remains: int
    start_count: int
    charge: Decimal
    final: bool


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
