"""A customer's whole visit in a real browser: Debian's Chromium driven by Playwright.

Against the shop's own web server and a real Celery worker (both as processes,
on the PostgreSQL test database and Redis) and the sandbox panel over HTTP:
sign up, get credited by an admin, order a Default and a Custom Comments
service while watching the live price, find both orders, and see a status
change arrive on the orders page without reloading it. The sign-up is
activated by the link the shop mails (to files the test reads).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from celery import Celery
from django.contrib.auth import get_user_model
from django.db import connections

from panelapi.sandbox import SandboxPanel, SandboxServer
from shop.catalogue.retail import services_import
from shop.catalogue.sync import catalogue_sync
from shop.models import Order, Provider, Service
from tests.conftest import CHROMIUM, SANDBOX_KEY
from tests.helpers import browser_sign_in, with_confirmed_address
from tests.processes import ROOT, broker_url, shop_env, web_process, worker_process

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
# Playwright's sync API runs an event loop in this thread; the ORM calls below
# are plain blocking ones, made between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def sandbox_fast():
    server = SandboxServer(SandboxPanel(SANDBOX_KEY, seed=3, stage_seconds=3.0)).start()
    yield server
    server.stop()


@pytest.fixture
def shop(transactional_db, sandbox_fast, tmp_path):
    provider = Provider.objects.create(name="Sandbox", api_url=sandbox_fast.url, api_key=SANDBOX_KEY)
    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    # Made by the shop's own command, so the password is hashed as the web server expects.
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "boss", "--email", "boss@example.com"],
        cwd=ROOT,
        env=shop_env(DJANGO_SUPERUSER_PASSWORD="boss-password-1"),
        check=True,
        capture_output=True,
    )
    with_confirmed_address(get_user_model().objects.get(username="boss"))  # staff confirm their address like anyone
    # The web server writes its mails to files here, where the test reads the activation link.
    with worker_process(ORDER_POLL_INTERVAL="1"), web_process(LIVE_REFRESH_SECONDS="1", EMAIL_URL=f"filemail:///{tmp_path}") as base_url:
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


def test_customer_signs_up_is_credited_orders_and_watches_the_status(shop, browser, tmp_path) -> None:
    try:
        customer_visit(shop, browser, tmp_path)
    finally:
        # ORM calls between Playwright steps run in Playwright's context, on a
        # connection of their own: close it so the test database can be dropped.
        connections.close_all()


def mailed_activation_link(mails: Path) -> str:
    """The activation link in the one mail the web server wrote (the file backend: one file per connection)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for sent in mails.glob("*.log"):
            match = re.search(r"(http://\S+/accounts/confirm-email/\S+/)", sent.read_text())
            if match:
                return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no activation mail in {mails}")


