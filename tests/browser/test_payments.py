"""Adding funds in a real browser: Debian's Chromium driven by Playwright, through the sandbox payment gateway.

Against the shop's own web server (a process, on the PostgreSQL test
database) and the real sandbox gateway over HTTP on loopback (the
``pay_sandbox`` fixture): the method's API URL points at the gateway, which
sends its notifications to the URL the shop gave it, the web server's. No
Celery worker runs (the web server's broker is kombu's in-memory one), so the
only thing that can credit a top-up here is the gateway's notification.

The gateway's notifications are held until the test releases them: the payer
lands back on the top-up page while it is still pending, which shows the
return alone credits nothing, and then the page must change to paid (or
failed) and the balance in the menu with it, without a reload.
"""

from __future__ import annotations

import os
import re
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import override_settings

from shop.models import LedgerEntry, Order, PaymentMethod, Service, TopUp, TopUpEvent, TopUpState
from shop.payments.sandbox import Delivery, SandboxServer
from shop.storefront.templatetags.shop_format import format_money
from shop.wallet.selectors import balance_of
from tests.conftest import CHROMIUM
from tests.helpers import with_confirmed_address
from tests.payments import conftest as payment_fixtures
from tests.payments.conftest import PAY_API_KEY, PAY_MERCHANT, PAY_WEBHOOK_SECRET
from tests.processes import web_process

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "a-long-Passw0rd!"
# Playwright's sync API runs an event loop in this thread; the ORM calls below are plain blocking ones, made between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# The real sandbox payment gateway on a loopback port, as the payment tests have it.
pay_sandbox = payment_fixtures.pay_sandbox


