"""Template context every page needs: the signed-in customer's balance and the shop currency."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from shop.wallet.selectors import balance_of


def shop(request: HttpRequest) -> dict[str, object]:
    context: dict[str, object] = {"shop_currency": settings.SHOP_CURRENCY, "live_refresh_ms": settings.LIVE_REFRESH_SECONDS * 1000}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context["nav_balance"] = balance_of(user=user)
    return context
