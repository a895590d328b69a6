"""Django's PostgreSQL backend, with a cheaper check of a reused connection and prepared statements for the hot paths.

With ``CONN_HEALTH_CHECKS`` Django checks a persistent connection before the
first query of every request by running ``SELECT 1``: a round trip, and on the
API's hot paths a quarter of the database work. What it guards against is a
server that went away (restart, ``pg_terminate_backend``, idle timeout): the
server then closes the socket, usually after sending a FATAL notice. Either way
an idle connection's socket becomes readable, since an idle connection is never
owed anything. So a socket with nothing to read, on a connection that is idle
and not known to be broken, is taken as usable without asking the server; in
every other case Django's own check runs as before.

``prepared_cursor()`` gives a cursor whose statements the server parses and
plans once per connection (psycopg's prepared statements, bound on the server),
then only executes. Django's own cursors bind on the client and never prepare,
as the ORM's SQL is not written for it; the hand-written statements of the
reseller API and of placing an order are, and there parsing and planning were
half of what the database spent on a call (bench/api_throughput.py).
"""

from __future__ import annotations

import select
import sys
from typing import Any

from django.db.backends.postgresql import base, operations
from django.utils.asyncio import async_unsafe
from psycopg import errors
from psycopg.pq import TransactionStatus


class PreparingCursor(base.ServerBindingCursor):
    """Django's server-binding cursor, preparing every statement it runs (psycopg keeps the 100 last used)."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None) -> Any:
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:
        """The statement with its values, as logged and captured: a prepared one keeps no text of its own."""
        if isinstance(cursor, PreparingCursor):
            try:
                return self.compose_sql(sql, params)
            except errors.DataError:
                return sql
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    _preparing = False

    @async_unsafe
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        # Django turns psycopg's preparing off (None); a statement is now prepared only when a cursor asks
        # (client-binding cursors never do), as nothing is run often enough to reach this threshold unasked.
        if connection.prepare_threshold is None:
            connection.prepare_threshold = sys.maxsize
        return connection

    def prepared_cursor(self) -> Any:
        """A cursor like ``cursor()`` (wrapped, logged, counted alike) whose statements are prepared on the server."""
        self._preparing = True
        try:
            return self.cursor()
        finally:
            self._preparing = False

    def create_cursor(self, name: str | None = None) -> Any:
        if not self._preparing or name:
            return super().create_cursor(name)
        factory, self.connection.cursor_factory = self.connection.cursor_factory, PreparingCursor
        try:
            return super().create_cursor(name)
        finally:
            self.connection.cursor_factory = factory

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status == TransactionStatus.IDLE:
            try:
                poller = select.poll()
                poller.register(connection.fileno(), select.POLLIN)
                if not poller.poll(0):
                    return True
            except (OSError, ValueError):
                return False
        return super().is_usable()
