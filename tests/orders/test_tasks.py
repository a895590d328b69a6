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
