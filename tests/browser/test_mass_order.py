"""The mass order page in a real browser: write lines, preview them (on a phone: it fits, axe passes), place them."""

from __future__ import annotations

import os
import re
from decimal import Decimal

import pytest

from shop.models import LedgerEntry, Order
from tests.browser.test_order_form import PASSWORD, browser, customer_with, shop  # noqa: F401  (fixtures)
from tests.browser.test_pages import PHONE, overflow, serious_violations, shoot

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_three_lines_previewed_then_placed_on_a_phone(shop, browser, catalogue) -> None:  # noqa: F811
    from playwright.sync_api import expect

    alice = customer_with("100")
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(15_000)
    page.goto(f"{shop}/accounts/login/")
    page.fill("#id_login", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()

    page.goto(f"{shop}/order/mass/")
    followers, likes, package = catalogue["1"], catalogue["4"], catalogue["6"]
    lines = [
        f"{followers.pk} | https://instagram.com/p/a-rather-long-post-name-that-has-to-wrap-somewhere | 1000",
        f"{likes.pk}|2000|https://instagram.com/p/b",
        "",
        f"{package.pk} | https://instagram.com/p/c",
        f"{followers.pk} | https://instagram.com/p/d | 5",
    ]
    page.fill("#id_orders", "\n".join(lines))
    page.get_by_role("button", name="Preview").click()

    rows = page.locator("table.mass-lines tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator('tr[data-line="5"]')).to_contain_text("The minimum for this service is 50.")
    expect(page.locator(".banner.notice")).to_have_text("1 line cannot be ordered and will be skipped: line 5.")
    expect(page.locator("#mass-total")).to_have_text("3.9325")  # 1.17 + 0.0325 + 2.73
    shoot(page, "mass-order-preview-390")
    assert overflow(page) <= 0
    assert serious_violations(page) == []
    assert not Order.objects.filter(user=alice).exists()

    sent = page.evaluate("() => Object.fromEntries(new FormData(document.getElementById('mass-place')))")
    page.get_by_role("button", name="Place 3 orders for 3.9325 USD").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(shop)}/orders/$"))
    expect(page.locator(".messages")).to_contain_text("3 orders placed, total 3.9325 USD.")
    orders = Order.objects.filter(user=alice).order_by("pk")
    assert [(order.service_id, order.quantity) for order in orders] == [(followers.pk, 1000), (likes.pk, 2000), (package.pk, 1)]
    assert LedgerEntry.objects.filter(order__in=orders, kind=LedgerEntry.Kind.ORDER_CHARGE).count() == 3

    # The same place form sent again (a reload, a second tab): nothing more is placed.
    page.goto(f"{shop}/order/mass/")
    page.evaluate(
        """sent => {
            const form = document.getElementById('mass-form');
            for (const [name, value] of Object.entries({...sent, place: '1'})) {
                let field = form.elements[name];
                if (!field) {
                    field = form.appendChild(document.createElement('input'));
                    field.type = 'hidden';
                    field.name = name;
                }
                field.value = value;
            }
            form.submit();
        }""",
        sent,
    )
    expect(page).to_have_url(re.compile(rf"{re.escape(shop)}/orders/$"))
    expect(page.locator(".messages")).to_contain_text("These orders were already placed (3 orders). Nothing more was charged.")
    assert Order.objects.filter(user=alice).count() == 3
    assert sum(orders.values_list("charge", flat=True)) == Decimal("3.9325")