def mailed_text(mails: Path, containing: str) -> str:
    """The text of the mail the web server wrote that contains ``containing`` (the file backend: one file per connection)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for sent in mails.glob("*.log"):
            text = sent.read_text()
            if containing in text:
                return text
        time.sleep(0.1)
    raise AssertionError(f"no mail with {containing!r} in {mails}")


def customer_visit(shop: str, browser, mails: Path) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    customer = browser.new_page()
    customer.set_default_timeout(15_000)

    # Sign up.
    customer.goto(f"{shop}/accounts/signup/")
    customer.fill("#id_username", "alice")
    customer.fill("#id_email", "alice@example.com")
    customer.fill("#id_password1", "a-long-Passw0rd!")
    customer.fill("#id_password2", "a-long-Passw0rd!")
    customer.click("main button[type=submit]")
    expect(customer).to_have_url(f"{shop}/accounts/confirm-email/")
    expect(customer.locator("h1")).to_have_text("Verify Your Email Address")
    # The link in the mail shows a button that confirms the address and logs her in.
    customer.goto(mailed_activation_link(mails))
    customer.locator("main form button[type=submit]").click()
    expect(customer).to_have_url(f"{shop}/order/")
    expect(customer.locator(".messages")).to_contain_text("You have confirmed alice@example.com.")
    expect(customer.locator("[data-nav-balance]")).to_have_text("0.00 USD")

    # An admin credits 50.00.
    admin = browser.new_page()
    admin.set_default_timeout(15_000)
    # The admin's login is the shop's. Without an authenticator yet, boss also types a code mailed to his address
    # (a stolen password alone cannot set one up), then sets up the authenticator app the admin asks for.
    browser_sign_in(admin, shop, "boss", "boss-password-1", start="/admin/login/", mail=lambda: mailed_text(mails, "sign-in code"))
    expect(admin.locator("h1")).to_contain_text("Recovery Codes")
    admin.goto(f"{shop}/admin/")
    expect(admin).to_have_url(f"{shop}/admin/")
    alice = get_user_model().objects.get(username="alice")
    admin.goto(f"{shop}/admin/auth/user/{alice.pk}/balance/")
    admin.fill("#id_amount", "50.00")
    admin.check("input[name=direction][value=credit]")
    admin.fill("#id_reason", "Bank transfer 42")
    admin.get_by_role("button", name="Apply").click()
    # Back on the customer's overview, with the new balance said.
    expect(admin).to_have_url(f"{shop}/admin/auth/user/{alice.pk}/overview/")
    expect(admin.get_by_text("the balance is now 50.0000")).to_be_visible()

    # A Default service, watching the live price.
    customer.goto(f"{shop}/order/")
    expect(customer.locator("[data-nav-balance]")).to_have_text("50.00 USD")
    customer.select_option("#category", label="Instagram Followers")
    followers = Service.objects.get(provider_service__upstream_id="1")
    customer.select_option("#service", value=str(followers.pk))
    customer.fill("#id_link", "https://instagram.com/p/alice1")
    customer.fill("#id_quantity", "1000")
    expect(customer.locator("#charge")).to_have_text("1.17")
    customer.fill("#id_quantity", "1500")
    expect(customer.locator("#charge")).to_have_text("1.755")
    customer.screenshot(path=SHOTS / "order-default.png", full_page=True)
    customer.click("#order-form button[type=submit]")
    expect(customer.locator(".messages")).to_contain_text("placed: 1.755 USD charged")
    first = Order.objects.get(user=alice, quantity=1500)
    expect(customer).to_have_url(f"{shop}/orders/{first.pk}/")

    # A Custom Comments service: its category's services arrive by fetch, the quantity is the line count.
    customer.goto(f"{shop}/order/")
    customer.select_option("#category", label="Instagram Comments")
    comments = Service.objects.get(provider_service__upstream_id="7")
    expect(customer.locator(f'#service option[value="{comments.pk}"]')).to_have_text(f"#{comments.pk} {comments.name} — 10.4 USD per 1000")
    customer.select_option("#service", value=str(comments.pk))
    expect(customer.locator('[data-field="quantity"]')).to_be_hidden()
    expect(customer.locator('[data-field="comments"]')).to_be_visible()
    customer.fill("#id_link", "https://instagram.com/p/alice2")
    customer.fill("#id_comments", "\n".join(f"Lovely shot number {i}" for i in range(10)))
    expect(customer.locator("#charge")).to_have_text("0.104")
    customer.screenshot(path=SHOTS / "order-comments.png", full_page=True)
    customer.click("#order-form button[type=submit]")
    expect(customer.locator(".messages")).to_contain_text("placed: 0.104 USD charged")
    second = Order.objects.get(user=alice, quantity=10)
    assert second.extra["comments"].count("\n") == 9

    # Both in the history; then the worker and the sandbox move them on while the page stays open.
    customer.goto(f"{shop}/orders/")
    rows = customer.locator("tbody tr[data-order]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(f"#{second.pk}")
    status = customer.locator(f'tr[data-order="{first.pk}"] [data-cell="status"]')
    expect(status).to_have_text("Pending")
    customer.evaluate("window.__notReloaded = true")
    app = Celery(broker=broker_url())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and status.inner_text() == "Pending":
        app.send_task("shop.tasks.orders_refresh_all")
        time.sleep(2)
    expect(status).not_to_have_text("Pending")
    assert customer.evaluate("window.__notReloaded") is True
    customer.screenshot(path=SHOTS / "orders.png", full_page=True)
    assert Order.objects.get(pk=first.pk).upstream_order_id
    assert get_user_model().objects.get(username="alice").wallet.balance <= Decimal("50") - Decimal("1.8590")
