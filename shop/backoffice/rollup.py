"""Folding the rollup's appended changes into one row per quarter hour and provider (``shop.backoffice.models``)."""

from __future__ import annotations

from django.db import connection, transaction

_SUMS = "SUM(orders), SUM(revenue), SUM(upstream), SUM(cost_unknown)"
_ADD = (
    "orders = shop_orderfigures.orders + excluded.orders, revenue = shop_orderfigures.revenue + excluded.revenue, "
    "upstream = shop_orderfigures.upstream + excluded.upstream, cost_unknown = shop_orderfigures.cost_unknown + excluded.cost_unknown"
)
_COLUMNS = "bucket, provider_id, orders, revenue, upstream, cost_unknown"
# One statement: exactly the rows it deletes are added, whatever commits meanwhile. Sorted, so two folds at once
# take their row locks in the same order (the second waits, then finds the rows gone).
POSTGRES_FOLD = f"""
WITH moved AS (DELETE FROM shop_orderfigureschange RETURNING {_COLUMNS})
INSERT INTO shop_orderfigures ({_COLUMNS})
SELECT bucket, provider_id, {_SUMS} FROM moved GROUP BY bucket, provider_id ORDER BY bucket, provider_id
ON CONFLICT (bucket, provider_id) DO UPDATE SET {_ADD}
"""  # noqa: S608 - constants only, no input
# SQLite has one writer at a time: from the INSERT on, nothing else adds changes until the DELETE commits.
SQLITE_FOLD = [
    f"INSERT INTO shop_orderfigures ({_COLUMNS}) SELECT bucket, provider_id, {_SUMS} FROM shop_orderfigureschange WHERE true "  # noqa: S608
    f"GROUP BY bucket, provider_id ON CONFLICT (bucket, provider_id) DO UPDATE SET {_ADD}",
    "DELETE FROM shop_orderfigureschange",
]


def figures_fold() -> None:
    """Move every appended change into the rollup. Safe to run at any time, from any number of processes."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES_FOLD)
            return
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in SQLITE_FOLD:
            cursor.execute(statement)
