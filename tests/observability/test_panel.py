"""The admin's provider health panel (shop/observability/panel.py): success rate and p95 per provider and action, hour and day."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from shop.accounts.roles import FINANCE, SUPPORT
from shop.observability.panel import provider_health_panel, rate_grade
from tests.factories import ProviderFactory, UserFactory
from tests.observability.conftest import call_at

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture
def calls():
    """Panel A's adds: 10 in the last hour (9 ok, 100 ms to 1000 ms), 10 earlier today (all unreachable, 5 s each), one
    yesterday; its balance reads only earlier today. Panel B: one ok status in the last hour. Panel C: never called."""
    a, b, _ = (ProviderFactory(name=name) for name in ["Panel A", "Panel B", "Panel C"])
    for n in range(10):
        call_at(a, NOW - timedelta(minutes=5 * n + 1), duration_ms=(n + 1) * 100, outcome="refused" if n == 9 else "ok")
        call_at(a, NOW - timedelta(hours=n + 2), duration_ms=5000, outcome="unreachable")
    call_at(a, NOW - timedelta(hours=25), duration_ms=60_000, outcome="unreachable")
    call_at(a, NOW - timedelta(hours=3), action="balance", duration_ms=200)
    call_at(b, NOW - timedelta(minutes=10), action="status", duration_ms=80)
    return a, b


def test_figures_of_the_last_hour_and_the_last_day(calls, django_assert_num_queries) -> None:
    with django_assert_num_queries(3):
        panel = provider_health_panel(now=NOW)
    rows = {(row.provider, row.action): row for row in panel.rows}
    assert list(rows) == [("Panel A", "add"), ("Panel A", "balance"), ("Panel B", "status")]
    add = rows["Panel A", "add"]
    assert (add.hour.calls, add.hour.ok, add.hour.success_rate) == (10, 9, 0.9)
    assert add.hour.p95_ms == pytest.approx(955.0)  # 100 ... 1000 ms: 0.95 x 9 = 8.55 between 900 and 1000
    assert (add.day.calls, add.day.ok, add.day.success_rate) == (20, 9, 0.45)
    assert add.day.p95_ms == pytest.approx(5000.0)  # the yesterday's 60 s call is not in the day
    assert (add.hour.grade, add.day.grade) == ("fair", "poor")
    balance = rows["Panel A", "balance"]
    assert (balance.hour.calls, balance.hour.success_rate, balance.hour.p95_ms, balance.hour.grade) == (0, None, None, "")
    assert (balance.day.calls, balance.day.success_rate, balance.day.grade) == (1, 1.0, "good")


def test_the_panel_lists_each_active_providers_last_success_and_health(calls) -> None:
    stale = ProviderFactory(name="Panel D")
    call_at(stale, NOW - timedelta(minutes=16))
    providers = {row.name: (row.last_ok, row.called, row.healthy) for row in provider_health_panel(now=NOW).providers}
    assert providers == {
        "Panel A": (NOW - timedelta(minutes=1), True, True),
        "Panel B": (NOW - timedelta(minutes=10), True, True),
        "Panel C": (None, False, True),  # never called: healthy
        "Panel D": (NOW - timedelta(minutes=16), True, False),  # PROVIDER_HEALTHY_WITHIN is 15 minutes
    }


@pytest.mark.parametrize(("rate", "grade"), [(1.0, "good"), (0.95, "good"), (0.9499, "fair"), (0.8, "fair"), (0.7999, "poor"), (None, "")])
def test_success_rates_are_graded_at_95_and_80_percent(rate, grade) -> None:
    assert rate_grade(rate) == grade


def staff(client, role: str):
    user = UserFactory(username=f"staff-{role.lower()}", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def test_support_reads_the_panel_with_coloured_rates(client, db) -> None:
    panel = ProviderFactory(name="Panel A")
    now = timezone.now()
    for n in range(10):
        call_at(panel, now - timedelta(minutes=n + 1), duration_ms=(n + 1) * 100, outcome="refused" if n == 9 else "ok")
    call_at(panel, now - timedelta(hours=5), action="balance", outcome="unreachable", duration_ms=5000)
    response = staff(client, SUPPORT).get(reverse("admin:shop_upstreamcall_health"))
    assert response.status_code == 200
    html = response.content.decode()
    add = re.search(rf'<tr id="health-{panel.pk}-add">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'class="bo-num bo-rate-fair" data-window="hour" data-figure="success">90.0 %<', add)
    assert re.search(r'data-window="hour" data-figure="p95">955 ms<', add)
    balance = re.search(rf'<tr id="health-{panel.pk}-balance">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'class="bo-num bo-rate-poor" data-window="day" data-figure="success">0.0 %<', balance)
    assert "&mdash;" in balance  # no balance read in the last hour
    assert f'href="{reverse("admin:shop_upstreamcall_health")}"' in html  # in the sidebar


def test_staff_who_may_not_read_provider_calls_are_refused_and_see_no_link(client, db) -> None:
    finance = staff(client, FINANCE)
    assert finance.get(reverse("admin:shop_upstreamcall_health")).status_code == 403
    assert reverse("admin:shop_upstreamcall_health") not in finance.get(reverse("admin:index")).content.decode()


def test_a_customer_is_sent_to_the_admin_login(client, customer) -> None:
    client.force_login(customer)
    response = client.get(reverse("admin:shop_upstreamcall_health"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_the_panel_of_a_shop_without_calls_says_so(admin_client) -> None:
    html = admin_client.get(reverse("admin:shop_upstreamcall_health")).content.decode()
    assert "No call to any provider in the last day." in html and "No active provider." in html
