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


def _run(sql_by_vendor: dict[str, str]):  # noqa: ANN202
    def run(apps, schema_editor) -> None:  # noqa: ANN001
        sql = sql_by_vendor.get(schema_editor.connection.vendor)
        if sql:
            schema_editor.execute(sql, params=None)

    return run


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
