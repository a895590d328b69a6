"""Reads of orders that the pages and the API share."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Max, Q, QuerySet

from shop.core.numbers import id_number
from shop.orders.models import Order, OrderStatus, Refill

S = OrderStatus
#: The customer's status tabs: the statuses behind each customer-visible name.
STATUS_TABS = {
    key: (label, [status for status, shown in S.CUSTOMER_LABELS.items() if shown == label])
    for key, label in (
        ("pending", "Pending"),
        ("in_progress", "In progress"),
        ("completed", "Completed"),
        ("partial", "Partial"),
        ("processing", "Processing"),
        ("canceled", "Canceled"),
        # Subscriptions
        ("active", "Active"),
        ("paused", "Paused"),
        ("expired", "Expired"),
    )
}
#: Tabs of Subscriptions orders only: the home page lists them when the customer has such orders.
SUBSCRIPTION_TABS = frozenset({"active", "paused", "expired"})


def order_list_for_user(*, user: AbstractBaseUser, tab: str = "", query: str = "") -> QuerySet[Order]:
    """A customer's orders, newest first, for one status tab and an optional search by link or number."""
    orders = Order.objects.filter(user=user).select_related("service", "provider_service").order_by("-id")
    if tab in STATUS_TABS:
        statuses = STATUS_TABS[tab][1]
        orders = orders.filter(status__in=statuses)
        if len(statuses) > 1:
            # No index gives several statuses in id order, and PostgreSQL would
            # then walk the primary key backwards through everyone's orders.
            # Sorting on an expression makes it read this customer's matching
            # index entries (order_user_status_recent) and sort those instead.
            orders = orders.annotate(newest=F("id") + 0).order_by("-newest")
    query = query.strip()
    if query:
        number = id_number(query.lstrip("#"))
        orders = orders.filter(pk=number) if number is not None else orders.filter(link__icontains=query)
    return orders


@dataclass(frozen=True)
class RefillHistory:
    """What the refill rules read of an order's earlier refills."""

    under_way: bool  # a refill not final yet
    last_asked: datetime | None  # when the newest refill the provider did not reject was asked for


def refill_history(*, order_ids: Iterable[int]) -> dict[int, RefillHistory]:
    """The refill history of each order among ``order_ids`` that has one (one query for any number of orders)."""
    rows = (
        Refill.objects.filter(order_id__in=list(order_ids))
        .exclude(status=Refill.Status.REJECTED)
        .values("order_id")
        .annotate(last_asked=Max("created_at"), under_way=Count("id", filter=~Q(status__in=Refill.Status.final())))
        .order_by()
    )
    return {row["order_id"]: RefillHistory(row["under_way"] > 0, row["last_asked"]) for row in rows}


def order_live_with_link(*, service_id: int, link: str) -> bool:
    """Whether an unfinished order (``OrderStatus.LIVE``) of the service has this link, whoever placed it (the link rule).

    Any customer's: the provider refuses a second order for a link it is still working on, whoever sends it.
    Links compare exactly as stored (stripped by ``clean_link``). ``status__in=LIVE`` is the condition of the
    partial index ``order_live_service``: PostgreSQL reads only the service's unfinished orders, then compares links.
    """
    return Order.objects.filter(status__in=OrderStatus.LIVE, service_id=service_id, link=link).exists()


def order_links_live(*, links: Collection[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of these (service id, link) have an unfinished order (``order_live_with_link`` for many, one query)."""
    if not links:
        return set()
    found = Order.objects.filter(
        status__in=OrderStatus.LIVE, service_id__in={service for service, _ in links}, link__in={link for _, link in links}
    ).values_list("service_id", "link")
    return set(found) & set(links)


def refill_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Refill]:
    """A customer's refill requests, newest first, with the order's number and service name."""
    return (
        Refill.objects.filter(order__user=user)
        .select_related("order__service")
        .only("status", "created_at", "order__id", "order__service__name")
        .order_by("-id")
    )


#: A word of an admin's order search matches at most this many customers by name; more, and they are matched in SQL.
SEARCH_CUSTOMERS_LISTED = 1000


def orders_matching(*, orders: QuerySet[Order], words: Iterable[str]) -> QuerySet[Order]:
    """``orders`` that match every word of an admin's search: its number (``123`` or ``#123``), the provider's order id,
    any part of the link, or any part of the customer's username. A whole link (a word starting with ``http://`` or
    ``https://``) matches the links that begin with it, from the index ``order_link_prefix``: a trigram search for a
    whole link reads the posting lists of its common trigrams ("htt", "www", ...), 1.2 s on 10,000,000 orders.

    Each word is one OR of conditions that PostgreSQL answers from an index (the primary key, ``order_upstream_id``, the
    trigram index on the link, ``order_user_recent``): the customers are looked up first, so no join to the users table
    makes the planner read every order (a search by number took 2.7 s on 1,000,000 orders, issue 16).
    """
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    for word in words:
        number = id_number(word.removeprefix("#"))
        whole_link = word.lower().startswith(("http://", "https://"))
        match = Q(upstream_order_id=word) | (Q(link__istartswith=word) if whole_link else Q(link__icontains=word))
        if number is not None:
            match |= Q(pk=number)
        customers = list(users.filter(username__icontains=word).values_list("pk", flat=True)[: SEARCH_CUSTOMERS_LISTED + 1])
        if len(customers) > SEARCH_CUSTOMERS_LISTED:
            match |= Q(user__in=users.filter(username__icontains=word).values("pk"))
        elif customers:
            match |= Q(user_id__in=customers)
        orders = orders.filter(match)
    return orders
