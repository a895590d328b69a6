"""Every customer page in a real browser, as a phone and as a desktop: it fits, it passes axe-core, the keyboard reaches it.

One shop with a customer who has a balance, orders in several states, a top-up
waiting for staff and one credited, and an API key; Debian's Chromium opens
each page the customer (and an anonymous visitor) can reach:
- at 390 px no page is wider than the screen (no sideways scrolling);
- axe-core finds no serious or critical violation, in the light and the dark theme;
- pressing Tab alone reaches every link, button and field shown (the menu and the theme switch: test_layout.py);
- a screenshot of each page at 1366 and 390 px goes to ``var/screenshots/``
  (``make screenshots`` runs this file for that), and the admin dashboard's too.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from shop.affiliates.services import affiliate_link_of, referral_attach
from shop.catalogue.models import Category, CustomerPrice, Provider, ProviderService, Service, ServiceUpdate
from shop.orders.models import Order, OrderStatus, Refill
from shop.orders.placement import order_place
from shop.payments.crediting import topup_create, topup_staff_credit
from shop.payments.models import PaymentMethod
from shop.reseller_api.keys import api_key_issue
from shop.support.services import ticket_open, ticket_reply
from shop.wallet.models import LedgerEntry
from shop.wallet.services import wallet_credit
from tests.conftest import CHROMIUM
from tests.helpers import browser_sign_in, with_authenticator, with_confirmed_address
from tests.processes import ROOT, web_process

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHOTS = ROOT / "var" / "screenshots"
PASSWORD = "pages-Password-31"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
SERIOUS = {"serious", "critical"}


def make_user(username: str, **extra):
    # The web server checks passwords with Django's default hasher, not the fast one of the tests.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        return with_confirmed_address(get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD, **extra))


@pytest.fixture
def world(transactional_db) -> dict[str, object]:
    """A shop with something on every page: services of several kinds, orders in several states, top-ups, a key."""
    provider = Provider.objects.create(name="Main panel", api_url="http://127.0.0.1:9/api/v2", api_key="pages-provider-key-0001")
    followers = Category.objects.create(name="Instagram Followers", position=1)
    comments = Category.objects.create(name="Instagram Comments", position=2)

    def service(upstream_id: str, name: str, category: Category, type_: str = "Default", rate: str = "0.9", **flags) -> Service:
        offered = ProviderService.objects.create(
            provider=provider,
            upstream_id=upstream_id,
            name=name,
            type=type_,
            category=category.name,
            rate=Decimal(rate),
            min_quantity=50,
            max_quantity=10000,
            **flags,
        )
        return Service.objects.create(provider_service=offered, category=category, name=name, description=f"{name}: real-looking accounts.")

    real = service("1", "Followers · Real · Refill 30 days", followers, refill=True, cancel=True, dripfeed=True)
    fast = service("2", "Followers · Fast", followers, rate="0.45")
    service("3", "Comments · Custom", comments, type_="Custom Comments", rate="12.5")
    service("4", "Followers · Package of 1000", followers, type_="Package", rate="8")

    customer = make_user("pagecustomer")
    wallet_credit(user=customer, amount=Decimal("150"), kind=LedgerEntry.Kind.ADJUSTMENT, reason="Welcome credit")
    orders = []
    for index, status in enumerate([OrderStatus.PENDING, OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED, OrderStatus.PARTIAL]):
        order = order_place(user=customer, service=real, link=f"https://instagram.com/some.long.profile.name.number{index}", quantity=500)
        orders.append(order)
        Order.objects.filter(pk=order.pk).update(status=status, start_count=1200, remains=0 if status == OrderStatus.COMPLETED else 180)
    manual = PaymentMethod.objects.create(
        code="bank",
        kind=PaymentMethod.Kind.MANUAL,
        name="Bank transfer",
        is_enabled=True,
        currency=settings.SHOP_CURRENCY,
        instructions="IBAN XX00 1234 5678 9012, reference: your user name.",
        min_amount=Decimal("5"),
    )
    staff = make_user("pagestaff", is_staff=True, is_superuser=True)
    credited = topup_create(user=customer, method=manual, amount="40", reference="TRX-1001", urls=lambda topup: None)
    topup_staff_credit(topup=credited, staff=staff)
    waiting = topup_create(user=customer, method=manual, amount="25", reference="TRX-1002", urls=lambda topup: None)
    api_key_issue(user=customer)
    Refill.objects.create(order=orders[2], status=Refill.Status.COMPLETED)
    Refill.objects.create(order=orders[3], status=Refill.Status.REJECTED, error="The provider does not refill this order any more.")
    # The customer's own prices: pages show "Your price" beside the retail one.
    CustomerPrice.objects.create(user=customer, discount_percent=Decimal("10"))
    CustomerPrice.objects.create(user=customer, service=fast, fixed_rate=Decimal("0.4"))
    # The service updates page: a price change and a new service to list.
    now = timezone.now()
    ServiceUpdate.objects.create(service=real, kind="rate", old_rate=Decimal("1.1"), new_rate=Decimal("1.17"), created_at=now)
    ServiceUpdate.objects.create(service=fast, kind="new", new_rate=Decimal("0.585"), created_at=now)
    # Support: a ticket about an order, answered by staff and not read yet (the menu counts it).
    ticket = ticket_open(
        user=customer,
        subject="Order stuck in progress for two days",
        category="order",
        body="My order has not moved since Monday. Could you check it with the provider?\nThanks!",
        order_ids=[orders[1].pk],
    )
    ticket_reply(ticket=ticket, author=staff, body="We asked the provider: it restarts within 24 hours.", by_staff=True)
    # Affiliates: a referral who paid a top-up, so the page lists an earning.
    referee = make_user("pagereferee")
    referral_attach(referee=referee, code=affiliate_link_of(user=customer).code)
    topup_staff_credit(
        topup=topup_create(user=referee, method=manual, amount="60", reference="TRX-2001", urls=lambda topup: None), staff=staff
    )
    return {"orders": orders, "topup": waiting, "customer": customer, "ticket": ticket, "staff_secret": with_authenticator(staff)}


@pytest.fixture
def shop(world):
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


def customer_pages(world: dict[str, object]) -> list[tuple[str, str]]:
    orders = world["orders"]
    return [
        ("home", "/"),
        ("new-order", "/order/"),
        ("mass-order", "/order/mass/"),
        ("orders", "/orders/"),
        ("refills", "/orders/refills/"),
        ("order", f"/orders/{orders[1].pk}/"),
        ("order-cancel", f"/orders/{orders[0].pk}/cancel/"),
        ("balance", "/balance/"),
        ("add-funds", "/funds/"),
        ("payments", "/funds/history/"),
        ("topup", f"/funds/{world['topup'].public_id}/"),
        ("services", "/services/"),
        ("updates", "/updates/"),
        ("api", "/account/api/"),
        ("notifications", "/account/notifications/"),
        ("affiliates", "/affiliates/"),
        ("support", "/support/"),
        ("ticket-new", "/support/new/"),
        ("ticket", f"/support/{world['ticket'].pk}/"),
        ("password", "/accounts/password/change/"),
        ("email-addresses", "/accounts/email/"),
        ("two-factor", "/accounts/2fa/"),
        ("two-factor-setup", "/accounts/2fa/totp/activate/"),
    ]


VISITOR_PAGES = [
    ("visitor-services", "/services/"),
    ("visitor-updates", "/updates/"),
    ("visitor-login", "/accounts/login/"),
    ("visitor-signup", "/accounts/signup/"),
    ("visitor-password-reset", "/accounts/password/reset/"),
]


def sign_in(context, shop: str, username: str):
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{shop}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, "the sign-in did not go through"
    return page


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at {[node['target'] for node in violation['nodes'][:3]]}"
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


def overflow(page) -> int:
    """How many pixels the page is wider than the window."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def visit_all(browser, shop: str, pages: list[tuple[str, str]], username: str | None, *, scheme: str = "light") -> dict[str, list[str]]:
    """Each page at 390 and 1366 px: screenshots, overflow, what the CSP refused and axe findings per page (empty when all is well)."""
    problems: dict[str, list[str]] = {}
    for size, label in ((PHONE, "390"), (DESKTOP, "1366")):
        context = browser.new_context(viewport=size, color_scheme=scheme)
        page = sign_in(context, shop, username) if username else context.new_page()
        refused: list[str] = []  # what the Content-Security-Policy blocked, as Chromium reports it on the console
        page.on("console", lambda message, into=refused: into.append(message.text) if "Content Security Policy" in message.text else None)
        for name, path in pages:
            refused.clear()
            response = page.goto(f"{shop}{path}")
            page.wait_for_load_state("networkidle")
            found = [] if response and response.ok else [f"HTTP {response.status if response else '?'}"]
            found += [f"CSP: {text[:200]}" for text in refused]
            shoot(page, f"{name}-{label}{'-dark' if scheme == 'dark' else ''}")
            if label == "390" and (extra := overflow(page)) > 0:
                found.append(f"{extra} px wider than a 390 px screen")
            found += serious_violations(page)
            if found:
                problems[f"{name} at {label}"] = found
        context.close()
    return problems


