"""The back office in a real browser: an admin resolves an order that needs attention from the order's own page.

Debian's Chromium driven by Playwright against the shop's web server (a process, on the PostgreSQL
test database). The admin opens the needs-attention list, sees why and for how long each order is
stuck, opens one, presses "Declare not placed and refund", confirms, and lands back on the order
with a message; the order failed and its charge went back once, recorded as the admin's doing.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import override_settings

from shop.catalogue.models import Category, Provider, ProviderService, Service
from shop.orders.models import Order, OrderEvent, OrderStatus
from shop.orders.placement import order_place
from shop.wallet.models import LedgerEntry
from shop.wallet.services import wallet_credit
from tests.conftest import CHROMIUM
from tests.helpers import browser_sign_in, with_authenticator, with_confirmed_address
from tests.processes import ROOT, web_process

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHOTS = ROOT / "var" / "screenshots"
PASSWORD = "admin-Password-47"
DESKTOP = {"width": 1366, "height": 900}
STUCK = "No answer from the provider within 10 minutes: the order may or may not be placed."


def make_user(username: str, **extra):
    # The web server checks passwords with Django's default hasher, not the fast one of the tests.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        return with_confirmed_address(get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD, **extra))


@pytest.fixture
def stuck(transactional_db) -> Order:
    """A customer's order whose outcome at the provider is unknown, as the submission sweep leaves it."""
    provider = Provider.objects.create(name="Main panel", api_url="http://127.0.0.1:9/api/v2", api_key="admin-browser-key-0001")
    category = Category.objects.create(name="Instagram Followers")
    offered = ProviderService.objects.create(
        provider=provider,
        upstream_id="1",
        name="Followers",
        category=category.name,
        rate=Decimal("0.9"),
        min_quantity=50,
        max_quantity=10000,
    )
    service = Service.objects.create(provider_service=offered, category=category, name="Followers · Real")
    customer = make_user("stuckcustomer")
    wallet_credit(user=customer, amount=Decimal("50"), kind=LedgerEntry.Kind.ADJUSTMENT, reason="Welcome credit")
    order = order_place(user=customer, service=service, link="https://instagram.com/someone", quantity=1000)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.NEEDS_ATTENTION, error=STUCK)
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.UNKNOWN, actor=OrderEvent.Actor.SYSTEM, status=OrderStatus.NEEDS_ATTENTION)
    order.admin_secret = with_authenticator(make_user("browseradmin", is_staff=True, is_superuser=True))
    order.refresh_from_db()
    return order


@pytest.fixture
def shop(stuck):
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
        connections.close_all()


def test_an_admin_resolves_a_needs_attention_order_from_its_page(shop, browser, stuck) -> None:
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.set_default_timeout(15_000)
    browser_sign_in(page, shop, "browseradmin", PASSWORD, start="/admin/login/", secret=stuck.admin_secret)  # and its code

    page.goto(f"{shop}/admin/shop/order/?status__exact=needs_attention")
    row = page.locator("#result_list tbody tr", has_text=STUCK[:30])
    assert row.count() == 1 and "minute" in row.inner_text()  # why, and for how long
    row.locator(f'a[href*="/shop/order/{stuck.pk}/change/"]').first.click()
    page.wait_for_load_state()
    assert STUCK in page.locator("#order-attention").inner_text()

    page.click("#order-resolve-not-placed")
    page.wait_for_load_state()
    assert "Declare order" in page.content() and not LedgerEntry.objects.filter(order=stuck, kind=LedgerEntry.Kind.REFUND).exists()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "admin-order-resolve-1366.png"), full_page=True)
    page.click("#order-resolve-confirm")
    page.wait_for_load_state()

    assert page.url.endswith(f"/admin/shop/order/{stuck.pk}/change/")
    assert f"Order #{stuck.pk} declared not placed" in page.content()
    assert page.locator("#order-attention").count() == 0
    stuck.refresh_from_db()
    assert stuck.status == OrderStatus.FAILED
    refunds = LedgerEntry.objects.filter(order=stuck, kind=LedgerEntry.Kind.REFUND)
    assert list(refunds.values_list("amount", flat=True)) == [stuck.charge]
    resolved = stuck.events.get(kind=OrderEvent.Kind.RESOLVED)
    assert resolved.actor_user.username == "browseradmin"
