"""The dashboard on the admin index: the default ``admin.site`` index with the shop's figures added.

Wrapping the site's ``index`` keeps the stock ``AdminSite`` (no settings change); the figures are
read only on the index: orders for staff who may see orders, payments for staff who may see top-ups.
``templates/admin/index.html`` shows them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from shop.backoffice.dashboard import dashboard_figures, payment_figures

_site_index = admin.site.index


def index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    context = dict(extra_context or {})
    if request.user.has_perm("shop.view_order"):
        context.setdefault("dashboard", dashboard_figures())
    if request.user.has_perm("shop.view_topup"):
        context.setdefault("payments", payment_figures())
    context.setdefault("dashboard_currency", settings.SHOP_CURRENCY)
    return _site_index(request, extra_context=context)


# Read when the admin's URLs are built (after autodiscovery imported this module).
admin.site.index = index
