"""The PostgreSQL backend's health check: no round trip for a healthy idle connection, a dropped one still caught."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_base

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
