"""Counts the metrics export, and each active provider's last successful call (health checks, metrics, the panel).

Unfinished orders are counted at every scrape from the index ``order_status_recent``, reading only the
ranges of the unfinished statuses (4 ms on 1,000,000 orders, 16,880 of them live). Finished ones need the whole table (a parallel index-only
scan: 137 ms on the same orders), so they are counted at most once per ``METRICS_TOTALS_TTL``
seconds and kept in the cache meanwhile; top-ups likewise (open ones by ``topup_state_created``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery

from shop.catalogue.models import Provider, UpstreamCall
from shop.orders.models import Order, OrderStatus
from shop.payments.models import TopUp, TopUpState

ORDER_TOTALS_KEY = "observability:order-totals"
TOPUP_TOTALS_KEY = "observability:topup-totals"


def order_status_counts() -> dict[str, int]:
    """Orders per status, every status present (0 when none)."""
    live = _counts(Order.objects.filter(status__in=OrderStatus.LIVE), "status")
    final = _cached(ORDER_TOTALS_KEY, lambda: _counts(Order.objects.filter(status__in=OrderStatus.FINAL), "status"))
    return {status: live.get(status, 0) + final.get(status, 0) for status in OrderStatus.values}


def topup_state_counts() -> dict[str, int]:
    """Top-ups per state, every state present (0 when none)."""
    open_ = _counts(TopUp.objects.filter(state__in=TopUpState.OPEN), "state")
    closed = _cached(TOPUP_TOTALS_KEY, lambda: _counts(TopUp.objects.exclude(state__in=TopUpState.OPEN), "state"))
    return {state: open_.get(state, 0) + closed.get(state, 0) for state in TopUpState.values}


def _counts(rows: QuerySet, field: str) -> dict[str, int]:
    return dict(rows.order_by().values_list(field).annotate(n=Count("pk")))


def _cached(key: str, count: Callable[[], dict[str, int]]) -> dict[str, int]:
    found = cache.get(key)
    if found is None:
        found = count()
        cache.set(key, found, timeout=settings.METRICS_TOTALS_TTL)
    return found


@dataclass(frozen=True)
class ProviderLastSuccess:
    pk: int
    name: str
    last_ok: datetime | None  # the newest call with outcome "ok"
    called: bool  # any call at all is on record (within the audit's retention)


def provider_last_success() -> tuple[ProviderLastSuccess, ...]:
    """Every active provider with its newest successful call. One query.

    Each provider's newest ok call is found walking the index ``upstream_call_provider_recent`` from
    its newest call, so it reads as many rows as the provider's failures since its last success.
    """
    calls = UpstreamCall.objects.filter(provider=OuterRef("pk"))
    newest_ok = calls.filter(outcome=UpstreamCall.Outcome.OK).order_by("-created_at").values("created_at")[:1]
    rows = (
        Provider.objects.filter(is_active=True)
        .annotate(last_ok=Subquery(newest_ok), called=Exists(calls))
        .order_by("name")
        .values_list("pk", "name", "last_ok", "called")
    )
    return tuple(ProviderLastSuccess(pk=pk, name=name, last_ok=last_ok, called=called) for pk, name, last_ok, called in rows)
