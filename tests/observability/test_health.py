"""The health checks (shop/observability/health.py) and /health/: green or red per component, details for the token or staff."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
import redis
from django.contrib.auth.models import Group
from django.db import connections
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from shop.accounts.roles import FINANCE, SUPPORT
from tests.conftest import redis_url, xdist_index
from tests.factories import ProviderFactory, UserFactory
from tests.observability.conftest import call_at

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests-5b1d9e2a7c"
AUTHORIZED = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
# Nothing listens on port 1: refused at once, as a Redis that is down.
DOWN = "redis://:a-redis-password@127.0.0.1:1/0"
REDIS_DB = 10 - xdist_index()


def health(client, **headers):
    response = client.get(reverse("health"), **headers)
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


def details(client) -> tuple[int, dict[str, str]]:
    with override_settings(METRICS_TOKEN=TOKEN):
        status, body = health(client, **AUTHORIZED)
    return status, body["checks"]


def test_a_healthy_shop_answers_200_and_only_its_status_to_anyone(client) -> None:
    assert health(client) == (200, {"status": "ok"})


def test_the_token_shows_each_checks_outcome(client) -> None:
    assert details(client) == (200, {"database": "ok", "cache": "ok", "broker": "ok"})
    with override_settings(METRICS_TOKEN=TOKEN):
        assert health(client, HTTP_AUTHORIZATION="Bearer not-the-token") == (200, {"status": "ok"})


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DOWN}})
def test_an_unreachable_redis_cache_makes_the_shop_unhealthy(client) -> None:
    assert health(client) == (503, {"status": "unhealthy"})
    status, checks = details(client)
    assert status == 503
    assert checks["cache"] != "ok" and checks["database"] == checks["broker"] == "ok"


@override_settings(CELERY_BROKER_URL=DOWN, CELERY_BROKER_TRANSPORT_OPTIONS={"socket_timeout": 1, "socket_connect_timeout": 1})
def test_an_unreachable_broker_makes_the_shop_unhealthy_without_showing_its_address(client) -> None:
    status, checks = details(client)
    assert status == 503
    assert checks == {"database": "ok", "cache": "ok", "broker": "Unavailable: the broker does not answer"}
    with override_settings(METRICS_TOKEN=TOKEN):
        text = client.get(reverse("health"), **AUTHORIZED).content.decode()
    assert "a-redis-password" not in text and "127.0.0.1" not in text


@pytest.mark.postgres
def test_a_database_that_refuses_new_connections_makes_the_shop_unhealthy(client, monkeypatch) -> None:
    """The check opens a connection of its own (the test's, already open, stays usable): the server "moves" to port 1."""
    monkeypatch.setitem(connections.settings["default"], "PORT", "1")
    status, checks = details(client)
    assert status == 503
    assert checks["database"].startswith("Unavailable") and checks["cache"] == checks["broker"] == "ok"


@pytest.mark.redis
def test_redis_as_cache_and_broker_is_healthy(client) -> None:
    url = redis_url().rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    with override_settings(CACHES=cache, CELERY_BROKER_URL=url, CELERY_BROKER_TRANSPORT_OPTIONS={"socket_timeout": 2}):
        assert details(client) == (200, {"database": "ok", "cache": "ok", "broker": "ok"})


def test_providers_are_healthy_with_a_recent_success_or_no_call_yet_and_unhealthy_without(client) -> None:
    now = timezone.now()
    recent, stale, never_ok, _new = (ProviderFactory(name=name) for name in ["Recent", "Stale", "Never ok", "New"])
    call_at(recent, now - timedelta(minutes=14))
    call_at(recent, now - timedelta(minutes=1), outcome="unreachable")
    call_at(stale, now - timedelta(minutes=16))
    call_at(stale, now - timedelta(minutes=1), outcome="unknown")
    call_at(never_ok, now - timedelta(minutes=1), outcome="refused")
    status, checks = details(client)
    assert status == 503
    last = (now - timedelta(minutes=16)).astimezone(UTC)
    assert {name: outcome for name, outcome in checks.items() if name.startswith("provider:")} == {
        "provider:Never ok": "Unavailable: no successful call on record",
        "provider:New": "ok",
        "provider:Recent": "ok",
        "provider:Stale": f"Unavailable: no successful call since {last:%Y-%m-%d %H:%M:%S} UTC",
    }


def test_the_window_is_provider_healthy_within_and_inactive_providers_are_not_checked(client) -> None:
    stale = ProviderFactory(name="Stale")
    call_at(stale, timezone.now() - timedelta(minutes=16))
    assert health(client)[0] == 503
    with override_settings(PROVIDER_HEALTHY_WITHIN=3600):
        assert health(client)[0] == 200
    stale.is_active = False
    stale.save()
    assert health(client) == (200, {"status": "ok"})


def test_a_fresh_install_is_healthy_before_any_provider_call(client) -> None:
    ProviderFactory(name="Just added")
    assert health(client) == (200, {"status": "ok"})


@pytest.mark.parametrize(("role", "sees_details"), [(SUPPORT, True), (FINANCE, False), (None, False)])
def test_staff_who_read_provider_calls_see_the_details(client, role, sees_details) -> None:
    user = UserFactory(username="someone", is_staff=role is not None)
    if role:
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    assert ("checks" in health(client)[1]) is sees_details


@override_settings(STAFF_MFA_REQUIRED=True)
def test_staff_without_their_second_factor_this_session_see_only_the_status(client) -> None:
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert health(client) == (200, {"status": "ok"})


def test_health_answers_nothing_but_get(client) -> None:
    assert client.post(reverse("health")).status_code == 405
