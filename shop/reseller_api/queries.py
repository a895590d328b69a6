"""The reseller API's hand-written SQL: the hot paths where compiling a queryset costs more than running it."""

from __future__ import annotations

from typing import Any

from django.db import connection

from shop.orders.models import Order

STATUS_FIELDS = ("pk", "status", "charge", "refunded", "start_count", "remains", "total_quantity")


def status_rows(*, user_id: int, order_ids: set[int]) -> list[dict[str, Any]]:
    """The customer's orders among ``order_ids`` as plain rows (``STATUS_FIELDS``).

    Paid for by bench/api_throughput.py (status, 100 ids): one statement with an
    array of ids on PostgreSQL, the hot path of every reseller's polling; other
    databases run the ORM's equivalent.
    """
    if connection.vendor != "postgresql":
        return list(Order.objects.filter(user_id=user_id, pk__in=order_ids).values(*STATUS_FIELDS))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join('id' if name == 'pk' else name for name in STATUS_FIELDS)} FROM {Order._meta.db_table} "  # noqa: S608
            "WHERE user_id = %s AND id = ANY(%s)",
            [user_id, list(order_ids)],
        )
        return [dict(zip(STATUS_FIELDS, values, strict=True)) for values in cursor.fetchall()]
