"""Refreshing active orders from the provider in batches, and refunding Partial and Canceled ones once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from panelapi.sandbox import Fault
from shop.models import LedgerEntry, Order, OrderStatus
from shop.orders.flow import refund_amount
from shop.orders.refresh import orders_refresh
from shop.wallet.selectors import ledger_differences
from tests.factories import ProviderFactory
from tests.helpers import order_row, place_and_submit, race, refunds_of, typed_service

pytestmark = pytest.mark.django_db


def upstream_status(sandbox, order: Order) -> dict[str, str]:
    from tests.conftest import SANDBOX_KEY

    return sandbox.panel.handle({"key": SANDBOX_KEY, "action": "status", "order": order.upstream_order_id})[1]


def expected_refunds(sandbox, order: Order) -> list[Decimal]:
    """The refunds an order must have, from what the sandbox says of it."""
    upstream = upstream_status(sandbox, order)
    assert order.upstream_status == upstream["status"]
    if order.status == OrderStatus.CANCELED:
        return [order.charge]
    if order.status == OrderStatus.PARTIAL:
        amount = refund_amount(charge=order.charge, total_quantity=order.total_quantity, remains=int(upstream["remains"]))
        return [amount] if amount else []
    assert order.status == OrderStatus.COMPLETED
    return []


def due_orders(provider, customer, count: int) -> list[Order]:
    """``count`` pending orders of ``provider`` (upstream ids 9001, 9002, ...) written straight to the table, due in that order: no HTTP."""
    service = typed_service(provider, "Default")
    due = timezone.now() - timedelta(minutes=1)
    return [
        order_row(
            customer,
            service=service,
            status=OrderStatus.PENDING,
            upstream_order_id=str(9001 + index),
            next_check_at=due + timedelta(milliseconds=index),
        )
        for index in range(count)
    ]


def replies(sandbox, statuses: dict[Order, dict[str, str]]) -> None:
    """The sandbox answers every status call with these entries, keyed by each order's upstream id."""
    body = {order.upstream_order_id: entry for order, entry in statuses.items()}
    sandbox.panel.add_fault(Fault(kind="reply", action="status", body=body, times=0))


def test_250_active_orders_take_three_status_calls(catalogue, customer, sandbox, provider) -> None:
    place_and_submit(catalogue, customer, 250, quantity=10)
    calls_before = sandbox.panel.calls["status"]

    result = orders_refresh(provider=provider)

    assert (result.orders, result.calls, result.updated) == (250, 3, 250)
    assert sandbox.panel.calls["status"] - calls_before == 3
    order = Order.objects.first()
    assert (order.status, order.upstream_status, order.remains, order.checks) == (OrderStatus.PENDING, "Pending", 10, 1)
    assert order.next_check_at > timezone.now()
    assert order.upstream_charge == Decimal("0.00013")  # 0.0125 x 10 / 1000, the provider's cost


def test_orders_not_due_are_not_asked_about(catalogue, customer, sandbox, provider) -> None:
    place_and_submit(catalogue, customer, 3)
    orders_refresh(provider=provider)
    calls = sandbox.panel.calls["status"]
    assert orders_refresh(provider=provider).orders == 0
    assert sandbox.panel.calls["status"] == calls


def test_final_statuses_are_stored_refunded_once_and_never_polled_again(catalogue, customer, sandbox, provider) -> None:
    orders = place_and_submit(catalogue, customer, 60, service="17", quantity=200)  # TikTok followers, 3.10 upstream
    sandbox.panel.advance(10_000)

    result = orders_refresh(provider=provider)

    assert result.finished == 60
    seen = set()
    for order in orders:
        order.refresh_from_db()
        seen.add(order.status)
        expected = expected_refunds(sandbox, order)
        assert refunds_of(order) == expected
        assert order.refunded == sum(expected, Decimal("0"))
    assert seen == {OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED}
    assert ledger_differences() == []

    Order.objects.update(next_check_at=timezone.now())
    calls = sandbox.panel.calls["status"]
    assert orders_refresh(provider=provider).orders == 0
    assert sandbox.panel.calls["status"] == calls


def test_unknown_status_word_is_kept_raw_and_the_order_stays_active(catalogue, customer, provider, monkeypatch) -> None:
    (order,) = place_and_submit(catalogue, customer, 1)
    from panelapi.sandbox import panel as sandbox_panel

    monkeypatch.setattr(sandbox_panel.SandboxPanel, "_status_reply", lambda self, o, now: {"status": "Awaiting moderation", "remains": "7"})
    orders_refresh(provider=provider)
    order.refresh_from_db()
    assert (order.status, order.upstream_status, order.remains) == (OrderStatus.PENDING, "Awaiting moderation", 7)
    assert order.status in OrderStatus.ACTIVE


