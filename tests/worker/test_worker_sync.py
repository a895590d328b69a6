"""A real Celery worker on Redis runs the periodic catalogue sync against the sandbox."""

from __future__ import annotations

import time

import pytest
from celery import Celery

from shop.models import Provider, ProviderService
from tests.conftest import SANDBOX_KEY
from tests.processes import broker_url, worker_process

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def worker(transactional_db):
    with worker_process() as process:
        yield process


def test_periodic_sync_runs_on_a_real_worker(worker, sandbox) -> None:
    provider = Provider.objects.create(name="Sandbox", api_url=sandbox.url, api_key=SANDBOX_KEY)
    app = Celery(broker=broker_url())

    app.send_task("shop.tasks.catalogue_sync_all")

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not Provider.objects.filter(pk=provider.pk, last_sync_ok=True).exists():
        assert worker.poll() is None, worker.stdout.read()
        time.sleep(0.25)
    worker.terminate()
    output = worker.communicate(timeout=15)[0]
    assert Provider.objects.get(pk=provider.pk).last_sync_ok, output
    assert ProviderService.objects.filter(provider=provider).count() == len(sandbox.panel.services)
    assert "shop.tasks.catalogue_sync_provider[" in output  # the per-provider task ran on this worker
    assert SANDBOX_KEY not in output


def test_a_duplicated_submit_task_places_one_order_upstream(worker, sandbox) -> None:
    from decimal import Decimal

    from shop.catalogue.retail import services_import
    from shop.catalogue.sync import catalogue_sync
    from shop.models import LedgerEntry, Order, OrderStatus
    from shop.orders.placement import order_place
    from shop.wallet.services import wallet_credit
    from tests.factories import UserFactory

    provider = Provider.objects.create(name="Sandbox", api_url=sandbox.url, api_key=SANDBOX_KEY)
    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10"), kind=LedgerEntry.Kind.DEPOSIT)
    order = order_place(
        user=user, service=provider.services.get(upstream_id="1").retail_services.get(), link="https://x.example/p", quantity=100
    )
    app = Celery(broker=broker_url())

    for _ in range(3):  # the on-commit enqueue went to the test's own broker: send it three times for real
        app.send_task("shop.tasks.order_submit_task", args=[order.pk])

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and Order.objects.get(pk=order.pk).status != OrderStatus.PENDING:
        assert worker.poll() is None
        time.sleep(0.25)
    time.sleep(1)  # let the duplicates run too
    worker.terminate()
    output = worker.communicate(timeout=15)[0]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING, output
    assert output.count("succeeded") >= 3, output
    assert sandbox.panel.calls["add"] == 1


def test_a_refill_whose_task_was_lost_is_sent_by_the_request_sweep_on_a_real_worker(transactional_db, sandbox) -> None:
    from decimal import Decimal

    from shop.catalogue.retail import services_import
    from shop.catalogue.sync import catalogue_sync
    from shop.models import LedgerEntry, Order, OrderStatus, Refill
    from shop.orders.placement import order_place
    from shop.orders.requests import order_refill
    from shop.orders.submission import order_submit
    from shop.wallet.services import wallet_credit
    from tests.factories import UserFactory
    from tests.helpers import order_finish
    from tests.processes import worker_process

    provider = Provider.objects.create(name="Sandbox", api_url=sandbox.url, api_key=SANDBOX_KEY)
    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10"), kind=LedgerEntry.Kind.DEPOSIT)
    service = provider.services.get(upstream_id="1").retail_services.get()
    order = order_place(user=user, service=service, link="https://x.example/p", quantity=100)
    order_submit(order_id=order.pk)
    order_finish(order_id=order.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    sandbox.panel.advance(10_000)
    refill = order_refill(order=Order.objects.select_related("provider_service").get(pk=order.pk))  # its task went to the test's broker

    with worker_process(ORDER_REQUEUE_AFTER="0") as worker:
        Celery(broker=broker_url()).send_task("shop.tasks.requests_sweep_provider", args=[provider.pk])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not Refill.objects.get(pk=refill.pk).upstream_refill_id:
            assert worker.poll() is None
            time.sleep(0.25)
        worker.terminate()
        output = worker.communicate(timeout=15)[0]

    assert Refill.objects.get(pk=refill.pk).upstream_refill_id, output
    assert "shop.tasks.requests_sweep_provider[" in output and "1 refills and 0 cancels sent" in output, output
    assert sandbox.panel.calls["refill"] == 1 and sandbox.panel.calls["refill_status"] == 1
