"""Orders and the API key in a real browser: Debian's Chromium driven by Playwright.

Against the shop's own web server (a process, on the PostgreSQL test
database; its broker is kombu's in-memory one, so no task runs anywhere):
Cancel asks first and Back changes nothing; a new API key is made only after
its confirmation, shown once, and copied with its button; the orders page
fits a 390 px screen with its orders as cards, and the live refresh recolours
a status badge.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import override_settings

from shop.catalogue.retail import services_import
from shop.catalogue.sync import catalogue_sync
from shop.models import ApiKey, LedgerEntry, Order, OrderStatus, Provider, Service
from shop.orders.placement import order_place
from shop.reseller_api.keys import api_key_issue
from shop.wallet.services import wallet_credit
from tests.conftest import CHROMIUM, SANDBOX_KEY
from tests.helpers import with_confirmed_address
from tests.processes import web_process

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "a-long-Passw0rd!"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
# Long enough, and without a place to break, to push a table column wide or wrap one letter a line.
LONG_LINK = "https://instagram.com/p/" + "a1b2c3d4e5" * 12
# Playwright's sync API runs an event loop in this thread; the ORM calls below are plain blocking ones, made between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def service(transactional_db, sandbox) -> Service:
    """Instagram Followers [Real, Refill 30D]: it takes refills and cancellations."""
    provider = Provider.objects.create(name="Sandbox", api_url=sandbox.url, api_key=SANDBOX_KEY)
    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    return Service.objects.get(provider_service__upstream_id="1")


@pytest.fixture
def shop(service):
    with web_process(CELERY_BROKER_URL="memory://", LIVE_REFRESH_SECONDS="1") as base_url:
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


def new_customer(username: str):
    """A customer with 100 on the balance, whose password the web server (with Django's default hashers) can check."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user = with_confirmed_address(get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD))
    wallet_credit(user=user, amount=Decimal("100"), kind=LedgerEntry.Kind.DEPOSIT)
    return user


def signed_in(browser, shop: str, username: str, **context):
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{shop}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def assert_fits(page, what: str) -> None:
    scroll_width, screen_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if scroll_width > screen_width:
        sticking_out = page.evaluate(
            """[...document.querySelectorAll("body *")]
                .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 0.5)
                .map((element) => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") + "." + element.className)"""
        )
        pytest.fail(f"{what} is {scroll_width} px wide on a {screen_width} px screen, past its right edge: {sticking_out[:10]}")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [
        f"{v['id']}: {v['help']} at {[node['target'] for node in v['nodes'][:3]]}"
        for v in violations
        if v["impact"] in {"serious", "critical"}
    ]


def test_cancel_asks_first_back_changes_nothing_and_confirm_cancels(shop, browser, service) -> None:
    from playwright.sync_api import expect

    customer = new_customer("dora")
    order = order_place(user=customer, service=service, link=LONG_LINK, quantity=1000)
    page = signed_in(browser, shop, "dora", viewport={"width": 1366, "height": 900})
    page.goto(f"{shop}/orders/")
    row = page.locator(f'tr[data-order="{order.pk}"]')
    expect(row.locator('[data-cell="status"]')).to_have_text("Pending")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "orders-1366.png", full_page=True)

    row.get_by_role("link", name=f"Cancel order #{order.pk}").click()
    expect(page).to_have_url(f"{shop}/orders/{order.pk}/cancel/?from=orders")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancel order #{order.pk}?")
    expect(page.locator("[data-consequence]")).to_contain_text("goes back to your balance now")
    # Back, from the keyboard: the list again, and nothing changed.
    page.get_by_role("link", name="Back", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{shop}/orders/")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.AWAITING

    # The order page's Cancel goes the same way; confirming cancels and refunds.
    page.goto(f"{shop}/orders/{order.pk}/")
    page.get_by_role("link", name="Cancel the order").click()
    expect(page).to_have_url(f"{shop}/orders/{order.pk}/cancel/")
    page.get_by_role("button", name=f"Yes, cancel order #{order.pk}").click()
    expect(page).to_have_url(f"{shop}/orders/{order.pk}/")
    expect(page.locator(".messages")).to_contain_text("Order canceled and refunded.")
    expect(page.locator('[data-cell="status"]')).to_have_text("Canceled")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELED


def test_a_new_api_key_is_confirmed_shown_once_and_copied(shop, browser) -> None:
    from playwright.sync_api import expect

    customer = new_customer("eve")
    old_key = api_key_issue(user=customer)
    page = signed_in(browser, shop, "eve", permissions=["clipboard-read", "clipboard-write"])
    page.goto(f"{shop}/account/api/")
    expect(page.locator(".api-key")).to_contain_text("the old key stops working at once")
    page.get_by_role("link", name="Generate a new key…").click()
    expect(page).to_have_url(f"{shop}/account/api/new-key/")
    expect(page.locator("main")).to_contain_text("stops working the moment the new one is made")
    assert serious_violations(page) == []
    # Back changes nothing.
    page.get_by_role("link", name="Back", exact=True).click()
    expect(page).to_have_url(f"{shop}/account/api/")
    assert ApiKey.objects.get(user=customer).prefix == old_key[:10]

    page.get_by_role("link", name="Generate a new key…").click()
    page.get_by_role("button", name="Yes, replace my key").click()
    expect(page).to_have_url(f"{shop}/account/api/")
    new_key = page.locator("[data-new-key]").inner_text()
    assert new_key.startswith("smm_") and new_key != old_key
    assert ApiKey.objects.get(user=customer).prefix == new_key[:10]

    copy = page.get_by_role("button", name="Copy the key")
    expect(copy).to_be_visible()
    copy.focus()
    page.keyboard.press("Enter")
    expect(page.locator('[data-copy-status="new-key"]')).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == new_key
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "api-new-key.png")
    assert serious_violations(page) == []

    # A reload shows the prefix only, and makes no other key.
    page.reload()
    expect(page.locator("[data-new-key]")).to_have_count(0)
    expect(page.locator(".api-key")).to_contain_text(f"{new_key[:10]}…")
    assert ApiKey.objects.get(user=customer).prefix == new_key[:10]


