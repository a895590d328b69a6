"""Average completion time (``shop.orders.averages``): scaled per 1000, the last 10 Completed orders, kept current on finishing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shop.models import Order, OrderStatus, ProviderService, Service
from shop.orders.averages import AVERAGE_OF, service_averages_refresh
from shop.orders.readings import POLLED_FIELDS, PolledOrder, Reading, orders_finish
from tests.factories import ProviderServiceFactory, ServiceFactory, UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db
S = OrderStatus


def done(service: Service, *, minutes: float, quantity: int = 1000, status: str = S.COMPLETED, ago_days: float = 0) -> Order:
    """An order of ``service`` that took ``minutes`` from placing to finishing, finished ``ago_days`` ago."""
    finished = timezone.now() - timedelta(days=ago_days)
    order = order_row(UserFactory(), service=service, status=status, quantity=quantity, total_quantity=quantity)
    Order.objects.filter(pk=order.pk).update(created_at=finished - timedelta(minutes=minutes), finished_at=finished)
    return order


def average(service: Service) -> int | None:
    return Service.objects.values_list("average_seconds", flat=True).get(pk=service.pk)


def test_an_orders_time_is_scaled_per_1000_units() -> None:
    service = ServiceFactory()
    done(service, minutes=30, quantity=500)  # 30 min for 500: an hour per 1000

    service_averages_refresh(service_ids=[service.pk])

    assert average(service) == 3600


def test_the_figure_is_the_median_of_the_last_10_completed_orders_only() -> None:
    service = ServiceFactory()
    for _ in range(3):
        done(service, minutes=600, ago_days=5)  # older than the last 10: not counted
    for minutes in [10, 10, 10, 20, 20, 20, 20, 30, 30, 4000]:  # one stuck order does not move the median
        done(service, minutes=minutes, ago_days=1)
    done(service, minutes=900, status=S.PARTIAL)  # only Completed orders count
    done(service, minutes=900, status=S.CANCELED)

    service_averages_refresh(service_ids=[service.pk])

    assert average(service) == 20 * 60


def test_an_even_count_takes_the_middle_two() -> None:
    service = ServiceFactory()
    done(service, minutes=10)
    done(service, minutes=30)

    service_averages_refresh(service_ids=[service.pk])

    assert average(service) == 20 * 60


def test_each_service_has_its_own_figure_and_one_without_completed_orders_stays_blank() -> None:
    fast, slow, idle = ServiceFactory(), ServiceFactory(), ServiceFactory()
    done(fast, minutes=5)
    done(slow, minutes=300)
    done(idle, minutes=1, status=S.PARTIAL)

    assert service_averages_refresh(service_ids=[fast.pk, slow.pk, idle.pk]) == 2

    assert (average(fast), average(slow), average(idle)) == (300, 18000, None)


def test_a_package_is_timed_per_order_not_scaled() -> None:
    package = ServiceFactory(provider_service=ProviderServiceFactory(type="Package"))
    done(package, minutes=90, quantity=1)

    service_averages_refresh(service_ids=[package.pk])

    assert average(package) == 90 * 60


def test_a_one_unit_order_that_took_weeks_does_not_overflow_the_column() -> None:
    service = ServiceFactory()
    done(service, minutes=60 * 24 * 60, quantity=1)

    service_averages_refresh(service_ids=[service.pk])

    assert average(service) == 2**31 - 1


def test_refreshing_many_services_takes_two_queries() -> None:
    services = ServiceFactory.create_batch(4)
    for service in services:
        for _ in range(AVERAGE_OF + 2):
            done(service, minutes=15)

    with CaptureQueriesContext(connection) as queries:
        service_averages_refresh(service_ids=[s.pk for s in services])

    assert len(queries) == 2
    assert {average(s) for s in services} == {900}


def _readings(orders: list[Order], status: str) -> list[Reading]:
    return [Reading(PolledOrder(**Order.objects.values(*POLLED_FIELDS).get(pk=o.pk)), status, status.title(), 0, 0, None) for o in orders]


def _finish(orders: list[Order], status: str) -> list[int]:
    return orders_finish(readings=_readings(orders, status), now=timezone.now())


def test_finishing_orders_refreshes_the_average_of_the_services_they_completed(customer) -> None:
    first, second, canceled_only = ServiceFactory(), ServiceFactory(), ServiceFactory()
    running = []
    for service, minutes in [(first, 60), (first, 60), (second, 30)]:
        order = order_row(customer, service=service, status=S.IN_PROGRESS, quantity=2000, total_quantity=2000)
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
        running.append(order)
    canceled = order_row(customer, service=canceled_only, status=S.IN_PROGRESS)

    _finish(running, S.COMPLETED)
    _finish([canceled], S.CANCELED)

    assert abs(average(first) - 1800) <= 2  # an hour for 2000: half an hour per 1000
    assert abs(average(second) - 900) <= 2
    assert average(canceled_only) is None


def test_finishing_orders_of_many_services_refreshes_them_in_two_queries() -> None:
    def batch(size: int) -> int:
        orders = [order_row(UserFactory(), service=ServiceFactory(), status=S.IN_PROGRESS) for _ in range(size)]
        readings = _readings(orders, S.COMPLETED)
        with CaptureQueriesContext(connection) as queries:
            assert len(orders_finish(readings=readings, now=timezone.now())) == size
        assert len([q for q in queries.captured_queries if 'UPDATE "shop_service"' in q["sql"]]) == 1
        return len(queries)

    assert batch(2) == batch(6)


def test_an_untimed_type_gets_no_figure() -> None:
    subscription = ServiceFactory(provider_service=ProviderServiceFactory(type="Subscriptions"))
    done(subscription, minutes=60)

    service_averages_refresh(service_ids=[subscription.pk])

    assert average(subscription) is None
    assert ProviderService.objects.filter(type="Subscriptions").exists()
