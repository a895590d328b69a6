"""The shared layout in a real browser (Debian's Chromium driven by Playwright): the side menu on a wide screen, the
top bar and its menu button on a phone (keyboard only, and without JS), the balance in sight, the theme switch, and
axe-core on the customer's home in both themes.

Against the shop's own web server (a process, on the PostgreSQL test database; kombu's in-memory broker: no task runs).
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import override_settings

from shop.models import LedgerEntry
from shop.wallet.services import wallet_credit
from tests.conftest import CHROMIUM
from tests.helpers import with_confirmed_address
from tests.processes import web_process

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "a-long-Passw0rd!"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
WIDE = {"viewport": {"width": 1366, "height": 900}}
DARK_BG = "rgb(14, 18, 24)"  # --bg of the dark theme
LIGHT_BG = "rgb(244, 246, 250)"  # --bg of the light theme
# Playwright's sync API runs an event loop in this thread; the ORM calls below are plain blocking ones, made between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def shop(transactional_db):
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user = with_confirmed_address(get_user_model().objects.create_user("erin", "erin@example.com", PASSWORD))
    wallet_credit(user=user, amount=Decimal("1234.5"), kind=LedgerEntry.Kind.DEPOSIT)
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


def signed_in(browser, shop: str, **context):
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{shop}/accounts/login/")
    page.fill("#id_login", "erin")
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.goto(f"{shop}/")
    return page


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']][:5]}"
        for violation in results.response["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


def assert_fits(page, what: str) -> None:
    scroll_width, screen_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= screen_width, f"{what} is {scroll_width} px wide on a {screen_width} px screen"


def test_on_a_wide_screen_the_menu_is_at_the_side_with_the_balance(shop, browser) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    page = signed_in(browser, shop, **WIDE)
    menu = page.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("link", name="Home", exact=True)).to_have_attribute("aria-current", "page")
    expect(menu.get_by_role("link", name="Orders", exact=True)).to_be_visible()
    expect(page.locator("[data-menu-toggle]")).to_be_hidden()
    expect(page.locator("[data-nav-balance]")).to_have_text("1,234.50 USD")
    side, main = page.locator("header.side").bounding_box(), page.locator("main").bounding_box()
    assert side["x"] == 0 and side["width"] < 300 and main["x"] >= side["width"]
    assert serious_violations(page) == []
    page.screenshot(path=SHOTS / "home-1366.png", full_page=True)
    # On a screen shorter than the menu the sidebar scrolls: the balance never slides over the first entry.
    page.set_viewport_size({"width": 1366, "height": 600})
    balance, home = page.locator(".bar-balance").bounding_box(), menu.get_by_role("link", name="Home", exact=True).bounding_box()
    assert balance["y"] + balance["height"] <= home["y"], (balance, home)


def test_on_a_phone_the_menu_opens_and_closes_from_the_keyboard(shop, browser) -> None:
    from playwright.sync_api import expect

    page = signed_in(browser, shop, **PHONE)
    orders = page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders", exact=True)
    button = page.get_by_role("button", name="Menu")
    expect(page.locator("[data-nav-balance]")).to_be_visible()
    expect(orders).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    assert_fits(page, "the home page")
    page.screenshot(path=SHOTS / "home-390.png", full_page=True)

    # Skip link, brand, balance, then the menu button.
    for _ in range(4):
        page.keyboard.press("Tab")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(orders).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Home", exact=True)).to_be_focused()
    assert serious_violations(page) == []
    page.screenshot(path=SHOTS / "menu-390.png")
    page.keyboard.press("Escape")
    expect(orders).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")


def test_without_js_the_phone_menu_is_shown_under_the_bar(shop, browser) -> None:
    from playwright.sync_api import expect

    page = signed_in(browser, shop, java_script_enabled=False, **PHONE)
    expect(page.locator("[data-menu-toggle]")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders", exact=True)).to_be_visible()
    expect(page.locator("[data-theme-switch]")).to_be_hidden()  # it needs the script
    assert_fits(page, "the home page without JS")


def test_the_theme_follows_the_system_until_one_is_picked_and_the_pick_stays(shop, browser) -> None:
    from playwright.sync_api import expect

    page = signed_in(browser, shop, color_scheme="dark", **WIDE)
    assert background(page) == DARK_BG
    system, light, dark = (page.get_by_role("button", name=f"{name} theme", exact=True) for name in ("System", "Light", "Dark"))
    expect(system).to_have_attribute("aria-pressed", "true")
    assert serious_violations(page) == []
    page.screenshot(path=SHOTS / "home-dark-1366.png", full_page=True)

    light.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(light).to_have_attribute("aria-pressed", "true")
    expect(system).to_have_attribute("aria-pressed", "false")
    assert background(page) == LIGHT_BG
    page.goto(f"{shop}/balance/")
    assert background(page) == LIGHT_BG  # applied by the head's script, before the page is shown
    expect(light).to_have_attribute("aria-pressed", "true")

    # From the keyboard: Dark, then back to the system's.
    light.focus()
    page.keyboard.press("Tab")
    expect(dark).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert background(page) == DARK_BG
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(system).to_be_focused()
    page.keyboard.press("Space")
    expect(system).to_have_attribute("aria-pressed", "true")
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile(".+"))
    assert background(page) == DARK_BG  # the system's, again
    page.reload()
    assert background(page) == DARK_BG


def test_dark_theme_on_a_phone_reads_well(shop, browser) -> None:
    page = signed_in(browser, shop, color_scheme="dark", **PHONE)
    assert background(page) == DARK_BG
    assert_fits(page, "the dark home page")
    assert serious_violations(page) == []
    page.screenshot(path=SHOTS / "home-dark-390.png", full_page=True)