def test_a_per_item_error_affects_only_that_order(catalogue, customer, provider) -> None:
    good, bad = place_and_submit(catalogue, customer, 2)
    Order.objects.filter(pk=bad.pk).update(upstream_order_id="999999")

    result = orders_refresh(provider=provider)

    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.checks, good.error) == (1, "")
    assert bad.status == OrderStatus.PENDING and bad.error == "Provider: Incorrect order ID"
    assert bad.next_check_at > timezone.now()
    assert result.errors == 1


def test_a_failed_batch_postpones_its_orders_and_loses_nothing(catalogue, customer, provider, sandbox) -> None:
    from panelapi.sandbox import Fault

    orders = place_and_submit(catalogue, customer, 3)
    sandbox.panel.add_fault(Fault(kind="html", action="status"))
    result = orders_refresh(provider=provider)
    assert result.failed_batches and result.errors == 3
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.PENDING and "HTML" in order.error


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_pollers_refund_each_order_once(provider, sandbox) -> None:
    from shop.catalogue.retail import services_import
    from shop.catalogue.sync import catalogue_sync
    from shop.wallet.services import wallet_credit
    from tests.factories import UserFactory

    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    catalogue = {"17": provider.services.get(upstream_id="17").retail_services.get()}
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("1000"), kind=LedgerEntry.Kind.DEPOSIT)
    orders = place_and_submit(catalogue, user, 40, service="17", quantity=1000)
    sandbox.panel.advance(10_000)
    outcomes = race(4, lambda: orders_refresh(provider=provider))
    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]

    for order in orders:
        order.refresh_from_db()
        assert refunds_of(order) == expected_refunds(sandbox, order)
        assert order.refunded <= order.charge
    assert ledger_differences() == []


# Rules stated one by one, on orders written straight to the table and crafted replies --------------


def test_only_the_providers_own_due_orders_are_asked_about(customer, provider, sandbox) -> None:
    (own,) = due_orders(provider, customer, 1)
    other = order_row(
        customer,
        service=typed_service(ProviderFactory(), "Default"),
        status=OrderStatus.PENDING,
        upstream_order_id="9002",
        next_check_at=timezone.now() - timedelta(minutes=1),
    )
    replies(sandbox, {own: {"status": "In progress", "remains": "40"}, other: {"status": "Canceled", "remains": "100"}})

    result = orders_refresh(provider=provider)

    assert (result.orders, result.updated, result.finished) == (1, 1, 0)
    own.refresh_from_db()
    other.refresh_from_db()
    assert (own.status, own.remains) == (OrderStatus.IN_PROGRESS, 40)
    assert (other.status, other.checks, other.remains, other.last_checked_at, other.error) == (OrderStatus.PENDING, 0, None, None, "")
    assert refunds_of(other) == []


def test_a_known_status_stores_the_providers_figures_and_no_error(customer, provider, sandbox) -> None:
    (order,) = due_orders(provider, customer, 1)
    replies(sandbox, {order: {"status": "In progress", "start_count": "37", "remains": "12", "charge": "0.2"}})

    orders_refresh(provider=provider)

    order.refresh_from_db()
    assert (order.status, order.upstream_status, order.start_count, order.remains) == (OrderStatus.IN_PROGRESS, "In progress", 37, 12)
    assert (order.upstream_charge, order.checks, order.error) == (Decimal("0.2"), 1, "")


def test_an_unknown_status_word_is_noted_in_the_orders_error_and_the_order_stays_active(customer, provider, sandbox) -> None:
    (order,) = due_orders(provider, customer, 1)
    replies(sandbox, {order: {"status": "Awaiting moderation", "start_count": "5", "remains": "70"}})

    result = orders_refresh(provider=provider)

    order.refresh_from_db()
    assert (order.status, order.upstream_status, order.start_count, order.remains) == (OrderStatus.PENDING, "Awaiting moderation", 5, 70)
    assert order.error == "Provider: unknown status 'Awaiting moderation'; the order stays as it was and is checked again later."
    assert (result.updated, result.finished, result.errors) == (1, 0, 0)


def test_an_order_missing_from_the_reply_is_postponed_with_a_note_and_the_rest_are_still_stored(customer, provider, sandbox) -> None:
    missing, answered = due_orders(provider, customer, 2)  # asked in this order
    replies(sandbox, {answered: {"status": "In progress", "remains": "30"}})
    before = timezone.now()

    result = orders_refresh(provider=provider)

    missing.refresh_from_db()
    answered.refresh_from_db()
    assert (missing.status, missing.checks, missing.error) == (OrderStatus.PENDING, 0, "Provider: no answer for this order")
    assert missing.next_check_at > before
    assert (answered.status, answered.remains, answered.checks, answered.error) == (OrderStatus.IN_PROGRESS, 30, 1, "")
    assert (result.updated, result.errors) == (1, 1)


