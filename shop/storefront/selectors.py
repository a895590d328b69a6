"""Reads for the customer's home page: money, orders by state and the latest orders, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from shop.catalogue.selectors import orderable_services
from shop.orders.display import CustomerStatus, customer_status
from shop.orders.models import Order, OrderStatus
from shop.orders.selectors import STATUS_TABS, SUBSCRIPTION_TABS, order_list_for_user
from shop.wallet.selectors import balance_of, hold_of
from shop.wallet.services import money

LATEST_ORDERS = 5


@dataclass(frozen=True)
class StateCount:
    """How many of the customer's orders show one status (a tab of the orders page)."""

    tab: str
    label: str  # in the page's language
    count: int


@dataclass(frozen=True)
class LatestOrder:
    order: Order
    status: CustomerStatus
    again: bool  # "Order again" fills in the same order: its service is still orderable and it has no runs or list fields


@dataclass(frozen=True)
class Dashboard:
    balance: Decimal
    hold: str  # why new orders are paused, or ""
    month_start: datetime
    spent_this_month: Decimal  # charges of this month's orders less what they refunded
    orders_total: int
    states: list[StateCount]  # every status tab, in the orders page's order, with zeros
    latest: list[LatestOrder]


def month_start(now: datetime | None = None) -> datetime:
    """Midnight of the first day of the current calendar month, in the shop's time zone."""
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def customer_dashboard(*, user: AbstractBaseUser, now: datetime | None = None) -> Dashboard:
    """What the customer's home page shows (six queries, whatever the number of orders)."""
    start = month_start(now)
    this_month = Q(created_at__gte=start)
    rows = (
        Order.objects.filter(user=user)
        .values("status")
        .annotate(count=Count("id"), charged=Sum("charge", filter=this_month), refunded=Sum("refunded", filter=this_month))
        .order_by()
    )
    by_label: dict[str, int] = {}
    spent = Decimal("0")
    for row in rows:
        label = OrderStatus.customer_label(row["status"])
        by_label[label] = by_label.get(label, 0) + row["count"]
        spent += (row["charged"] or Decimal("0")) - (row["refunded"] or Decimal("0"))
    states = [
        StateCount(tab=tab, label=gettext(label), count=by_label.get(label, 0))
        for tab, (label, _) in STATUS_TABS.items()
        if by_label.get(label) or tab not in SUBSCRIPTION_TABS
    ]
    return Dashboard(
        balance=balance_of(user=user),
        hold=hold_of(user=user),
        month_start=start,
        spent_this_month=money(spent),
        orders_total=sum(by_label.values()),
        states=states,
        latest=_latest(user),
    )


def _latest(user: AbstractBaseUser) -> list[LatestOrder]:
    orders = list(order_list_for_user(user=user)[:LATEST_ORDERS])
    orderable = set(orderable_services().filter(pk__in={order.service_id for order in orders}).values_list("pk", flat=True))
    return [
        LatestOrder(order, customer_status(order.status), again=order.service_id in orderable and not order.runs and not order.extra)
        for order in orders
    ]
