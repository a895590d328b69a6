"""The orders' Celery tasks as the periodic schedule runs them (``shop.orders.tasks``)."""

from __future__ import annotations

import pytest

from shop.orders.tasks import orders_refresh_all

pytestmark = pytest.mark.django_db


def test_the_periodic_refresh_queues_each_providers_request_sweep_once_per_interval(provider, queued, settings) -> None:
    settings.REFILL_POLL_INTERVAL = 300

    orders_refresh_all()
    orders_refresh_all()  # a minute later: the orders again, the refills and cancels not yet

    assert queued.sent == [
        ("orders_refresh_provider", provider.pk),
        ("requests_sweep_provider", provider.pk),
        ("orders_refresh_provider", provider.pk),
    ]


def test_a_submission_to_a_busy_provider_goes_back_on_the_queue_once(catalogue, customer, monkeypatch, settings) -> None:
    from shop.catalogue.providers import provider_slot
    from shop.orders import tasks
    from shop.orders.placement import order_place

    settings.PROVIDER_BUSY_RETRY = 2.5
    order = order_place(user=customer, service=catalogue["1"], link="https://instagram.com/p/abc", quantity=1000)
    provider = order.provider
    provider.concurrency = 1
    provider.save(update_fields=["concurrency"])
    sent: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(tasks.order_submit_task, "apply_async", lambda args, **options: sent.append((args, options)))
    with provider_slot(provider=provider):
        assert tasks.order_submit_task.run(order.pk) == "busy"
        assert tasks.order_submit_task.run(order.pk) == "busy"  # a duplicate of the task: stops, not queued again
    assert sent == [((order.pk,), {"countdown": 2.5})]
