"""Many rows' compare-and-set in one statement (``shop.core.bulk``), on whichever database the suite runs: SQLite or PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.core.bulk import insert_values, update_from_values
from shop.models import Order, OrderStatus
from shop.orders.models import OrderEvent
from tests.helpers import order_row

pytestmark = pytest.mark.django_db
S = OrderStatus
ACTIVE = list(S.ACTIVE)
WHEN = datetime(2025, 3, 10, 12, 30, 15, 123456, tzinfo=UTC)


def stored(order: Order, *fields: str) -> tuple:
    return Order.objects.values_list(*fields).get(pk=order.pk)


def test_each_row_gets_its_own_values_and_the_changed_ids_come_back(customer) -> None:
    first, second = order_row(customer, status=S.PENDING), order_row(customer, status=S.IN_PROGRESS)
    rows = [
        {"pk": first.pk, "status": S.IN_PROGRESS, "remains": 40, "upstream_charge": Decimal("0.12345"), "next_check_at": WHEN},
        {"pk": second.pk, "status": S.PROCESSING, "remains": None, "upstream_charge": None, "next_check_at": None},
    ]
    changed = update_from_values(Order, rows, fields=["status", "remains", "upstream_charge", "next_check_at"], status_in=ACTIVE)

    assert sorted(changed) == sorted([first.pk, second.pk])
    assert stored(first, "status", "remains", "upstream_charge", "next_check_at") == (S.IN_PROGRESS, 40, Decimal("0.12345"), WHEN)
    assert stored(second, "status", "remains", "upstream_charge", "next_check_at") == (S.PROCESSING, None, None, None)


def test_only_rows_still_in_the_statuses_change(customer) -> None:
    running, finished = order_row(customer, status=S.PENDING), order_row(customer, status=S.COMPLETED, remains=0)
    rows = [{"pk": order.pk, "status": S.IN_PROGRESS, "remains": 7} for order in (running, finished)]

    assert update_from_values(Order, rows, fields=["status", "remains"], status_in=ACTIVE) == [running.pk]
    assert stored(running, "status", "remains") == (S.IN_PROGRESS, 7)
    assert stored(finished, "status", "remains") == (S.COMPLETED, 0)


def test_only_the_named_fields_are_written(customer) -> None:
    order = order_row(customer, status=S.PENDING, remains=10, error="kept")
    update_from_values(Order, [{"pk": order.pk, "remains": 5, "error": "ignored"}], fields=["remains"], status_in=ACTIVE)
    assert stored(order, "remains", "error") == (5, "kept")


def test_the_unchanged_guard_skips_a_row_whose_field_moved_since_it_was_read(customer) -> None:
    read, moved = order_row(customer, status=S.PENDING, checks=3), order_row(customer, status=S.PENDING, checks=3)
    Order.objects.filter(pk=moved.pk).update(checks=4)  # another poller stored first
    rows = [{"pk": order.pk, "checks": 4, "remains": 1, "checks__was": 3} for order in (read, moved)]

    assert update_from_values(Order, rows, fields=["checks", "remains"], status_in=ACTIVE, unchanged=["checks"]) == [read.pk]
    assert stored(read, "checks", "remains") == (4, 1)
    assert stored(moved, "checks", "remains") == (4, None)


def test_the_unchanged_guard_compares_nulls_as_equal(customer) -> None:
    unknown, known = order_row(customer, status=S.PENDING), order_row(customer, status=S.PENDING, remains=9)
    rows = [{"pk": order.pk, "remains": 3, "remains__was": None} for order in (unknown, known)]

    assert update_from_values(Order, rows, fields=["remains"], status_in=ACTIVE, unchanged=["remains"]) == [unknown.pk]
    assert (stored(unknown, "remains"), stored(known, "remains")) == ((3,), (9,))


def test_an_id_that_is_not_there_is_not_reported_changed(customer) -> None:
    order = order_row(customer, status=S.PENDING)
    rows = [{"pk": order.pk, "remains": 1}, {"pk": order.pk + 1000, "remains": 1}]
    assert update_from_values(Order, rows, fields=["remains"], status_in=ACTIVE) == [order.pk]


def test_no_rows_cost_no_statement() -> None:
    with CaptureQueriesContext(connection) as queries:
        assert update_from_values(Order, [], fields=["remains"], status_in=ACTIVE) == []
        assert insert_values(OrderEvent, [], fields=["order_id"]) == 0
    assert len(queries) == 0


def test_many_rows_are_one_update(customer) -> None:
    orders = [order_row(customer, status=S.PENDING) for _ in range(30)]
    rows = [{"pk": order.pk, "remains": index} for index, order in enumerate(orders)]
    with CaptureQueriesContext(connection) as queries:
        changed = update_from_values(Order, rows, fields=["remains"], status_in=ACTIVE)
    assert sorted(changed) == sorted(order.pk for order in orders)
    assert dict(Order.objects.values_list("pk", "remains")) == {order.pk: index for index, order in enumerate(orders)}
    updates = [query["sql"] for query in queries if "UPDATE" in query["sql"].upper() and "FOR UPDATE" not in query["sql"].upper()]
    assert len(updates) == 1


def test_inserted_rows_come_back_as_written(customer) -> None:
    order = order_row(customer, status=S.PENDING)
    fields = ("order_id", "kind", "actor", "actor_user_id", "key_prefix", "status", "detail", "created_at")
    rows = [
        {
            "order_id": order.pk,
            "kind": OrderEvent.Kind.STATUS,
            "actor": OrderEvent.Actor.SYSTEM,
            "actor_user_id": None,
            "key_prefix": "",
            "status": S.IN_PROGRESS,
            "detail": {"remains": index, "upstream_status": "In progress"},
            "created_at": WHEN,
        }
        for index in range(3)
    ]

    assert insert_values(OrderEvent, rows, fields=fields) == 3

    written = list(
        OrderEvent.objects.filter(order=order).order_by("id").values_list("kind", "actor_user_id", "status", "detail", "created_at")
    )
    assert written == [
        (OrderEvent.Kind.STATUS, None, S.IN_PROGRESS, {"remains": i, "upstream_status": "In progress"}, WHEN) for i in range(3)
    ]
