"""Template context every page needs: the menu, the branding (cached: no query in the common case), the signed-in
customer's balance (one query) and the shop currency."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from shop.storefront.branding import branding_current
from shop.support.selectors import unread_count
from shop.wallet.selectors import balance_of

# Pages where a customer with nothing on their balance is pointed to add funds (the menu links to it on every page).
FUNDS_POINTER_PAGES = {"order-new", "order-mass", "orders", "balance", "services"}

# The menu: (URL name, label in the page's language, icon in static/shop/icons.svg).
CUSTOMER_MENU = (
    ("home", _("Home"), "home"),
    ("order-new", _("New order"), "new"),
    ("order-mass", _("Mass order"), "mass"),
    ("orders", _("Orders"), "orders"),
    ("refills", _("Refills"), "refills"),
    ("funds-add", _("Add funds"), "funds"),
    ("topups", _("Payments"), "payments"),
    ("balance", _("Balance"), "balance"),
    ("services", _("Services"), "services"),
    ("service-updates", _("Updates"), "updates"),
    ("tickets", _("Support"), "support"),
    ("affiliates", _("Affiliates"), "affiliates"),
    ("api-page", "API", "api"),
    ("password_change", _("Account"), "account"),
)
VISITOR_MENU = (
    ("services", _("Services"), "services"),
    ("service-updates", _("Updates"), "updates"),
    ("login", _("Log in"), "login"),
    ("signup", _("Sign up"), "signup"),
)
# Pages that have no entry of their own mark the entry they belong under.
SECTION_OF = {
    "order-detail": "orders",
    "topup-detail": "topups",
    "ticket-new": "tickets",
    "ticket-detail": "tickets",
    "notification-settings": "password_change",
    "account_email": "password_change",
    "account_reauthenticate": "password_change",
    "mfa_index": "password_change",
    "mfa_activate_totp": "password_change",
    "mfa_deactivate_totp": "password_change",
    "mfa_view_recovery_codes": "password_change",
    "mfa_generate_recovery_codes": "password_change",
    "mfa_reauthenticate": "password_change",
    "account_email_verification_sent": "signup",
    "account_confirm_email": "signup",
    "mfa_authenticate": "login",
    "password_reset": "login",
    "account_reset_password_done": "login",
    "password_reset_confirm": "login",
    "account_reset_password_from_key_done": "login",
}


@dataclass(frozen=True)
class MenuItem:
    url: str
    label: str
    icon: str
    current: str  # the aria-current value: "page" on its own page, "true" on a page under it, else ""
    count: int = 0  # shown beside the label when not 0 (Support: tickets with an answer not read yet)


def menu_items(*, signed_in: bool, url_name: str | None, counts: dict[str, int] | None = None) -> list[MenuItem]:
    section = SECTION_OF.get(url_name or "")
    counts = counts or {}
    return [
        MenuItem(reverse(name), label, icon, "page" if name == url_name else "true" if name == section else "", counts.get(name, 0))
        for name, label, icon in (CUSTOMER_MENU if signed_in else VISITOR_MENU)
    ]


def shop(request: HttpRequest) -> dict[str, object]:
    match = getattr(request, "resolver_match", None)
    url_name = match.url_name if match is not None else None
    context: dict[str, object] = {
        "shop_currency": settings.SHOP_CURRENCY,
        "live_refresh_ms": settings.LIVE_REFRESH_SECONDS * 1000,
        # Read only by templates that show it (admin pages may not): the cache is asked at most once a page.
        "branding": SimpleLazyObject(branding_current),
    }
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    context["nav_items"] = SimpleLazyObject(
        lambda: menu_items(signed_in=signed_in, url_name=url_name, counts={"tickets": unread_count(user=user)} if signed_in else None)
    )
    if signed_in:
        context["nav_balance"] = balance = balance_of(user=user)
        context["funds_pointer"] = not balance and url_name in FUNDS_POINTER_PAGES
    return context
