"""The dashboard's rollup equals the orders it sums, after any write to them (issue 16)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from shop.backoffice.models import OrderFigures, OrderFiguresChange
from shop.backoffice.rollup import figures_fold
from shop.models import Order
from tests.factories import ProviderFactory, ServiceFactory, UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db
START = datetime(2025, 3, 10, 11, 50, tzinfo=UTC)


def quarter(at: datetime) -> datetime:
    return at.replace(minute=at.minute // 15 * 15, second=0, microsecond=0)


def from_orders() -> dict[tuple[datetime, int], tuple[int, Decimal, Decimal, int]]:
    """What the rollup must hold, summed from the orders in Python."""
    sums: dict[tuple[datetime, int], list] = {}
    for order in Order.objects.all():
        row = sums.setdefault((quarter(order.created_at), order.provider_id), [0, Decimal(0), Decimal(0), 0])
        row[0] += 1
        row[1] += order.charge - order.refunded
        row[2] += order.upstream_charge or 0
        row[3] += order.upstream_charge is None and order.refunded < order.charge
    return {
        key: (n, money.quantize(Decimal("0.0001")), cost.quantize(Decimal("0.00001")), unknown)
        for key, (n, money, cost, unknown) in sums.items()
    }


def from_rollup() -> dict[tuple[datetime, int], tuple[int, Decimal, Decimal, int]]:
    figures_fold()
    return {
        (row.bucket, row.provider_id): (
            row.orders,
            Decimal(str(row.revenue)).quantize(Decimal("0.0001")),
            Decimal(str(row.upstream)).quantize(Decimal("0.00001")),
            row.cost_unknown,
        )
        for row in OrderFigures.objects.all()
        if row.orders or row.revenue or row.upstream or row.cost_unknown
    }


def test_every_kind_of_write_keeps_the_rollup_equal_to_its_orders() -> None:
    rng = random.Random(16)
    services = [ServiceFactory(provider_service__provider=ProviderFactory()) for _ in range(2)]
    customer = UserFactory()
    orders: list[Order] = []
    for step in range(120):
        action = rng.choice(["add", "add", "refund", "cost", "move", "provider", "delete", "status"]) if orders else "add"
        if action == "add":
            service = rng.choice(services)
            orders.append(order_row(customer, service=service, charge=f"{rng.randint(1, 9999) / 100:.4f}"))
            continue
        order = rng.choice(orders)
        write = Order.objects.filter(pk=order.pk)
        if action == "refund":
            charge = write.values_list("charge", flat=True).get()
            write.update(refunded=(charge * Decimal(rng.randint(0, 100)) / 100).quantize(Decimal("0.0001")))
        elif action == "cost":
            write.update(upstream_charge=rng.choice([None, Decimal(rng.randint(1, 99999)) / 1000]))
        elif action == "move":
            write.update(created_at=START + timedelta(minutes=rng.randint(0, 120)))
        elif action == "provider":
            service = rng.choice(services)
            write.update(service=service, provider_id=service.provider_service.provider_id, provider_service=service.provider_service)
        elif action == "delete":
            write.delete()
            orders.remove(order)
        else:
            write.update(status=rng.choice(["completed", "partial", "canceled"]))
        if step % 10 == 0:
            assert from_rollup() == from_orders()
    assert from_rollup() == from_orders()


def test_a_write_that_changes_no_figure_appends_nothing() -> None:
    order = order_row(UserFactory())
    figures_fold()
    Order.objects.filter(pk=order.pk).update(status="completed", upstream_status="Completed", start_count=5, remains=0)
    order.refresh_from_db()
    order.save()  # every column written again, none changed
    assert not OrderFiguresChange.objects.exists()


def test_a_fold_empties_the_changes_and_a_second_changes_nothing() -> None:
    customer = UserFactory()
    for _ in range(3):
        order_row(customer, charge="2.5000")
    assert OrderFiguresChange.objects.count() == 3
    figures_fold()
    assert not OrderFiguresChange.objects.exists()
    once = from_rollup()
    figures_fold()
    assert from_rollup() == once
    assert sum(orders for orders, *_ in once.values()) == 3
    assert sum(revenue for _, revenue, *_ in once.values()) == Decimal("7.5")


def test_the_quarter_hour_of_an_order_is_its_creation_in_utc() -> None:
    order = order_row(UserFactory())
    Order.objects.filter(pk=order.pk).update(created_at=datetime(2025, 3, 10, 23, 59, 59, 999999, tzinfo=UTC))
    figures_fold()
    live = OrderFigures.objects.filter(orders__gt=0).values_list("bucket", flat=True)
    assert list(live) == [datetime(2025, 3, 10, 23, 45, tzinfo=UTC)]
    assert OrderFigures.objects.aggregate(n=Sum("orders"))["n"] == 1