def test_the_orders_page_fits_a_phone_as_cards_and_the_badge_follows_the_status(shop, browser, service) -> None:
    from playwright.sync_api import expect

    customer = new_customer("finn")
    done = order_place(user=customer, service=service, link=LONG_LINK, quantity=1000)
    Order.objects.filter(pk=done.pk).update(status=OrderStatus.COMPLETED, upstream_order_id="90001", start_count=120, remains=0)
    for number in range(3):
        order_place(user=customer, service=service, link=f"{LONG_LINK}/{number}", quantity=1000)
    watched = order_place(user=customer, service=service, link="https://instagram.com/p/watched", quantity=1000)

    page = signed_in(browser, shop, "finn", **PHONE)
    page.goto(f"{shop}/orders/")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "orders-cards-390.png", full_page=True)
    assert page.evaluate("window.innerWidth") == 390
    assert_fits(page, "the orders page")

    # Cards: each cell shows its label; a long link wraps within the card's width.
    card = page.locator(f'tr[data-order="{done.pk}"]')
    label = card.locator('td[data-label="Status"]').evaluate("(cell) => getComputedStyle(cell, '::before').content")
    assert label == '"Status"'
    link = card.locator("td.link a").bounding_box()
    assert link["width"] > 150 and link["x"] + link["width"] <= 390, link
    expect(card.get_by_role("link", name=f"Refill order #{done.pk}")).to_be_visible()
    expect(card.locator('[data-cell="status"]')).to_have_class("status badge good")

    # The live refresh changes the badge's word and colour.
    badge = page.locator(f'tr[data-order="{watched.pk}"] [data-cell="status"]')
    expect(badge).to_have_class("status badge neutral")
    Order.objects.filter(pk=watched.pk).update(status=OrderStatus.IN_PROGRESS, upstream_order_id="90002")
    expect(badge).to_have_text("In progress")
    expect(badge).to_have_class("status badge info")

    assert serious_violations(page) == []

    for path in (f"/orders/{done.pk}/", f"/orders/{done.pk}/refill/", f"/orders/{watched.pk}/cancel/"):
        page.goto(f"{shop}{path}")
        assert_fits(page, path)
        assert serious_violations(page) == [], path
    page.screenshot(path=SHOTS / "order-confirm-390.png", full_page=True)
