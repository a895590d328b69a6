"""Figures of provider calls over a window (shop/observability/calls.py): outcomes and duration percentiles per provider and action."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from shop.catalogue.models import UpstreamCall
from shop.observability.calls import DELETED_PROVIDER, call_figures, percentile
from tests.factories import ProviderFactory
from tests.observability.conftest import call_at

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def calls():
    """Panel A: 20 adds (10 ms to 200 ms: 18 ok, one refused, one unknown) and a status; panel B: 3 balance reads, 2 failed.

    Around them, calls just outside the window, which no figure may count.
    """
    a, b = ProviderFactory(name="Panel A"), ProviderFactory(name="Panel B")
    for n in range(20):
        outcome = {0: UpstreamCall.Outcome.REFUSED, 1: UpstreamCall.Outcome.UNKNOWN}.get(n, UpstreamCall.Outcome.OK)
        call_at(a, NOW - timedelta(minutes=n + 1), duration_ms=(n + 1) * 10, outcome=outcome)
    call_at(a, NOW - timedelta(minutes=30), action="status", duration_ms=7)
    for n, outcome in enumerate(["ok", "unreachable", "unreachable"]):
        call_at(b, NOW - timedelta(minutes=5 + n), action="balance", outcome=outcome, duration_ms=1000 * (n + 1))
    call_at(a, NOW - timedelta(hours=1, seconds=1), duration_ms=99_999)  # before the window
    call_at(a, NOW, duration_ms=99_999)  # at its end: excluded
    return a, b


def test_figures_count_each_outcome_and_interpolate_percentiles_per_provider_and_action(calls, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        figures = call_figures(since=NOW - timedelta(hours=1), until=NOW)
    rows = {(row.provider, row.action): row for row in figures}
    assert list(rows) == [("Panel A", "add"), ("Panel A", "status"), ("Panel B", "balance")]
    add = rows["Panel A", "add"]
    assert add.outcomes == {"ok": 18, "refused": 1, "unreachable": 0, "unknown": 1, "misconfigured": 0}
    assert (add.calls, add.ok, add.success_rate) == (20, 18, 0.9)
    # 10, 20, ..., 200 ms: the 95th percentile sits at 0.95 x 19 = 18.05, between 190 and 200; the median between 100 and 110.
    assert add.durations_ms == {0.5: pytest.approx(105.0), 0.95: pytest.approx(190.5)}
    assert rows["Panel A", "status"].durations_ms == {0.5: 7.0, 0.95: 7.0}
    balance = rows["Panel B", "balance"]
    assert (balance.calls, balance.ok, balance.outcomes["unreachable"]) == (3, 1, 2)
    assert balance.p95_ms == pytest.approx(2900.0)


def test_calls_of_deleted_providers_still_count_under_one_name(calls) -> None:
    a, _ = calls
    call_at(None, NOW - timedelta(minutes=3), action="add", outcome="unreachable")
    figures = {(row.provider_id, row.action): row for row in call_figures(since=NOW - timedelta(hours=1), until=NOW)}
    deleted = figures[None, "add"]
    assert (deleted.provider, deleted.calls, deleted.ok) == (DELETED_PROVIDER, 1, 0)
    assert figures[a.pk, "add"].calls == 20


def test_a_window_without_calls_has_no_figures(calls) -> None:
    assert call_figures(since=NOW - timedelta(days=3), until=NOW - timedelta(days=2)) == ()


@pytest.mark.postgres
def test_the_fallback_percentile_is_postgresqls_percentile_cont() -> None:
    """SQLite's figures are computed in Python: they must be the ones PostgreSQL gives for the same durations."""
    generator = random.Random(16)
    for size in [1, 2, 3, 7, 20, 101]:
        durations = sorted(generator.randint(0, 30_000) for _ in range(size))
        for fraction in (0.5, 0.95, 0.99):
            with connection.cursor() as cursor:
                cursor.execute("SELECT percentile_cont(%s) WITHIN GROUP (ORDER BY d) FROM unnest(%s::int[]) AS d", [fraction, durations])
                expected = cursor.fetchone()[0]
            assert percentile(durations, fraction) == pytest.approx(expected), (durations, fraction)
