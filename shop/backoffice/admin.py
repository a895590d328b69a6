"""What admins see on top of the models: the dashboard on the admin index.

Wrapping the site's ``index`` keeps the admin site as it is (unfold's, see ``settings.UNFOLD``); the
figures are read only on the index: orders for staff who may see orders, payments for staff who may
see top-ups. ``templates/admin/index.html`` shows them, as charts with their figures beside them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from shop.backoffice import charts
from shop.backoffice.dashboard import dashboard_figures, payment_figures, topup_figures

DAYS = 30

_site_index = admin.site.index


def _orders_context(currency: str) -> dict[str, Any]:
    figures = dashboard_figures(days=DAYS)
    attention = next((row.count for row in figures.statuses if row.status == "needs_attention"), 0)
    return {
        "dashboard": figures,
        "needs_attention": attention,
        "chart_money": charts.money_per_day(figures, currency=currency),
        "chart_orders": charts.orders_per_day(figures),
        "status_bars": charts.status_bars(figures),
        "provider_bars": charts.provider_bars(figures.providers),
    }


def _payments_context() -> dict[str, Any]:
    methods = topup_figures(days=DAYS)
    return {
        "payments": payment_figures(),
        "topup_methods": methods,
        "method_bars": charts.method_bars(methods),
    }


def index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    context = dict(extra_context or {})
    currency = settings.SHOP_CURRENCY
    if request.user.has_perm("shop.view_order"):
        context.update(_orders_context(currency))
    if request.user.has_perm("shop.view_topup"):
        context.update(_payments_context())
    context.setdefault("dashboard_currency", currency)
    context.setdefault("dashboard_days", DAYS)
    return _site_index(request, extra_context=context)


# Read when the admin's URLs are built (after autodiscovery imported this module).
admin.site.index = index
admin.site.index_title = "Dashboard"


_site_login = admin.site.login


def login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin's login, sending staff back to the admin: unfold's login form posts to its own URL and carries no
    hidden ``next`` field, so without one in the URL a login would land on the customers' pages."""
    if request.method == "GET" and REDIRECT_FIELD_NAME not in request.GET:
        return redirect(f"{request.path}?{urlencode({REDIRECT_FIELD_NAME: reverse('admin:index')})}")
    return _site_login(request, extra_context=extra_context)


admin.site.login = login
