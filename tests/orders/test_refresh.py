"""Refreshing active orders from the provider in batches, and refunding Partial and Canceled ones once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from shop.models import LedgerEntry, Order, OrderStatus
from shop.orders.flow import refund_amount
from shop.orders.refresh import orders_refresh
from shop.wallet.selectors import ledger_differences
from tests.helpers import place_and_submit, race, refunds_of

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
