"""The order model (``shop.orders.models``): the status sets agree with each other, the indexes use them, one order per form."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from shop.models import Order, OrderStatus
from tests.factories import UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db
S = OrderStatus
ALL = set(S.values)


def test_every_set_holds_known_statuses_each_once() -> None:
    for name in ("UNPLACED", "ACTIVE", "PLACED", "UPSTREAM_FINAL", "FINAL", "LIVE", "REFUNDABLE", "CANCELLABLE", "REFILLABLE"):
        statuses = getattr(S, name)
        assert set(statuses) <= ALL and len(set(statuses)) == len(statuses), name


def test_live_is_every_status_that_is_not_final() -> None:
    assert set(S.LIVE) == ALL - set(S.FINAL)
    assert set(S.LIVE) & set(S.FINAL) == set()


def test_placed_is_the_active_statuses_and_the_ends_the_provider_reports() -> None:
    assert set(S.ACTIVE) < set(S.PLACED)
    assert set(S.PLACED) == set(S.ACTIVE) | set(S.UPSTREAM_FINAL)
    assert set(S.UNPLACED) & set(S.PLACED) == set()


def test_the_final_sets_nest() -> None:
    assert set(S.UPSTREAM_FINAL) < set(S.FINAL)
    assert set(S.REFUNDABLE) < set(S.FINAL)
    assert set(S.FINAL) - set(S.UPSTREAM_FINAL) == {S.FAILED}  # the one end only the shop decides
    assert S.COMPLETED not in S.REFUNDABLE


def test_customers_may_cancel_running_orders_and_refill_delivered_ones() -> None:
    assert set(S.CANCELLABLE) <= set(S.ACTIVE)
    assert set(S.REFILLABLE) <= set(S.UPSTREAM_FINAL) - {S.CANCELED}


def test_every_status_has_a_customer_label_from_the_upstreams_words() -> None:
    assert set(S.CUSTOMER_LABELS) == ALL
    words = {"Pending", "In progress", "Processing", "Completed", "Partial", "Canceled", "Active", "Paused", "Expired"}
    assert set(S.CUSTOMER_LABELS.values()) == words
    assert all(S.customer_label(status) == S(status).label for status in S.PLACED)  # the provider's own words pass through


def test_the_partial_indexes_cover_exactly_the_statuses_they_serve() -> None:
    indexes = {index.name: index for index in Order._meta.indexes}
    assert indexes["order_poll_queue"].condition == Q(status__in=S.ACTIVE)
    assert indexes["order_unplaced"].condition == Q(status__in=S.UNPLACED)


def test_the_migrations_hold_the_model_as_it_is() -> None:
    """A changed status set (or any field) without its migration would leave the indexes and constraints behind."""
    out = StringIO()
    call_command("makemigrations", "shop", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.postgres
def test_the_poll_queue_index_in_the_database_is_partial_on_the_active_statuses() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'order_poll_queue'")
        (definition,) = cursor.fetchone()
    assert " WHERE " in definition
    predicate = definition.split(" WHERE ", 1)[1]
    assert all(f"'{status}'" in predicate for status in S.ACTIVE)
    assert not any(f"'{status}'" in predicate for status in ALL - set(S.ACTIVE))


def test_the_status_column_accepts_only_known_statuses(customer) -> None:
    order = order_row(customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(status="refunded")


# One order per form ------------------------------------------------------------------------------


def test_one_customer_cannot_have_two_orders_from_one_form(customer) -> None:
    token = uuid.uuid4()
    order_row(customer, form_token=token)
    with pytest.raises(IntegrityError), transaction.atomic():
        order_row(customer, form_token=token)
    assert Order.objects.filter(user=customer, form_token=token).count() == 1


def test_two_customers_may_hold_the_same_token(customer) -> None:
    token = uuid.uuid4()
    order_row(customer, form_token=token)
    order_row(UserFactory(), form_token=token)
    assert Order.objects.filter(form_token=token).count() == 2


def test_orders_without_a_token_are_many(customer) -> None:
    for _ in range(3):
        order_row(customer, form_token=None)
    assert Order.objects.filter(user=customer, form_token__isnull=True).count() == 3