def test_every_failed_batch_is_reported_with_the_panels_words_and_all_its_orders_count_as_errors(customer, provider, sandbox) -> None:
    orders = due_orders(provider, customer, 101)  # two calls: 100 ids, then 1
    sandbox.panel.add_fault(Fault(kind="html", action="status", times=0))

    result = orders_refresh(provider=provider)

    message = "status: HTTP 502 from the panel with an HTML page"
    assert (result.orders, result.calls, result.errors) == (101, 2, 101)
    assert result.failed_batches == [message, message]
    assert set(Order.objects.filter(pk__in=[order.pk for order in orders]).values_list("status", "error")) == {
        (OrderStatus.PENDING, message)
    }


def test_orders_without_an_answer_are_counted_as_errors_across_every_batch(customer, provider, sandbox) -> None:
    due_orders(provider, customer, 101)  # the sandbox knows none of these ids

    result = orders_refresh(provider=provider)

    assert (result.calls, result.errors, result.updated, result.failed_batches) == (2, 101, 0, [])
    assert set(Order.objects.values_list("error", flat=True)) == {"Provider: Incorrect order ID"}


def test_the_result_counts_the_finished_and_the_refunded_orders_of_every_batch(customer, provider, sandbox) -> None:
    orders = due_orders(provider, customer, 102)  # two calls: 100 ids, then 2 (a Partial and a Canceled)
    ends = ["Completed", "Partial", "Canceled"]
    replies(sandbox, {order: {"status": ends[index % 3], "remains": "10"} for index, order in enumerate(orders)})

    result = orders_refresh(provider=provider)

    assert (result.calls, result.finished, result.refunded, result.updated, result.errors) == (2, 102, 68, 0, 0)
    refunded = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND)
    assert refunded.count() == 68
    assert not refunded.filter(order__status=OrderStatus.COMPLETED).exists()


def test_expired_on_an_ordinary_order_is_an_unknown_word_asked_at_most_hourly_once_old(customer, provider, sandbox, settings) -> None:
    settings.ORDER_POLL_INTERVAL = 60
    young, old = due_orders(provider, customer, 2)
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    replies(sandbox, {young: {"status": "Expired", "remains": "40"}, old: {"status": "Expired", "remains": "40"}})

    for _ in range(3):  # read again and again: never finished, never refunded, never asked sooner than the back-off allows
        Order.objects.update(next_check_at=timezone.now() - timedelta(seconds=1))
        before = timezone.now()
        result = orders_refresh(provider=provider)
        assert (result.finished, result.refunded, result.errors) == (0, 0, 0)
        young.refresh_from_db()
        old.refresh_from_db()
        for order in (young, old):
            assert (order.status, order.upstream_status, order.remains) == (OrderStatus.PENDING, "Expired", 40)
            assert order.error == "Provider: unknown status 'Expired'; the order stays as it was and is checked again later."
            assert refunds_of(order) == []
        assert timedelta(seconds=60) <= young.next_check_at - before < timedelta(seconds=61)
        assert timedelta(hours=1) <= old.next_check_at - before < timedelta(hours=1, seconds=1)
    assert (young.checks, old.checks) == (3, 3)


def test_a_subscriptions_posts_beyond_any_subscription_are_ignored_and_the_batch_is_still_stored(customer, provider, sandbox) -> None:
    service = typed_service(provider, "Subscriptions", rate="3.00", low=50, high=5000)
    due = timezone.now() - timedelta(minutes=1)
    fields = {"link": "", "quantity": 200, "total_quantity": 1000, "next_check_at": due}
    huge, fine = (
        order_row(customer, service=service, status=OrderStatus.SUB_ACTIVE, upstream_order_id=str(9101 + i), posts_done=2, **fields)
        for i in range(2)
    )
    replies(sandbox, {huge: {"status": "Active", "posts": "3000000000"}, fine: {"status": "Active", "posts": "4"}})

    result = orders_refresh(provider=provider)

    huge.refresh_from_db()
    fine.refresh_from_db()
    assert (result.updated, result.errors) == (2, 0)
    assert (huge.status, huge.posts_done, huge.checks) == (OrderStatus.SUB_ACTIVE, 2, 1)  # unreadable: the count kept
    assert (fine.status, fine.posts_done) == (OrderStatus.SUB_ACTIVE, 4)
