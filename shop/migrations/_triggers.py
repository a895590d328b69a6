"""Database triggers the migrations install (this module is not a migration: its name starts with "_").

Ledger entries are append-only, enforced by the database itself. PostgreSQL
refuses UPDATE and DELETE row by row (TRUNCATE, used by test flushes, is a
statement and not affected); SQLite refuses UPDATE (its test flush deletes).
SQLite drops a table's triggers when a migration rebuilds the table, so every
migration that alters the ledger table runs ``ledger_append_only()`` again:
the SQL is idempotent.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION shop_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS shop_ledger_append_only ON shop_ledgerentry;
CREATE TRIGGER shop_ledger_append_only BEFORE UPDATE OR DELETE ON shop_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION shop_ledger_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS shop_ledger_append_only ON shop_ledgerentry;
DROP FUNCTION IF EXISTS shop_ledger_append_only();
"""
SQLITE_UP = """
CREATE TRIGGER IF NOT EXISTS shop_ledger_append_only BEFORE UPDATE ON shop_ledgerentry
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS shop_ledger_append_only;"


def _run(sql_by_vendor: dict[str, str | list[str]]):  # noqa: ANN202
    def run(apps, schema_editor) -> None:  # noqa: ANN001
        sql = sql_by_vendor.get(schema_editor.connection.vendor)
        for statement in [sql] if isinstance(sql, str) else sql or []:
            schema_editor.execute(statement, params=None)

    return run


def postgres_only(up: str, down: str) -> migrations.RunPython:
    """SQL run on PostgreSQL only (another database has nothing of the kind), and its undoing."""
    return migrations.RunPython(_run({"postgresql": up}), _run({"postgresql": down}))


def ledger_append_only() -> migrations.RunPython:
    return migrations.RunPython(
        _run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}),
        _run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}),
    )


def append_only(table: str) -> migrations.RunPython:
    """The same guard as the ledger's, for another table: UPDATE (and DELETE on PostgreSQL) refused row by row."""
    name = f"{table}_append_only"
    postgres_up = f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{table} rows are append-only';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS {name} ON {table};
CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}();
"""
    postgres_down = f"DROP TRIGGER IF EXISTS {name} ON {table};\nDROP FUNCTION IF EXISTS {name}();"
    sqlite_up = f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE UPDATE ON {table}\nBEGIN\n    SELECT RAISE(ABORT, '{table} rows are append-only');\nEND;"
    sqlite_down = f"DROP TRIGGER IF EXISTS {name};"
    return migrations.RunPython(
        _run({"postgresql": postgres_up, "sqlite": sqlite_up}),
        _run({"postgresql": postgres_down, "sqlite": sqlite_down}),
    )


# The dashboard's rollup (shop.backoffice.models): each order write that changes what the dashboard sums appends
# its difference. A quarter hour: date_trunc to the hour in UTC, plus the started quarters.
_COLUMNS = "bucket, provider_id, orders, revenue, upstream, cost_unknown"
_PG_BUCKET = (
    "((date_trunc('hour', {row}.created_at AT TIME ZONE 'UTC')"
    " + floor(extract(minute FROM {row}.created_at AT TIME ZONE 'UTC') / 15) * interval '15 minutes') AT TIME ZONE 'UTC')"
)
_SQLITE_BUCKET = (
    "strftime('%Y-%m-%d %H:', {row}.created_at)"
    " || printf('%02d', (CAST(strftime('%M', {row}.created_at) AS INTEGER) / 15) * 15) || ':00'"
)
_FIGURES_CHANGED = (
    "OLD.charge IS NOT NEW.charge OR OLD.refunded IS NOT NEW.refunded OR OLD.upstream_charge IS NOT NEW.upstream_charge"
    " OR OLD.provider_id IS NOT NEW.provider_id OR OLD.created_at IS NOT NEW.created_at"
)


def _figures_values(row: str, sign: str, bucket: str) -> str:
    return (
        f"({bucket.format(row=row)}, {row}.provider_id, {sign}1, {sign}({row}.charge - {row}.refunded),"
        f" {sign}COALESCE({row}.upstream_charge, 0),"
        f" {sign}(CASE WHEN {row}.upstream_charge IS NULL AND {row}.refunded < {row}.charge THEN 1 ELSE 0 END))"
    )


ORDER_FIGURES_POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION shop_order_figures() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO shop_orderfigureschange ({_COLUMNS}) VALUES {_figures_values("OLD", "-", _PG_BUCKET)};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO shop_orderfigureschange ({_COLUMNS}) VALUES {_figures_values("NEW", "", _PG_BUCKET)};
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS shop_order_figures ON shop_order;
CREATE TRIGGER shop_order_figures AFTER INSERT OR DELETE ON shop_order FOR EACH ROW EXECUTE FUNCTION shop_order_figures();
DROP TRIGGER IF EXISTS shop_order_figures_update ON shop_order;
CREATE TRIGGER shop_order_figures_update AFTER UPDATE ON shop_order FOR EACH ROW
    WHEN ({_FIGURES_CHANGED.replace(" IS NOT ", " IS DISTINCT FROM ")}) EXECUTE FUNCTION shop_order_figures();
"""
ORDER_FIGURES_POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS shop_order_figures ON shop_order;
DROP TRIGGER IF EXISTS shop_order_figures_update ON shop_order;
DROP FUNCTION IF EXISTS shop_order_figures();
"""
# SQLite runs one statement per call: a list.
ORDER_FIGURES_SQLITE_UP = [
    f"""CREATE TRIGGER IF NOT EXISTS shop_order_figures_insert AFTER INSERT ON shop_order
