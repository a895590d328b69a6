"""Bulk compare-and-set updates: many rows, each with its own values, in one statement.

Django's ``bulk_update`` builds a CASE expression per field and row; for the
order poller that costs milliseconds per row in Python alone. This builds
``WITH v(...) AS (...) UPDATE ... FROM v`` instead, with one array per column on
PostgreSQL and a VALUES list on SQLite (3.35+), guarded by a status condition (the compare-and-set)
and returning the ids it actually changed. Storing 100 orders' readings takes
11.6 ms this way against 57.6 ms with ``bulk_update`` (bench/hot_statements.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models


def update_from_values(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    fields: Sequence[str],
    status_in: Sequence[str],
    unchanged: Sequence[str] = (),
) -> list[int]:
    """Set ``fields`` of each row (keyed by ``pk``) where the row's status is still in ``status_in``; return the changed pks.

    ``unchanged`` names fields whose stored value must still be the one the caller
    read, given in each row as ``<name>__was``: of two callers that read the same
    row, only the first to write changes it (optimistic concurrency).

    On PostgreSQL the rows are locked in id order first, so concurrent callers
    over overlapping rows queue instead of deadlocking. Call inside a transaction.
    """
    if not rows:
        return []
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    pk_column = meta.pk.column
    columns = [meta.get_field(name) for name in fields]
    guards = [meta.get_field(name) for name in unchanged]
    postgres = connection.vendor == "postgresql"
    quote = connection.ops.quote_name

    names = ", ".join(quote(name) for name in ["id", *(field.column for field in columns), *(f"was_{field.column}" for field in guards)])
    assignments = ", ".join(f"{connection.ops.quote_name(field.column)} = v.{connection.ops.quote_name(field.column)}" for field in columns)
    status_marks = ", ".join(["%s"] * len(status_in))
    pks = [row["pk"] for row in rows]
    values = [[field.get_db_prep_save(row[field.name], connection) for row in rows] for field in columns]
    values += [[field.get_db_prep_save(row[f"{field.name}__was"], connection) for row in rows] for field in guards]
    same = " IS NOT DISTINCT FROM " if postgres else " IS "
    guard_sql = "".join(f" AND {table}.{quote(field.column)}{same}v.{quote('was_' + field.column)}" for field in guards)
    if postgres:
        # One array per column: ten parameters instead of a thousand, and no query text to build per row.
        types = [field.db_type(connection) for field in [meta.pk, *columns, *guards]]
        source = "SELECT * FROM unnest(" + ", ".join(f"%s::{db_type}[]" for db_type in types) + ")"  # noqa: S608
        params: list[Any] = [pks, *values]
    else:
        row_sql = "(" + ", ".join(["%s"] * (len(columns) + len(guards) + 1)) + ")"
        source = "VALUES " + ", ".join([row_sql] * len(rows))
        params = [value for index, pk in enumerate(pks) for value in (pk, *(column[index] for column in values))]
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute(f"SELECT {pk_column} FROM {table} WHERE {pk_column} = ANY(%s) ORDER BY {pk_column} FOR UPDATE", [pks])  # noqa: S608
        cursor.execute(
            f"WITH v({names}) AS ({source}) "  # noqa: S608 - names come from the model
            f"UPDATE {table} SET {assignments} FROM v "
            f"WHERE {table}.{pk_column} = v.id AND {table}.status IN ({status_marks}){guard_sql} RETURNING {table}.{pk_column}",
            [*params, *status_in],
        )
        return [pk for (pk,) in cursor.fetchall()]
