"""Fixtures shared by the whole suite, and the rule for tests that need a server.

Tests marked ``postgres`` or ``redis`` run when DATABASE_URL / REDIS_URL reach
a server and are skipped with the reason otherwise; under CI=true a missing
server fails them instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal

import pytest
import redis
from django.db import connection

from panelapi.sandbox import SandboxPanel, SandboxServer
from shop.catalogue.retail import services_import
from shop.catalogue.sync import catalogue_sync
from shop.models import LedgerEntry, Service
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory

SANDBOX_KEY = "sandbox-test-key-3f9a1c7e"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a test that needs a server must not be skipped)")
    pytest.skip(reason)


def redis_url() -> str | None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


def xdist_index() -> int:
    """Which pytest-xdist worker runs this process (0 without xdist): tests that need a Redis database of their own add it."""
    digits = "".join(c for c in os.environ.get("PYTEST_XDIST_WORKER", "") if c.isdigit())
    return int(digits or 0)


CHROMIUM = "/usr/bin/chromium"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") and not os.path.exists(CHROMIUM):
        _missing(f"needs Chromium at {CHROMIUM}: apt-get install chromium")
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("needs PostgreSQL: set DATABASE_URL=postgres://... to run it")
    if item.get_closest_marker("redis") and redis_url() is None:
        _missing("needs Redis: set REDIS_URL=redis://... to a running server to run it")


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fresh sandbox panel served over real HTTP on a free loopback port."""
    panel = SandboxPanel(SANDBOX_KEY, seed=7, stage_seconds=10.0)
    server = SandboxServer(panel).start()
    yield server
    server.stop()


@pytest.fixture
def provider(db, sandbox):
    from shop.models import Provider

    return Provider.objects.create(name="Sandbox", api_url=sandbox.url, api_key=SANDBOX_KEY)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters and locks live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """A request leaves its language active in the thread (the test client's is the test's): each test starts in English."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def catalogue(provider) -> dict[str, Service]:
    """The sandbox catalogue synced and offered in the shop, by upstream service id."""
    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    return {s.provider_service.upstream_id: s for s in Service.objects.select_related("provider_service__provider", "category")}


@pytest.fixture
def customer(db):
    """A customer with 100.0000 on their balance."""
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("100"), kind=LedgerEntry.Kind.DEPOSIT)
    return user


@pytest.fixture
def web(client, customer):
    """The customer, logged in to the shop's pages."""
    client.force_login(customer)
    return client


@pytest.fixture
def key(customer) -> str:
    """The customer's API key (the whole key, as the customer holds it)."""
    from shop.reseller_api.keys import api_key_issue

    return api_key_issue(user=customer)


@pytest.fixture
def call(client, key):
    """POST one API call with the customer's key; the JSON reply."""

    def call(**params: str):
        response = client.post("/api/v2", {"key": key, **params})
        assert response["Content-Type"] == "application/json"
        return response.json()

    return call


class Queued:
    """Tasks of ``shop.orders.tasks`` that code run inside ``with queued:`` queued after its commit, as (task name, argument)."""

    def __init__(self, capture) -> None:
        self.sent: list[tuple[str, object]] = []
        self._capture = capture
        self._block = None

    def __enter__(self) -> Queued:
        self._block = self._capture(execute=True)
        self._block.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        # The test's own transaction never commits: the block's on-commit callbacks run as it ends.
        self._block.__exit__(*exc_info)


@pytest.fixture
def queued(monkeypatch, django_capture_on_commit_callbacks) -> Queued:
    """Record the order tasks' ``delay`` instead of sending to a broker; see ``Queued``."""
    from shop.orders import tasks

    recorder = Queued(django_capture_on_commit_callbacks)
    for name in ("refills_send_task", "orders_cancel_send_task", "requests_sweep_provider", "orders_refresh_provider"):
        monkeypatch.setattr(getattr(tasks, name), "delay", lambda argument, name=name: recorder.sent.append((name, argument)))
    return recorder


@pytest.fixture
def notified(monkeypatch) -> list[tuple[str, int]]:
    """The notifications queued, as (kind, object id), once the transaction that caused them commits.

    Wrap the action in ``django_capture_on_commit_callbacks(execute=True)`` to see them.
    """
    from shop.notifications.tasks import notification_send_task

    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(notification_send_task, "delay", lambda kind, object_id: sent.append((kind, object_id)))
    return sent
