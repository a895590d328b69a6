"""Separate queues and a concurrency limit per provider, on a real worker (issue 16, point 3).

A provider that hangs on every order must not hold every worker slot: another provider's orders are sent on time.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from celery import Celery
from django.conf import settings

from panelapi.sandbox import Fault, SandboxPanel, SandboxServer
from shop.catalogue.retail import services_import
from shop.catalogue.sync import catalogue_sync
from shop.models import LedgerEntry, Order, OrderStatus, Provider
from shop.orders.placement import order_place
from shop.wallet.services import wallet_credit
from tests.conftest import SANDBOX_KEY
from tests.factories import UserFactory
from tests.processes import broker_url, worker_process

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

HANG = 12.0  # seconds each order call to the slow panel takes
ON_TIME = 8.0  # the healthy panel's orders are all sent this soon after the slow panel's first call began


@pytest.fixture
def slow_panel():
    server = SandboxServer(SandboxPanel(SANDBOX_KEY, seed=7, stage_seconds=10.0)).start()
    yield server
    server.panel.clear_faults()
    server.stop()


def shop_app() -> Celery:
    """A client of the broker routed as the shop routes (the queues of ``CELERY_TASK_ROUTES``)."""
    app = Celery(broker=broker_url())
    app.conf.task_queues = settings.CELERY_TASK_QUEUES
    app.conf.task_routes = settings.CELERY_TASK_ROUTES
    return app


def offered(url: str, name: str, concurrency: int):
    provider = Provider.objects.create(name=name, api_url=url, api_key=SANDBOX_KEY, concurrency=concurrency)
    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    return provider.services.get(upstream_id="1").retail_services.get()


def test_a_provider_that_hangs_holds_one_worker_slot_and_another_providers_orders_are_sent_on_time(
    transactional_db, sandbox, slow_panel
) -> None:
    slow_service = offered(slow_panel.url, "Slow", concurrency=1)
    healthy_service = offered(sandbox.url, "Healthy", concurrency=4)
    slow_panel.panel.add_fault(Fault(kind="slow", action="add", delay=HANG, times=0))
    customer = UserFactory()
    wallet_credit(user=customer, amount=Decimal("100"), kind=LedgerEntry.Kind.DEPOSIT)
    link = "https://instagram.com/p/abc"
    slow = [order_place(user=customer, service=slow_service, link=link, quantity=100).pk for _ in range(6)]
    healthy = [order_place(user=customer, service=healthy_service, link=link, quantity=100).pk for _ in range(3)]

    # Three execution slots: without the limit, the slow panel's first three orders would hold all of them for HANG s.
    with worker_process(pool="threads", concurrency=3, REDIS_URL=broker_url(), PROVIDER_BUSY_RETRY="1") as worker:
        app = shop_app()
        for order_id in slow + healthy:  # the on-commit sends went to the test's own broker: sent again for real
            app.send_task("shop.tasks.order_submit_task", args=[order_id])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not slow_panel.panel.calls["add"]:
            assert worker.poll() is None
            time.sleep(0.1)
        assert slow_panel.panel.calls["add"] >= 1, "the slow panel was never called"
        on_time = time.monotonic() + ON_TIME
        while time.monotonic() < on_time and Order.objects.filter(pk__in=healthy, status=OrderStatus.PENDING).count() < 3:
            time.sleep(0.1)
        placed = Order.objects.filter(pk__in=healthy, status=OrderStatus.PENDING).count()
        calls_to_slow = slow_panel.panel.calls["add"]
        waiting = Order.objects.filter(pk__in=slow, status=OrderStatus.AWAITING).count()
        worker.terminate()
        output = worker.communicate(timeout=30)[0]

    assert placed == 3, output
    assert calls_to_slow == 1, output  # its concurrency: the other five waited their turn
    assert waiting == 5, output  # not claimed, so nothing to resolve by hand
    assert sandbox.panel.calls["add"] == 3
    assert "succeeded" in output and "'busy'" in output, output
