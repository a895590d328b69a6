"""What the admin's theme (django-unfold) reads per request: the shop's name and the sidebar, grouped by domain.

``settings.UNFOLD`` names these callables; unfold calls each with the request. An entry of the
sidebar shows only to staff who may see its list (as the admin's own app list does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse

from shop.storefront.branding import branding_current

NEEDS_ATTENTION_QUERY = "?status__exact=needs_attention"
TICKETS_WAITING_QUERY = "?status__exact=open"


def site_title(request: HttpRequest | None = None) -> str:
    """The shop's name from its branding (cached, as every storefront page reads it): the admin's title and header."""
    return branding_current().name


def stylesheet(request: HttpRequest | None = None) -> str:
    """The back office's own styles, on top of unfold's (served by the shop, as every asset)."""
    return static("backoffice/backoffice.css")


def _may_see(label: str) -> Callable[[HttpRequest], bool]:
    """Staff who may view or change the model ``label`` ("app_label.model_name"), as the admin's own app list shows it."""
    app, _, model = label.partition(".")
    return lambda request: request.user.has_perm(f"{app}.view_{model}") or request.user.has_perm(f"{app}.change_{model}")


def _item(title: str, icon: str, label: str, query: str = "", **extra: Any) -> dict[str, Any] | None:
    """A sidebar entry for the list of ``label``; None when that model has no admin (an app's admin switched off)."""
    app, _, model = label.partition(".")
    try:
        link = reverse(f"admin:{app}_{model}_changelist")
    except NoReverseMatch:
        return None
    return {"title": title, "icon": icon, "link": link + query, "permission": _may_see(label), **extra}


def _group(title: str, *items: dict[str, Any] | None) -> dict[str, Any]:
    return {"title": title, "items": [item for item in items if item is not None]}


def _orders_active(request: HttpRequest) -> bool:
    return request.path.startswith(reverse("admin:shop_order_changelist")) and request.GET.get("status__exact") != "needs_attention"


def _attention_active(request: HttpRequest) -> bool:
    return request.path == reverse("admin:shop_order_changelist") and request.GET.get("status__exact") == "needs_attention"


def _topups_active(request: HttpRequest) -> bool:
    return request.path.startswith(reverse("admin:shop_topup_changelist")) and "attention" not in request.GET


def _tickets_active(request: HttpRequest) -> bool:
    return request.path.startswith(reverse("admin:shop_ticket_changelist")) and request.GET.get("status__exact") != "open"


def _tickets_waiting_active(request: HttpRequest) -> bool:
    return request.path == reverse("admin:shop_ticket_changelist") and request.GET.get("status__exact") == "open"


def _calls_active(request: HttpRequest) -> bool:
    calls = reverse("admin:shop_upstreamcall_changelist")
    return request.path.startswith(calls) and request.path != reverse("admin:shop_upstreamcall_health")


def _provider_health() -> dict[str, Any] | None:
    """The provider health panel (``shop.observability.panel``), for whoever may read the calls it is computed from."""
    try:
        link = reverse("admin:shop_upstreamcall_health")
    except NoReverseMatch:
        return None
    return {"title": "Provider health", "icon": "monitor_heart", "link": link, "permission": _may_see("shop.upstreamcall")}


def _topup_attention_active(request: HttpRequest) -> bool:
    return request.path == reverse("admin:shop_topup_changelist") and "attention" in request.GET


def sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    """The sidebar's groups: Orders, Catalogue, Customers, Payments, Support, Settings."""
    return [
        _group(
            "Orders",
            {"title": "Dashboard", "icon": "monitoring", "link": reverse("admin:index")},
            _item("Orders", "receipt_long", "shop.order", active=_orders_active),
            _item("Needs attention", "report", "shop.order", NEEDS_ATTENTION_QUERY, active=_attention_active),
            _item("Refills", "autorenew", "shop.refill"),
        ),
        _group(
            "Catalogue",
            _item("Services", "storefront", "shop.service"),
            _item("Categories", "category", "shop.category"),
            _item("Provider services", "inventory_2", "shop.providerservice"),
            _item("Providers", "hub", "shop.provider"),
            _item("Service changes", "history", "shop.servicechange"),
            _item("Provider calls", "swap_horiz", "shop.upstreamcall", active=_calls_active),
            _provider_health(),
        ),
        _group(
            "Customers",
            _item("Customers", "group", "auth.user"),
            _item("Wallets", "account_balance_wallet", "shop.wallet"),
            _item("Ledger", "menu_book", "shop.ledgerentry"),
            _item("API keys", "key", "shop.apikey"),
            _item("Referrals", "share", "shop.referral"),
            _item("Referral earnings", "savings", "shop.referralearning"),
            _item("Referral payouts", "payments", "shop.referralpayout"),
        ),
        _group(
            "Payments",
            _item("Top-ups", "payments", "shop.topup", active=_topups_active),
            _item("Top-ups needing attention", "report", "shop.topup", "?attention=yes", active=_topup_attention_active),
            _item("Payment methods", "credit_card", "shop.paymentmethod"),
        ),
        _group(
            "Support",
            _item("Tickets waiting", "support_agent", "shop.ticket", TICKETS_WAITING_QUERY, active=_tickets_waiting_active),
            _item("All tickets", "forum", "shop.ticket", active=_tickets_active),
        ),
        _group(
            "Settings",
            _item("Branding", "palette", "shop.branding"),
            _item("Shop settings", "tune", "shop.shopsettings"),
            _item("Staff groups", "admin_panel_settings", "auth.group"),
            _item("Periodic tasks", "schedule", "django_celery_beat.periodictask"),
            _item("Login attempts", "lock", "axes.accessattempt"),
        ),
    ]
