"""Typed values the client returns: parsed, validated, money as Decimal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class UpstreamStatus(StrEnum):
    """An order's status as the panel reports it, normalised across panels."""

    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    PARTIAL = "Partial"
    CANCELED = "Canceled"
    # Subscriptions (and drip-feed parents, for "Active"): running, paused by the panel, ended by their expiry date.
    ACTIVE = "Active"
    PAUSED = "Paused"
    EXPIRED = "Expired"
    # A word no known panel uses: the raw word is kept and the order stays active.
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """One entry of the panel's ``services`` list."""

    service_id: str
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class SkippedItem:
    """A list item the client could not read, with the reason (the rest still counts).

    ``service_id`` is the item's id when at least that could be read, else "".
    """

    position: int
    reason: str
    service_id: str = ""


@dataclass(frozen=True, slots=True)
class ServiceList:
    services: tuple[ServiceInfo, ...]
    skipped: tuple[SkippedItem, ...] = ()


@dataclass(frozen=True, slots=True)
class AddResult:
    order_id: str


@dataclass(frozen=True, slots=True)
class OrderStatus:
    """The state of one upstream order. ``raw_status`` is the panel's own word.

    Subscriptions answer with ``posts`` (the posts served so far) and ``orders``
    (the ids of the orders made for them) instead of ``remains`` and ``charge``.
    """

    status: UpstreamStatus
    raw_status: str
    charge: Decimal | None = None
    start_count: int | None = None
    remains: int | None = None
    currency: str | None = None
    posts: int | None = None
    orders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ItemError:
    """A per-item error inside a batch reply: only that item failed."""

    message: str


@dataclass(frozen=True, slots=True)
class Balance:
    amount: Decimal
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class RefillResult:
    order_id: str
    refill_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RefillStatus:
    refill_id: str
    status: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CancelResult:
    order_id: str
    accepted: bool
    error: str | None = None
