"""The layout every page shares (templates/base.html, ``context_processors.shop``): the menu, the balance, the theme."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from shop.models import OrderStatus
from tests.helpers import order_row

pytestmark = pytest.mark.django_db
CUSTOMER_MENU = [
    "Home",
    "New order",
    "Mass order",
    "Orders",
    "Refills",
    "Add funds",
    "Payments",
    "Balance",
    "Services",
    "Updates",
    "Support",
    "Affiliates",
    "API",
    "Account",
]


class Page(HTMLParser):
    """The menu's links (label, href, aria-current), the scripts and any style attribute or inline handler of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.menu: list[tuple[str, str, str | None]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.ids: set[str] = set()
        self._in_nav = False
        self._link: dict[str, str | None] | None = None
        self._text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"] or "")
        self.inline += [f"{tag} {name}" for name, _ in attrs if name == "style" or name.startswith("on")]
        if tag == "script":
            self.scripts.append(found)
        if tag == "nav" and found.get("aria-label") == "Main":
            self._in_nav = True
        if self._in_nav and tag == "a":
            self._link, self._text = found, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_nav = False
        if tag == "a" and self._link is not None:
            self.menu.append((self._text.strip(), self._link["href"] or "", self._link.get("aria-current")))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._text += data


def test_signed_in_customers_get_every_page_in_the_menu_and_the_current_one_marked(web) -> None:
    page = Page(web.get(reverse("orders")).content.decode())
    assert [label for label, _, _ in page.menu] == CUSTOMER_MENU
    hrefs = {label: href for label, href, _ in page.menu}
    assert hrefs["Account"] == reverse("password_change") and hrefs["Payments"] == reverse("topups")
    assert [(label, current) for label, _, current in page.menu if current] == [("Orders", "page")]


def test_a_page_under_a_menu_entry_marks_that_entry(web, customer) -> None:
    order = order_row(customer, status=OrderStatus.PENDING)
    page = Page(web.get(reverse("order-detail", args=[order.pk])).content.decode())
    assert [(label, current) for label, _, current in page.menu if current] == [("Orders", "true")]


def test_visitors_get_services_updates_log_in_and_sign_up(client) -> None:
    page = Page(client.get(reverse("login")).content.decode())
    assert page.menu == [
        ("Services", reverse("services"), None),
        ("Updates", reverse("service-updates"), None),
        ("Log in", reverse("login"), "page"),
        ("Sign up", reverse("signup"), None),
    ]
    assert "data-nav-balance" not in client.get(reverse("services")).content.decode()


def test_the_balance_is_in_the_bar_as_people_read_it_and_links_to_the_ledger(web) -> None:
    html = web.get(reverse("services")).content.decode()
    assert (
        f'<a class="bar-balance" href="{reverse("balance")}"><span>Balance</span> '
        '<span class="money" data-nav-balance>100.00 USD</span></a>' in html
    )
    assert html.count("data-nav-balance") == 1  # one element: the payments page's script and the browser tests find it


def test_the_menu_button_controls_the_menu_and_log_out_is_a_post(web) -> None:
    html = web.get(reverse("balance")).content.decode()
    assert '<button type="button" class="menu-toggle" data-menu-toggle aria-expanded="false" aria-controls="site-menu">' in html
    assert 'id="site-menu"' in html
    assert re.search(rf'<form method="post" action="{reverse("logout")}"><input type="hidden" name="csrfmiddlewaretoken"', html)


@pytest.mark.parametrize("name", ["home", "services", "orders", "balance", "topups", "funds-add", "password_change"])
def test_pages_load_the_theme_script_in_the_head_and_run_no_inline_code(web, name: str) -> None:
    html = web.get(reverse(name)).content.decode()
    head = html[: html.index("</head>")]
    assert re.search(r'<script src="[^"]*shop/theme\.js"></script>\s*<link rel="stylesheet" href="[^"]*shop/shop\.css">', head)
    page = Page(html)
    assert all(script.get("src") or script.get("type") == "application/json" for script in page.scripts), page.scripts
    assert page.inline == []
    assert {"main", "site-menu"} <= page.ids
    assert '<a class="skip" href="#main">Skip to content</a>' in html


def test_the_theme_switch_offers_system_light_and_dark_and_waits_for_the_script(client) -> None:
    html = client.get(reverse("services")).content.decode()
    assert '<div class="theme-switch" data-theme-switch role="group" aria-labelledby="theme-switch-label" hidden>' in html
    choice = r'<button type="button" data-theme-choice="(\w+)" aria-pressed="false">(\w+)<span class="visually-hidden"> theme</span>'
    assert re.findall(choice, html) == [
        ("system", "System"),
        ("light", "Light"),
        ("dark", "Dark"),
    ]


def test_the_funds_pointer_shows_under_the_menu(client) -> None:
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="broke"))
    html = client.get(reverse("services")).content.decode()
    assert html.index('id="main"') < html.index("data-funds-pointer")