class HeldNotifications:
    """Keeps the sandbox gateway's notifications from leaving until `release`, as a slow gateway would."""

    def __init__(self, server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self._server = server
        self._send = server.gateway.courier.send
        self._held: list[Delivery] = []
        self._lock = threading.Lock()
        monkeypatch.setattr(server.gateway.courier, "send", self._hold)

    def _hold(self, delivery: Delivery) -> Delivery:
        with self._lock:
            self._held.append(delivery)
        return delivery

    def release(self) -> list[Delivery]:
        """Send every notification held so far; return them once each is delivered or out of tries."""
        with self._lock:
            held, self._held = self._held, []
        assert held, "the gateway had no notification to send"
        for delivery in held:
            self._send(delivery)
        return [delivery.wait(15) for delivery in held]


@pytest.fixture
def held(pay_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> HeldNotifications:
    return HeldNotifications(pay_sandbox, monkeypatch)


@pytest.fixture
def pay_method(transactional_db, pay_sandbox: SandboxServer) -> PaymentMethod:
    """The sandbox method as an admin sets it up: its API URL is the running gateway; 2.5 % fee, 10 % bonus from 10.00."""
    return PaymentMethod.objects.create(
        code="sandbox",
        kind=PaymentMethod.Kind.SANDBOX,
        name="Sandbox card",
        is_enabled=True,
        currency=settings.SHOP_CURRENCY,
        min_amount=Decimal("5"),
        max_amount=Decimal("500"),
        fee_percent=Decimal("2.5"),
        bonus_percent=Decimal("10"),
        bonus_threshold=Decimal("10"),
        api_url=pay_sandbox.url,
        merchant_id=PAY_MERCHANT,
        api_key=PAY_API_KEY,
        webhook_secret=PAY_WEBHOOK_SECRET,
    )


@pytest.fixture
def shop(pay_method):
    """The shop's web server; it sends no task anywhere a worker would run it (the broker is in memory)."""
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


def new_customer(username: str):
    """A customer with no money yet, whose password the web server (with Django's default hashers) can check."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        return with_confirmed_address(get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD))


def signed_in(browser, shop: str, username: str, **context):
    from playwright.sync_api import expect

    page = browser.new_context(**context).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{shop}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page).to_have_url(f"{shop}/order/")
    expect(page.locator("[data-nav-balance]")).to_have_text("0.00 USD")
    return page


def open_add_funds(page, shop: str) -> None:
    """Add funds, from the menu of whatever page is open."""
    from playwright.sync_api import expect

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Add funds", exact=True).click()
    expect(page).to_have_url(f"{shop}/funds/")


def go_to_the_gateway(page, user, method: PaymentMethod, gateway: SandboxServer, amount: str) -> TopUp:
    """On the add funds page: the method, the amount, Continue; lands on the gateway's page for the new top-up."""
    from playwright.sync_api import expect

    page.check(f'input[name="method"][value="{method.pk}"]')
    page.fill("#id_amount", amount)
    page.click("#funds-form button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(f"{gateway.url}/pay/") + r"sbx_\w+"))
    topup = TopUp.objects.get(user=user)
    assert page.url == f"{gateway.url}/pay/{topup.gateway_id}"
    return topup


def test_a_new_customer_adds_funds_through_the_sandbox_sees_them_live_and_orders_with_them(
    shop,
    browser,
    pay_method,
    pay_sandbox,
    held,
    catalogue,
) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    alice = new_customer("alice")
    page = signed_in(browser, shop, "alice")

    # The quote before paying: 20.00 less a 2.5 % fee, plus a 10 % bonus (20.00 is past the 10.00 threshold).
    open_add_funds(page, shop)
    page.check(f'input[name="method"][value="{pay_method.pk}"]')
    page.fill("#id_amount", "20")
    expect(page.locator("#quote-fee")).to_have_text("0.50")
    expect(page.locator("#quote-bonus")).to_have_text("2.00")
    expect(page.locator("#quote-credited")).to_have_text("21.50")
    page.screenshot(path=SHOTS / "funds-add.png", full_page=True)
    topup = go_to_the_gateway(page, alice, pay_method, pay_sandbox, "20")
    assert (topup.user_id, topup.amount, topup.fee, topup.bonus, topup.state) == (
        alice.pk,
        Decimal("20"),
        Decimal("0.5"),
        Decimal("2"),
        "pending",
    )
    expect(page.locator(".amount")).to_have_text("20.00 USD")

    # Paid at the gateway, back on the top-up page: still pending, nothing credited, until the gateway's notification arrives.
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page).to_have_url(f"{shop}/funds/{topup.public_id}/")
    state = page.locator("[data-topup]")
    expect(state.locator('[data-cell="label"]')).to_have_text("Pending")
    assert pay_sandbox.payment(topup.gateway_id).status == "paid"
    assert TopUp.objects.get(pk=topup.pk).state == TopUpState.PENDING
    assert balance_of(user=alice) == 0 and not LedgerEntry.objects.filter(wallet__user=alice).exists()
    page.evaluate("window.__notReloaded = true")

    (delivery,) = held.release()
    assert delivery.delivered and delivery.attempts == ["HTTP 200"], delivery.attempts
    expect(state.locator('[data-cell="label"]')).to_have_text("Paid", timeout=20_000)
    expect(state.locator('[data-cell="text"]')).to_have_text("Paid: 21.50 USD added to your balance.")
    expect(page.locator("[data-nav-balance]")).to_have_text("21.50 USD")
    expect(page.locator("[data-once-paid]")).to_be_hidden()  # "added to your balance ... once paid" no longer says so
    expect(state.locator('[data-cell="pay"]')).to_be_hidden()
    assert page.evaluate("window.__notReloaded") is True
    assert page.url == f"{shop}/funds/{topup.public_id}/"
    page.screenshot(path=SHOTS / "topup-paid.png", full_page=True)
    paid = TopUpEvent.objects.get(topup=topup, kind=TopUpEvent.Kind.PAID)
    assert paid.actor == TopUpEvent.Actor.GATEWAY
    assert balance_of(user=alice) == Decimal("21.5")

    # That money buys an order, which the orders page lists.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New order", exact=True).click()
    expect(page).to_have_url(f"{shop}/order/")
    followers = Service.objects.get(provider_service__upstream_id="1")
    page.select_option("#category", label=followers.category.name)
    page.select_option("#service", value=str(followers.pk))
    page.fill("#id_link", "https://instagram.com/p/alice-funds")
    page.fill("#id_quantity", "1000")
    page.click("#order-form button[type=submit]")
    order = Order.objects.get(user=alice)
    expect(page.locator(".messages")).to_contain_text(f"Order #{order.pk} placed: {format_money(order.charge)} USD charged")
    expect(page.locator("[data-nav-balance]")).to_have_text(f"{format_money(Decimal('21.5000') - order.charge)} USD")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders", exact=True).click()
    row = page.locator(f'tbody tr[data-order="{order.pk}"]')
    expect(row).to_contain_text(f"#{order.pk}")
    expect(row).to_contain_text("https://instagram.com/p/alice-funds")
    assert order.charge > 0 and balance_of(user=alice) == Decimal("21.5") - order.charge


def test_declining_at_the_gateway_and_coming_back_credits_nothing(shop, browser, pay_method, pay_sandbox, held) -> None:
    from playwright.sync_api import expect

    bob = new_customer("bob")
    page = signed_in(browser, shop, "bob")
    open_add_funds(page, shop)
    topup = go_to_the_gateway(page, bob, pay_method, pay_sandbox, "15")

    page.get_by_role("button", name="Decline", exact=True).click()
    expect(page).to_have_url(f"{shop}/funds/{topup.public_id}/")
    state = page.locator("[data-topup]")
    expect(state.locator('[data-cell="label"]')).to_have_text("Pending")
    page.evaluate("window.__notReloaded = true")

    (delivery,) = held.release()
    assert delivery.delivered, delivery.attempts
    expect(state.locator('[data-cell="label"]')).to_have_text("Failed", timeout=20_000)
    expect(state.locator('[data-cell="text"]')).to_have_text("The payment failed. Nothing was added to your balance.")
    expect(page.locator("[data-nav-balance]")).to_have_text("0.00 USD")
    assert page.evaluate("window.__notReloaded") is True
    assert TopUp.objects.get(pk=topup.pk).state == TopUpState.FAILED
    assert balance_of(user=bob) == 0 and not LedgerEntry.objects.filter(wallet__user=bob).exists()
    # Coming back to the page again, or asking for its state, changes nothing either.
    page.reload()
    expect(state.locator('[data-cell="label"]')).to_have_text("Failed")
    expect(page.locator("[data-nav-balance]")).to_have_text("0.00 USD")


def test_add_funds_fits_a_390_px_wide_screen_without_sideways_scrolling(shop, browser, pay_method) -> None:
    from playwright.sync_api import expect

    new_customer("carol")
    page = signed_in(browser, shop, "carol", viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True)
    page.goto(f"{shop}/funds/")
    expect(page.locator(f'input[name="method"][value="{pay_method.pk}"]')).to_be_visible()
    page.fill("#id_amount", "20")
    expect(page.locator("#quote-credited")).to_have_text("21.50")
    page.screenshot(path=SHOTS / "funds-add-390.png", full_page=True)
    scroll_width, screen_width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert screen_width == 390
    if scroll_width > screen_width:
        sticking_out = page.evaluate(
            """[...document.querySelectorAll("body *")]
                .filter((element) => element.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
                .map((element) => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") + "." + element.className)"""
        )
        pytest.fail(f"the page is {scroll_width} px wide on a {screen_width} px screen, past its right edge: {sticking_out[:10]}")
