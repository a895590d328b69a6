"""The customer's home (``/``, ``shop.storefront.selectors.customer_dashboard``): balance, this month's spend, orders by
state, the latest orders with "Order again"; visitors are sent to the services."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from shop.models import Order, OrderStatus
from shop.storefront.selectors import customer_dashboard, month_start
from tests.factories import ServiceFactory, UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db


def created(order: Order, when: datetime) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=when)
    return order


def test_visitors_go_to_the_services(client) -> None:
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("services")


def test_the_month_starts_at_midnight_of_the_first_in_the_shops_time_zone(settings) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    start = month_start(datetime(2026, 3, 1, 0, 30, tzinfo=ZoneInfo("Europe/Berlin")))
    assert start == datetime(2026, 3, 1, tzinfo=ZoneInfo("Europe/Berlin"))
    # 23:30 UTC on the last of February is already March in Berlin.
    assert month_start(datetime(2026, 2, 28, 23, 30, tzinfo=ZoneInfo("UTC"))).month == 3


def test_spent_this_month_is_this_months_charges_less_their_refunds(customer) -> None:
    now = timezone.now()
    start = month_start(now)
    order_row(customer, status=OrderStatus.COMPLETED, charge="12.3456")
    order_row(customer, status=OrderStatus.PARTIAL, charge="10.0000", refunded=Decimal("2.5000"))
    order_row(customer, status=OrderStatus.CANCELED, charge="4.0000", refunded=Decimal("4.0000"))
    created(order_row(customer, status=OrderStatus.COMPLETED, charge="99.0000"), start - timedelta(seconds=1))
    order_row(UserFactory(), status=OrderStatus.COMPLETED, charge="50.0000")  # someone else's
    dashboard = customer_dashboard(user=customer, now=now)
    assert dashboard.spent_this_month == Decimal("19.8456")
    assert dashboard.balance == Decimal("100.0000")  # order_row charges nothing
    assert dashboard.month_start == start


def test_orders_are_counted_by_the_state_customers_see(customer) -> None:
    for status in (
        OrderStatus.AWAITING,
        OrderStatus.SUBMITTING,
        OrderStatus.PENDING,
        OrderStatus.IN_PROGRESS,
        OrderStatus.NEEDS_ATTENTION,
        OrderStatus.COMPLETED,
        OrderStatus.COMPLETED,
        OrderStatus.FAILED,
    ):
        order_row(customer, status=status)
    order_row(UserFactory(), status=OrderStatus.COMPLETED)
    dashboard = customer_dashboard(user=customer)
    assert [(state.tab, state.label, state.count) for state in dashboard.states] == [
        ("pending", "Pending", 3),
        ("in_progress", "In progress", 1),
        ("completed", "Completed", 2),
        ("partial", "Partial", 0),
        ("processing", "Processing", 1),  # needs attention reads as Processing
        ("canceled", "Canceled", 1),  # refused (failed) reads as Canceled
    ]
    assert dashboard.orders_total == 8


def test_subscription_states_show_only_for_customers_who_have_such_orders(customer) -> None:
    order_row(customer, status=OrderStatus.SUB_PAUSED)
    tabs = [(state.tab, state.count) for state in customer_dashboard(user=customer).states]
    assert ("paused", 1) in tabs
    assert not {"active", "expired"} & {tab for tab, _ in tabs}


def test_the_home_page_shows_the_figures_and_links_each_state_to_its_tab(web, customer) -> None:
    order_row(customer, status=OrderStatus.COMPLETED, charge="1234.5")
    html = web.get(reverse("home")).content.decode()
    assert '<span class="money" data-dashboard-balance>100.00 USD</span>' in html
    assert '<span class="money" data-dashboard-spent>1,234.50 USD</span>' in html
    assert f'href="{reverse("funds-add")}">Add funds</a>' in html
    assert (
        f'<a href="{reverse("orders")}?status=completed"><span class="state-label">Completed</span> <span class="state-count">1</span></a>'
        in html
    )
    assert (
        f'<a href="{reverse("orders")}?status=partial"><span class="state-label">Partial</span> <span class="state-count">0</span></a>'
        in html
    )
    assert 'aria-current="page" href="/"' in html  # Home is the current menu entry


def test_the_latest_five_orders_each_offer_to_order_the_same_again(web, customer) -> None:
    service = ServiceFactory()
    orders = [
        order_row(customer, service=service, link=f"https://instagram.com/p/post-{n}?a=1&b=2", quantity=100 + n, total_quantity=100 + n)
        for n in range(7)
    ]
    html = web.get(reverse("home")).content.decode()
    shown = [int(number) for number in re.findall(r'data-dashboard-order="(\d+)"', html)]
    assert shown == [order.pk for order in reversed(orders)][:5]
    newest = orders[-1]
    again = re.findall(r'<a class="button small secondary" data-order-again href="([^"]+)"', html)
    assert len(again) == 5
    url = urlsplit(again[0].replace("&amp;", "&"))
    assert url.path == reverse("order-new")
    assert parse_qs(url.query) == {"service": [str(service.pk)], "link": [newest.link], "quantity": ["106"]}
    assert "All 7 orders" in html


def test_an_order_of_a_service_no_longer_offered_has_no_order_again(web, customer) -> None:
    order_row(customer, service=ServiceFactory(is_enabled=False))
    html = web.get(reverse("home")).content.decode()
    assert "data-dashboard-order=" in html and "data-order-again" not in html


def test_order_again_is_offered_only_where_it_would_order_the_same(web, customer) -> None:
    """Not for a service in a hidden category, nor for a drip-feed order or one with list fields, which the link cannot carry."""
    hidden = ServiceFactory()
    hidden.category.is_visible = False
    hidden.category.save()
    order_row(customer, service=hidden)
    order_row(customer, runs=5, quantity=100, total_quantity=500)
    order_row(customer, extra={"comments": ["nice", "great"]})
    plain = order_row(customer)
    html = web.get(reverse("home")).content.decode()
    again = re.findall(r'data-order-again href="([^"]+)"', html)
    assert len(again) == 1 and f"service={plain.service_id}&amp;" in again[0]


def test_a_customer_without_orders_is_invited_to_place_one(web) -> None:
    html = web.get(reverse("home")).content.decode()
    assert "No orders yet." in html and f'href="{reverse("order-new")}">Place your first order</a>' in html


def test_the_home_page_says_when_new_orders_are_paused(web, customer) -> None:
    from shop.wallet.services import wallet_hold

    wallet_hold(user=customer, reason="A payment of yours was disputed.")
    html = web.get(reverse("home")).content.decode()
    assert 'id="balance-hold"' in html and "A payment of yours was disputed." in html


def test_the_home_page_costs_the_same_queries_for_3_orders_or_30(web, customer, django_assert_max_num_queries) -> None:
    service = ServiceFactory()
    for status in (OrderStatus.PENDING, OrderStatus.COMPLETED, OrderStatus.PARTIAL):
        order_row(customer, service=service, status=status)
    web.get(reverse("home"))  # the branding is cached from here on
    with django_assert_max_num_queries(10) as few:
        web.get(reverse("home"))
    for index in range(27):
        order_row(customer, service=ServiceFactory(), status=list(OrderStatus)[index % len(OrderStatus)])
    with django_assert_max_num_queries(len(few)):
        web.get(reverse("home"))
