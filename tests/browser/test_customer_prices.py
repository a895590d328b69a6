"""A customer's own prices on the new-order page in a real browser: the price noted as theirs, and the charge preview
computed from it equal to what placing the order charges."""

from __future__ import annotations

import os
import re
from decimal import Decimal

import pytest

from shop.models import CustomerPrice, Order
from tests.browser.test_order_form import browser, customer_with, shop, signed_in  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_the_preview_shows_the_customers_price_and_charges_it(shop, browser, catalogue) -> None:  # noqa: F811
    from playwright.sync_api import expect

    alice = customer_with("10")
    CustomerPrice.objects.create(user=alice, discount_percent=Decimal("15"))
    CustomerPrice.objects.create(user=alice, service=catalogue["2"], fixed_rate=Decimal("0.4"))
    page = signed_in(browser, shop)
    page.goto(f"{shop}/order/?service={catalogue['1'].pk}")
    facts = page.locator("#service-info")
    # Rendered by the server: 1.17 less 15 %.
    expect(facts).to_contain_text("0.9945 USD per 1000 Your price · retail 1.17 USD per 1000")
    page.fill("#id_quantity", "1234")
    expect(page.locator("#charge")).to_have_text("1.2272")  # 0.9945 x 1234 / 1000 = 1.227213

    # Written by the page's script: the fixed rate of service 2 (retail 0.585).
    page.select_option("#service", str(catalogue["2"].pk))
    expect(facts).to_contain_text("0.4 USD per 1000 Your price · retail 0.585 USD per 1000")
    page.fill("#id_quantity", "1234")
    expect(page.locator("#charge")).to_have_text("0.4936")
    page.fill("#id_link", "https://instagram.com/p/alice-own")
    page.click("#place-order")
    expect(page).to_have_url(re.compile(rf"{re.escape(shop)}/orders/\d+/$"))
    order = Order.objects.get(user=alice)
    assert (order.service_id, order.rate, order.charge) == (catalogue["2"].pk, Decimal("0.4"), Decimal("0.4936"))
