"""The new-order page in a real browser (Debian's Chromium driven by Playwright), against the shop's own web server.

What only a browser shows: the checks as the customer types (min and max with their numbers, the link, the
balance), the search across categories, the drip-feed total with the charge computed on it, and a double click on
Place order that sends one order. No Celery worker runs: the web server's broker is kombu's in-memory one.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import override_settings

from shop.models import LedgerEntry, Order
from shop.wallet.services import wallet_credit
from tests.conftest import CHROMIUM
from tests.helpers import with_confirmed_address
from tests.processes import web_process

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
PASSWORD = "a-long-Passw0rd!"
# Playwright's sync API runs an event loop in this thread; the ORM calls below are plain blocking ones, made between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def shop(transactional_db, catalogue):
    with web_process(CELERY_BROKER_URL="memory://") as base_url:
        yield base_url


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        yield browser
        browser.close()
        # ORM calls between Playwright steps run in Playwright's context, on a
        # connection of their own: close it so the test database can be dropped.
        connections.close_all()


def customer_with(balance: str):
    """A customer with ``balance``, whose password the web server (with Django's default hashers) can check."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user = with_confirmed_address(get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD))
    wallet_credit(user=user, amount=Decimal(balance), kind=LedgerEntry.Kind.DEPOSIT)
    return user


def signed_in(browser, shop: str):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{shop}/accounts/login/")
    page.fill("#id_login", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page).to_have_url(f"{shop}/order/")
    return page


def test_the_form_checks_as_the_customer_types_and_searches_every_category(shop, browser, catalogue) -> None:
    from playwright.sync_api import expect

    alice = customer_with("10")
    page = signed_in(browser, shop)
    followers = catalogue["1"]  # 1.17 per 1000, 50 to 10,000, in Instagram Followers
    page.goto(f"{shop}/order/?service={followers.pk}")
    facts = page.locator("#service-info")
    expect(facts).to_contain_text("1.17 USD per 1000")
    expect(facts).to_contain_text("Start 0-1 h, 5-10K/day.")

    # Below the minimum, above the maximum: said with the number while typing, before anything is sent.
    page.locator("#id_quantity").press_sequentially("10")
    hint = page.locator('[data-field="quantity"] .error.live')
    expect(hint).to_have_text("The minimum for this service is 50.")
    expect(page.locator("#id_quantity")).to_have_attribute("aria-invalid", "true")
    page.fill("#id_quantity", "20000")
    expect(hint).to_have_text("The maximum for this service is 10,000.")
    page.fill("#id_quantity", "1000")
    expect(hint).to_be_hidden()
    expect(page.locator("#charge")).to_have_text("1.17")

    # A link without its scheme cannot become one: said at once. A complete one clears it.
    page.locator("#id_link").press_sequentially("instagram.com/p/x")
    link_hint = page.locator('[data-field="link"] .error.live')
    expect(link_hint).to_have_text("Enter the full link, starting with https://")
    page.fill("#id_link", "https://instagram.com/p/alice1")
    expect(link_hint).to_be_hidden()

    # More than the balance: the charge and the balance, and a way to add funds.
    page.fill("#id_quantity", "10000")
    balance = page.locator("#balance-check")
    expect(balance).to_be_visible()
    expect(balance).to_contain_text("This costs 11.70 and your balance is 10.00.")
    expect(balance.get_by_role("link", name="Add funds")).to_have_attribute("href", "/funds/")
    page.fill("#id_quantity", "5000")
    expect(balance).to_be_hidden()

    # Sending it anyway with a quantity the page already refused: nothing is sent, the field is focused.
    page.fill("#id_quantity", "20")
    page.click("#place-order")
    expect(page.locator("#id_quantity")).to_be_focused()
    assert not Order.objects.filter(user=alice).exists()

    # The search finds a service in another category; choosing it selects its category and the service.
    views = catalogue["18"]  # TikTok Views: 0.01625 per 1000, drip-feed
    page.fill("#service-search", "tiktok views")
    result = page.locator(f'#search-results button[data-service="{views.pk}"]')
    expect(result).to_contain_text("TikTok Views")
    expect(result).to_contain_text("TikTok · 0.01625 USD per 1000")
    expect(page.locator("#search-status")).to_have_text("1 service matches “tiktok views”.")
    result.click()
    expect(page.locator("#category")).to_have_value(str(views.category_id))
    expect(page.locator("#service")).to_have_value(str(views.pk))
    expect(page.locator("#service")).to_be_focused()
    expect(page.locator("#search-results")).to_be_hidden()
    expect(facts).to_contain_text("Drip-feed")

    # Drip-feed: the total is quantity x runs, and the charge is computed on the total, as the server charges it.
    page.check("#id_dripfeed")
    page.fill("#id_quantity", "1000")
    page.fill("#id_runs", "5")
    page.fill("#id_interval", "30")
    expect(page.locator("#total")).to_have_text("5,000")
    expect(page.locator("#total-parts")).to_have_text("(1,000 \u00d7 5 runs)")
    expect(page.locator("#charge")).to_have_text("0.0813")  # 0.01625 x 5000 / 1000 = 0.08125, half-up at 4 places
    page.click("#place-order")
    expect(page).to_have_url(re.compile(rf"{re.escape(shop)}/orders/\d+/$"))
    order = Order.objects.get(user=alice)
    assert (order.quantity, order.runs, order.total_quantity, order.charge) == (1000, 5, 5000, Decimal("0.0813"))


def test_a_double_click_on_place_order_sends_one_order(shop, browser, catalogue) -> None:
    from playwright.sync_api import expect

    alice = customer_with("100")
    page = signed_in(browser, shop)
    followers = catalogue["1"]
    page.goto(f"{shop}/order/?service={followers.pk}&link=https://instagram.com/p/alice&quantity=1000")  # as "Order again" links
    expect(page.locator("#id_link")).to_have_value("https://instagram.com/p/alice")
    expect(page.locator("#id_quantity")).to_have_value("1000")
    expect(page.locator("#charge")).to_have_text("1.17")

    # First with the submission stopped in the page (after the form's own handler), to see the button and count
    # the submissions the browser would send.
    page.evaluate(
        """() => {
            window.sent = 0;
            window.addEventListener("submit", (event) => {
                if (!event.defaultPrevented) window.sent += 1;
                event.preventDefault();
            });
        }"""
    )
    button = page.locator("#place-order")
    button.dblclick()
    expect(button).to_have_text("Placing\u2026")
    expect(button).to_be_disabled()
    assert page.evaluate("window.sent") == 1

    # Then for real: one request, one order.
    page.reload()
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.locator("#place-order").dblclick()
    expect(page).to_have_url(re.compile(rf"{re.escape(shop)}/orders/\d+/$"))
    order = Order.objects.get(user=alice)
    expect(page.locator(".messages")).to_contain_text(f"Order #{order.pk} placed: 1.17 USD charged.")
    assert (order.quantity, order.charge) == (1000, Decimal("1.1700"))
    assert len(posts) == 1
