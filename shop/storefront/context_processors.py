"""Template context every page needs: the signed-in customer's balance (one query) and the shop currency."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from shop.wallet.selectors import balance_of

# Pages where a customer with nothing on their balance is pointed to add funds (the menu links to it on every page).
FUNDS_POINTER_PAGES = {"order-new", "orders", "balance", "services"}


def shop(request: HttpRequest) -> dict[str, object]:
    context: dict[str, object] = {"shop_currency": settings.SHOP_CURRENCY, "live_refresh_ms": settings.LIVE_REFRESH_SECONDS * 1000}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context["nav_balance"] = balance = balance_of(user=user)
        match = getattr(request, "resolver_match", None)
        context["funds_pointer"] = not balance and match is not None and match.url_name in FUNDS_POINTER_PAGES
    return context
