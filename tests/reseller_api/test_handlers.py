"""The reseller API's status action shows customers remains clamped to 0..total quantity."""

from __future__ import annotations

import pytest

from shop.models import Order, OrderStatus
from shop.orders.placement import order_place
from shop.reseller_api.keys import api_key_issue

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/abc"


@pytest.fixture
def call(client, customer):
    key = api_key_issue(user=customer)

    def call(**params: str):
        response = client.post("/api/v2", {"key": key, **params})
        assert response["Content-Type"] == "application/json"
        return response.json()

    return call


@pytest.mark.parametrize(
    ("remains", "shown"),
    [
        (-2, "0"),  # over-delivery never reaches the customer as a negative figure
        (-1000000, "0"),
        (0, "0"),
        (250, "250"),
        (1000, "1000"),
        (1001, "1000"),  # more than was ordered: the quantity
        (None, "1000"),  # not known yet: the API reports the whole quantity
    ],
)
def test_status_remains_are_clamped_to_the_quantity(call, catalogue, customer, remains: int | None, shown: str) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    other = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    Order.objects.filter(pk__in=[order.pk, other.pk]).update(status=OrderStatus.COMPLETED, remains=remains)

    assert call(action="status", order=str(order.pk))["remains"] == shown
    many = call(action="status", orders=f"{order.pk},{other.pk}")
    assert (many[str(order.pk)]["remains"], many[str(other.pk)]["remains"]) == (shown, shown)
