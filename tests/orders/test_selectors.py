"""Reads of orders the pages and the API share (``shop.orders.selectors``): the status tabs and a customer's order list."""

from __future__ import annotations

from collections import Counter

import pytest

from shop.models import OrderStatus
from shop.orders.selectors import STATUS_TABS, order_list_for_user
from tests.factories import UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db
S = OrderStatus


def test_the_tabs_cover_every_status_exactly_once() -> None:
    shown = Counter(status for _, statuses in STATUS_TABS.values() for status in statuses)
    assert shown == Counter(S.values)


def test_each_tab_holds_the_statuses_customers_see_under_its_name() -> None:
    for key, (label, statuses) in STATUS_TABS.items():
        assert statuses and all(S.customer_label(status) == label for status in statuses), key
    assert {label for label, _ in STATUS_TABS.values()} == set(S.CUSTOMER_LABELS.values())


def test_the_shops_own_steps_sit_in_the_tab_customers_would_look_in() -> None:
    assert set(STATUS_TABS["pending"][1]) == {S.AWAITING, S.SUBMITTING, S.PENDING}
    assert set(STATUS_TABS["processing"][1]) == {S.PROCESSING, S.NEEDS_ATTENTION}
    assert set(STATUS_TABS["canceled"][1]) == {S.CANCELED, S.FAILED}


@pytest.fixture
def mine(customer) -> dict[str, object]:
    """One order of the customer in each status, by status."""
    return {status: order_row(customer, status=status, link=f"https://instagram.com/p/{status}") for status in S.values}


def listed(user, **kwargs) -> list[int]:
    return list(order_list_for_user(user=user, **kwargs).values_list("pk", flat=True))


def test_all_of_a_customers_orders_newest_first_and_nobody_elses(customer, mine) -> None:
    theirs = order_row(UserFactory(), status=S.PENDING)
    assert listed(customer) == sorted((order.pk for order in mine.values()), reverse=True)
    assert theirs.pk not in listed(customer)


@pytest.mark.parametrize("tab", list(STATUS_TABS))
def test_a_tab_lists_the_orders_of_its_statuses_newest_first(customer, mine, tab: str) -> None:
    order_row(UserFactory(), status=STATUS_TABS[tab][1][0])  # someone else's, in the same tab
    expected = sorted((mine[status].pk for status in STATUS_TABS[tab][1]), reverse=True)
    assert listed(customer, tab=tab) == expected


def test_an_unknown_tab_lists_everything(customer, mine) -> None:
    assert len(listed(customer, tab="refunded")) == len(S.values)


def test_a_search_by_number_finds_that_order_only_if_it_is_the_customers(customer, mine) -> None:
    order = mine[S.COMPLETED]
    theirs = order_row(UserFactory(), status=S.COMPLETED)
    assert listed(customer, query=str(order.pk)) == [order.pk]
    assert listed(customer, query=f" #{order.pk} ") == [order.pk]
    assert listed(customer, query=str(theirs.pk)) == []
    assert listed(customer, query="999999999") == []


def test_a_search_by_link_matches_part_of_it_in_any_case(customer, mine) -> None:
    order_row(UserFactory(), link="https://instagram.com/p/partial-stranger")
    assert listed(customer, query="P/PARTIAL") == [mine[S.PARTIAL].pk]
    assert set(listed(customer, query="instagram.com/p/")) == {order.pk for order in mine.values()}
    assert listed(customer, query="tiktok") == []


def test_a_tab_and_a_search_narrow_each_other(customer, mine) -> None:
    assert listed(customer, tab="canceled", query="failed") == [mine[S.FAILED].pk]
    assert listed(customer, tab="completed", query="failed") == []
