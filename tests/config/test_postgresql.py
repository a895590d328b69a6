"""The PostgreSQL backend: no round trip to check a healthy idle connection (a dropped one still caught); prepared
statements for the hot paths only."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_base
from django.test.utils import CaptureQueriesContext

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server_checks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each time Django's own check (a ``SELECT 1`` on the server) runs, its answer."""
    answers: list[bool] = []
    original = django_base.DatabaseWrapper.is_usable

    def counted(self: django_base.DatabaseWrapper) -> bool:
        answers.append(original(self))
        return answers[-1]

    monkeypatch.setattr(django_base.DatabaseWrapper, "is_usable", counted)
    return answers


def _new_request() -> None:
    """What Django does when a request starts on a persistent connection."""
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_shop_runs_on_this_backend():
    assert connection.settings_dict["ENGINE"] == "config.postgresql"
    assert connection.vendor == "postgresql"


def test_a_healthy_idle_connection_is_kept_without_asking_the_server(server_checks):
    pid = _backend_pid()
    _new_request()
    assert server_checks == []
    assert _backend_pid() == pid


def test_a_connection_the_server_dropped_is_replaced_before_the_request_uses_it(server_checks):
    pid = _backend_pid()
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0] is True
        for _ in range(100):  # the backend is gone once pg_stat_activity stops listing it
            if admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0] == 0:
                break
            admin.execute("SELECT pg_sleep(0.02)")
    _new_request()
    assert server_checks == [False]  # the readable socket sent it to the server check, which failed
    assert _backend_pid() != pid  # and the request got a fresh connection instead of an error


def test_a_connection_inside_a_transaction_is_checked_on_the_server(server_checks):
    _backend_pid()
    connection.connection.execute("BEGIN")
    try:
        _new_request()
    finally:
        connection.connection.execute("ROLLBACK")
    assert server_checks == [True]


def _prepared() -> list[str]:
    """The statements this connection has prepared on the server."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements ORDER BY prepare_time")
        return [row[0] for row in cursor.fetchall()]


def test_a_prepared_cursor_prepares_its_statements_once_and_django_s_cursors_never():
    statement = "SELECT count(*) FROM django_migrations WHERE app = %s AND id > %s"
    for _ in range(20):  # far beyond psycopg's own threshold (5), had Django not turned it off
        with connection.cursor() as cursor:
            cursor.execute(statement, ["shop", 0])
    assert _prepared() == []
    answers = []
    with CaptureQueriesContext(connection) as queries:
        for app in ("shop", "auth", "shop"):
            with connection.prepared_cursor() as cursor:
                cursor.execute(statement, [app, 0])
                answers.append(cursor.fetchone()[0])
    assert answers[0] == answers[2] > 0 and answers[1] > 0
    assert _prepared() == ["SELECT count(*) FROM django_migrations WHERE app = $1 AND id > $2"]  # one, reused
    # Counted and shown with their values, as every other statement is.
    assert [query["sql"] for query in queries.captured_queries] == [
        f"SELECT count(*) FROM django_migrations WHERE app = '{app}' AND id > 0"  # noqa: S608
        for app in ("shop", "auth", "shop")
    ]


def test_the_api_s_hot_statements_are_prepared(client, catalogue, customer):
    from shop.reseller_api.keys import api_key_issue

    key = api_key_issue(user=customer)
    add = {"key": key, "action": "add", "service": catalogue["1"].pk, "link": "https://x.example/p", "quantity": "100"}
    placed = client.post("/api/v2", add)
    order = str(placed.json()["order"])
    for params in ({"action": "status", "order": order}, {"action": "status", "orders": f"{order},1"}):
        assert "status" in client.post("/api/v2", {"key": key, **params}).content.decode()
    prepared = _prepared()
    assert len(prepared) == 3  # the key with the service, the order charged, the key with the orders (one or many)
    assert [statement.split()[:2] for statement in prepared] == [["WITH", "u"], ["WITH", "debited"], ["WITH", "u"]]
    assert all("$1" in statement for statement in prepared)
