"""What the customer overview in admin shows: balance and hold, orders, top-ups, API key state, recent activity.

Read in a fixed number of queries whatever the customer's history (each by an index on the user or
the wallet, newest first). The API key's state is its prefix and dates: the key itself is never kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Sum

from shop.catalogue.models import CustomerPrice
from shop.orders.models import Order, OrderEvent, OrderStatus
from shop.payments.models import TopUp, TopUpState
from shop.reseller_api.models import ApiKey
from shop.wallet.models import LedgerEntry, Wallet

ZERO = Decimal("0.0000")
LATEST = 10


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


@dataclass(frozen=True)
class KeyState:
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str  # its label, "" while the key works


@dataclass(frozen=True)
class CustomerOverview:
    wallet_id: int | None
    balance: Decimal
    hold_reason: str
    order_count: int
    statuses: tuple[StatusCount, ...]  # only the statuses the customer has orders in, in the order orders move
    orders: tuple[Order, ...]  # newest first
    topups: tuple[TopUp, ...]  # newest first
    paid_total: Decimal  # what top-ups credited to the balance (paid, before any reversal)
    api_key: KeyState | None
    ledger: tuple[LedgerEntry, ...]  # newest first
    events: tuple[OrderEvent, ...]  # of the latest orders, newest first
    prices: tuple[CustomerPrice, ...]  # the customer's own prices: the discount first, then fixed rates by service


def customer_overview(*, user: Any) -> CustomerOverview:
    """The overview of ``user``: nine queries, however many orders, top-ups and ledger lines they have."""
    wallet = Wallet.objects.filter(user=user).values("pk", "balance", "hold_reason").first()
    counts = dict(Order.objects.filter(user=user).order_by().values_list("status").annotate(n=Count("pk")))
    orders = tuple(Order.objects.filter(user=user).select_related("service").order_by("-id")[:LATEST])
    topups = tuple(TopUp.objects.filter(user=user).select_related("method").order_by("-id")[:LATEST])
    paid = TopUp.objects.filter(user=user, state=TopUpState.PAID).aggregate(total=Sum("amount"))["total"]
    key = ApiKey.objects.filter(user=user).first()
    ledger: tuple[LedgerEntry, ...] = ()
    if wallet is not None:
        ledger = tuple(LedgerEntry.objects.filter(wallet_id=wallet["pk"]).select_related("created_by").order_by("-id")[:LATEST])
    events = tuple(
        OrderEvent.objects.filter(order_id__in=[order.pk for order in orders]).select_related("actor_user").order_by("-id")[:LATEST]
    )
    prices = tuple(CustomerPrice.objects.filter(user=user).select_related("service").order_by(F("service").asc(nulls_first=True)))
    return CustomerOverview(
        wallet_id=wallet["pk"] if wallet else None,
        balance=wallet["balance"] if wallet else ZERO,
        hold_reason=wallet["hold_reason"] if wallet else "",
        order_count=sum(counts.values()),
        statuses=tuple(StatusCount(status, OrderStatus(status).label, counts[status]) for status in OrderStatus.values if status in counts),
        orders=orders,
        topups=topups,
        paid_total=paid or ZERO,
        api_key=_key_state(key),
        ledger=ledger,
        events=events,
        prices=prices,
    )


def _key_state(key: ApiKey | None) -> KeyState | None:
    if key is None:
        return None
    return KeyState(
        prefix=key.prefix,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
        revoked_reason=key.get_revoked_reason_display() if key.revoked_at else "",
    )
