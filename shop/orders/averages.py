"""The average completion time of services, from the shop's own recent Completed orders.

For each service: its last ``AVERAGE_OF`` Completed orders (by when they finished), each one's time from placing to
finishing scaled to 1000 units (time x 1000 / total quantity; a package's time as it is), and the median of those.
The median, not the mean: one order that sat stuck for days, or a tiny order whose start-up delay is scaled up a
hundredfold, would otherwise move the figure far from what most orders take. One Completed order is enough for a
figure; until then it stays blank ("not enough data").

Kept current by ``orders_finish``: each batch of finished orders refreshes the services it completed, in two queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from statistics import median

from django.db import connection
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from shop.catalogue.models import ProviderService, Service
from shop.orders.models import Order, OrderStatus
from shop.orders.types import type_spec

AVERAGE_OF = 10
PER = 1000
# The column is a PositiveIntegerField: a 1-unit order that took weeks scales past it.
MOST_SECONDS = 2**31 - 1
# A subscription ends when its posts or its expiry date are reached: how long it ran says nothing about speed.
UNTIMED_TYPES = frozenset({"Subscriptions"})


def order_seconds_per_thousand(*, created_at: datetime, finished_at: datetime, total_quantity: int, package: bool) -> float:
    """One order's time scaled per 1000 units (a package's time as it is: it is one bundle)."""
    seconds = max((finished_at - created_at).total_seconds(), 0.0)
    return seconds if package else seconds * PER / max(total_quantity, 1)


def service_averages_refresh(*, service_ids: Iterable[int] | QuerySet) -> int:
    """Recompute ``Service.average_seconds`` of these services (ids, or a ``values("pk")``-style queryset of them).

    One query reads at most ``AVERAGE_OF`` orders per service (a window over their Completed orders), one writes
    the figures. A service with no Completed order keeps a blank figure. Returns how many services got a figure.
    """
    ids = service_ids if isinstance(service_ids, QuerySet) else list(service_ids)
    recent = _recent_lateral(ids)
    if recent is None:
        recent = (
            Order.objects.filter(service_id__in=ids, status=OrderStatus.COMPLETED, finished_at__isnull=False)
            .annotate(recent=Window(RowNumber(), partition_by=[F("service_id")], order_by=[F("finished_at").desc(), F("pk").desc()]))
            .filter(recent__lte=AVERAGE_OF)
            .values_list("service_id", "service__provider_service__type", "created_at", "finished_at", "total_quantity")
        )
    scaled: dict[int, list[float]] = defaultdict(list)
    for service_id, type_name, created_at, finished_at, total_quantity in recent:
        if type_name in UNTIMED_TYPES:
            continue
        spec = type_spec(type_name)
        package = spec is not None and spec.package
        scaled[service_id].append(
            order_seconds_per_thousand(created_at=created_at, finished_at=finished_at, total_quantity=total_quantity, package=package)
        )
    services = [Service(pk=pk, average_seconds=min(round(median(values)), MOST_SECONDS)) for pk, values in sorted(scaled.items())]
    # In id order: two batches finishing orders of the same services lock them in the same order.
    Service.objects.bulk_update(services, ["average_seconds"])
    return len(services)


def _recent_lateral(ids: list[int] | QuerySet) -> list[tuple] | None:
    """On PostgreSQL, each service's last ``AVERAGE_OF`` Completed orders read through the ``order_completed_recent``
    index: ten index entries a service, however many orders it completed (the window query reads them all). None elsewhere.
    """
    if connection.vendor != "postgresql":
        return None
    if isinstance(ids, QuerySet):
        subquery, params = ids.query.sql_with_params()
        which, which_params = f"s.id IN ({subquery})", list(params)
    elif not ids:
        return []
    else:
        which, which_params = "s.id = ANY(%s)", [list(ids)]
    quote = connection.ops.quote_name
    order_t, service_t, upstream_t = (quote(model._meta.db_table) for model in (Order, Service, ProviderService))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id, ps.type, o.created_at, o.finished_at, o.total_quantity FROM {service_t} s "  # noqa: S608
            f"JOIN {upstream_t} ps ON ps.id = s.provider_service_id "
            f"CROSS JOIN LATERAL (SELECT created_at, finished_at, total_quantity FROM {order_t} "
            "  WHERE service_id = s.id AND status = %s AND finished_at IS NOT NULL "
            "  ORDER BY finished_at DESC, id DESC LIMIT %s) o "
            f"WHERE {which}",
            [OrderStatus.COMPLETED.value, AVERAGE_OF, *which_params],
        )
        return cursor.fetchall()