BEGIN
    INSERT INTO shop_orderfigureschange ({_COLUMNS}) VALUES {_figures_values("NEW", "", _SQLITE_BUCKET)};
END;""",
    f"""CREATE TRIGGER IF NOT EXISTS shop_order_figures_delete AFTER DELETE ON shop_order
BEGIN
    INSERT INTO shop_orderfigureschange ({_COLUMNS}) VALUES {_figures_values("OLD", "-", _SQLITE_BUCKET)};
END;""",
    f"""CREATE TRIGGER IF NOT EXISTS shop_order_figures_update AFTER UPDATE ON shop_order WHEN {_FIGURES_CHANGED}
BEGIN
    INSERT INTO shop_orderfigureschange ({_COLUMNS}) VALUES {_figures_values("OLD", "-", _SQLITE_BUCKET)};
    INSERT INTO shop_orderfigureschange ({_COLUMNS}) VALUES {_figures_values("NEW", "", _SQLITE_BUCKET)};
END;""",
]
ORDER_FIGURES_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS shop_order_figures_insert;",
    "DROP TRIGGER IF EXISTS shop_order_figures_delete;",
    "DROP TRIGGER IF EXISTS shop_order_figures_update;",
]


def order_figures() -> migrations.RunPython:
    """The rollup's triggers. SQLite drops them when a migration rebuilds the orders table: ``order_figures_ensure``
    puts them back after every ``migrate``."""
    return migrations.RunPython(
        _run({"postgresql": ORDER_FIGURES_POSTGRES_UP, "sqlite": ORDER_FIGURES_SQLITE_UP}),
        _run({"postgresql": ORDER_FIGURES_POSTGRES_DOWN, "sqlite": ORDER_FIGURES_SQLITE_DOWN}),
    )


def order_figures_ensure(connection) -> None:  # noqa: ANN001
    """Put SQLite's rollup triggers back if a migration dropped them with the table (idempotent; PostgreSQL keeps them)."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if "shop_order" in tables and "shop_orderfigureschange" in tables:
            for statement in ORDER_FIGURES_SQLITE_UP:
                cursor.execute(statement)


def _backfill_sql(bucket: str) -> str:
    return (
        f"INSERT INTO shop_orderfigures ({_COLUMNS}) "
        f"SELECT {bucket.format(row='o')}, o.provider_id, COUNT(*), SUM(o.charge - o.refunded), SUM(COALESCE(o.upstream_charge, 0)), "
        "SUM(CASE WHEN o.upstream_charge IS NULL AND o.refunded < o.charge THEN 1 ELSE 0 END) "
        "FROM shop_order o GROUP BY 1, 2"
    )


def order_figures_backfill() -> migrations.RunPython:
    """The rollup of the orders already there (run after the triggers, in the same transaction)."""
    return migrations.RunPython(
        _run({"postgresql": _backfill_sql(_PG_BUCKET), "sqlite": _backfill_sql(_SQLITE_BUCKET)}),
        migrations.RunPython.noop,
    )