def test_every_customer_page_fits_a_phone_and_passes_axe(shop, browser, world) -> None:
    assert visit_all(browser, shop, customer_pages(world), "pagecustomer") == {}


def test_every_customer_page_passes_axe_in_the_dark_theme(shop, browser, world) -> None:
    assert visit_all(browser, shop, customer_pages(world), "pagecustomer", scheme="dark") == {}


def test_the_pages_a_visitor_sees_fit_a_phone_and_pass_axe(shop, browser) -> None:
    assert visit_all(browser, shop, VISITOR_PAGES, None) == {}


# A radio group is one stop for Tab (the arrow keys move within it), so it counts once, by its name.
FOCUS_KEY = "el => el.type === 'radio' ? `radio group ${el.name}` : el.outerHTML.slice(0, 120)"
FOCUSABLE = (
    "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), summary"
)
TAB_REACHES = f"""() => {{
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  return [...document.querySelectorAll('{FOCUSABLE}')].filter(shown).filter(el => el.tabIndex >= 0).map({FOCUS_KEY});
}}"""
ACTIVE = f"() => document.activeElement ? ({FOCUS_KEY})(document.activeElement) : ''"


def keyboard_misses(page, limit: int = 400) -> list[str]:
    """The links, buttons and fields shown that pressing Tab from the top of the page never reaches."""
    wanted = set(page.evaluate(TAB_REACHES))
    reached: set[str] = set()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(limit):
        page.keyboard.press("Tab")
        current = page.evaluate(ACTIVE)
        if current in reached and reached >= wanted:
            break
        reached.add(current)
    return sorted(wanted - reached)


