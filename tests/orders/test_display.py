"""Remains as customers see them: the provider's figure clamped to 0..total quantity, on every page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from shop.models import Order, OrderStatus
from shop.orders.display import customer_remains
from shop.orders.placement import order_place

LINK = "https://instagram.com/p/abc"


@pytest.mark.parametrize(
    ("remains", "total_quantity", "shown"),
    [
        (None, 1000, None),  # not known yet
        (0, 1000, 0),
        (250, 1000, 250),
        (1000, 1000, 1000),
        (-2, 1000, 0),  # over-delivery
        (-5000, 1000, 0),
        (1001, 1000, 1000),  # more than was ordered
        (10**12, 1000, 1000),
        (-1, 0, 0),
    ],
)
def test_customer_remains(remains: int | None, total_quantity: int, shown: int | None) -> None:
    assert customer_remains(remains=remains, total_quantity=total_quantity) == shown


@pytest.fixture
def web(client, customer):
    client.force_login(customer)
    return client


def remains_on(web, page: str, order: Order) -> str:
    """The remains the customer sees for ``order`` on one page (as text; "" when not known)."""
    if page == "orders_status_json":
        value = web.get(reverse("orders-status"), {"ids": str(order.pk)}).json()["orders"][str(order.pk)]["remains"]
        return "" if value is None else str(value)
    html = web.get(reverse("order-detail", args=[order.pk]) if page == "order" else reverse("orders")).content.decode()
    cells = re.findall(r'data-cell="remains">([^<]*)<', html)
    assert len(cells) == 1
    return cells[0]


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["order", "orders", "orders_status_json"])
@pytest.mark.parametrize(("remains", "shown"), [(-2, "0"), (250, "250"), (1500, "1000"), (None, "")])
def test_pages_show_remains_clamped_to_the_quantity(web, catalogue, customer, page: str, remains: int | None, shown: str) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.COMPLETED, upstream_order_id="10001", remains=remains)

    assert remains_on(web, page, order) == shown
    assert Order.objects.get(pk=order.pk).remains == remains  # the provider's figure is kept for admins
