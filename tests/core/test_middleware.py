"""Pages of a signed-in customer are never stored by a cache: they show a balance, orders or an API key (issue 17)."""

from __future__ import annotations

import pytest

from shop.orders.placement import order_place

pytestmark = pytest.mark.django_db

SIGNED_IN_PAGES = ["/services/", "/order/", "/orders/", "/orders/status.json", "/balance/", "/account/api/"]


@pytest.mark.parametrize("url", SIGNED_IN_PAGES)
def test_signed_in_pages_send_no_store(web, url) -> None:
    response = web.get(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_the_order_page_of_a_customer_sends_no_store(web, catalogue, customer) -> None:
    order = order_place(user=customer, service=catalogue["1"], link="https://instagram.com/p/x", quantity=1500)
    assert "no-store" in web.get(f"/orders/{order.pk}/")["Cache-Control"]


def test_the_api_reply_with_a_balance_sends_no_store(call, client, key) -> None:
    response = client.post("/api/v2", {"key": key, "action": "balance"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("url", ["/", "/services/"])
def test_public_pages_for_visitors_stay_cacheable(client, url) -> None:
    assert not client.get(url).has_header("Cache-Control")