def test_the_keyboard_alone_reaches_everything_on_every_customer_page(shop, browser, world) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = sign_in(context, shop, "pagecustomer")
    misses = {}
    for name, path in customer_pages(world):
        page.goto(f"{shop}{path}")
        page.wait_for_load_state("networkidle")
        if missed := keyboard_misses(page):
            misses[name] = missed
    assert misses == {}


def test_the_admin_dashboard_screenshot(shop, browser, world) -> None:
    """The back office's first page, for the look to be reviewed with the customer pages; it must render for a superuser."""
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.set_default_timeout(15_000)
    browser_sign_in(page, shop, "pagestaff", PASSWORD, start="/admin/login/", secret=world["staff_secret"])  # and its code
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    response = page.goto(f"{shop}/admin/")
    assert response is not None and response.ok
    page.wait_for_load_state("networkidle")
    shoot(page, "admin-dashboard-1366")
    assert Path(SHOTS / "admin-dashboard-1366.png").stat().st_size > 10_000
    # The theme works under the admin's policy: Alpine.js ran (the sidebar's groups are drawn) and nothing was refused.
    ticket = world["ticket"]
    response = page.goto(f"{shop}/admin/shop/ticket/{ticket.pk}/change/")
    assert response is not None and response.ok
    page.wait_for_load_state("networkidle")
    assert page.locator("#ticket-thread").is_visible() and page.locator("#ticket-send").is_visible()
    assert refused == []
