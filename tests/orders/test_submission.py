"""Which refusals of an ``add`` hold an order (the provider's own funds are short) and which fail it with a full refund."""

from __future__ import annotations

from decimal import Decimal

import pytest

from panelapi.sandbox import Fault
from shop.models import LedgerEntry, Order, OrderStatus, Wallet
from shop.orders.placement import order_place
from shop.orders.submission import FUNDS_REFUSAL, PROVIDER_LOW, SubmitOutcome, order_submit
from shop.wallet.selectors import ledger_differences

LINK = "https://instagram.com/p/abc"

# The provider itself lacks funds: nothing was placed, the order waits for the balance.
PROVIDER_FUNDS = [
    "Not enough funds on balance",
    "Not enough funds",
    "not enough funds!",
    "Not enough balance",
    "NOT_ENOUGH_FUNDS",
    "neworder.error.not_enough_funds",
    "Insufficient funds",
    "insufficient balance",
    "Insufficient funds on your account",
    "Your balance is too low",
    "Balance is low",
    "You do not have enough funds",
    "You don't have enough funds to place this order",
]
# Anything else is about the order itself: it fails, and the customer gets the whole charge back.
OTHER_REFUSALS = [
    "Incorrect service ID",
    "Incorrect request",
    "Incorrect order ID",
    "Invalid API key",
    "Quantity less than minimal 50",
    "Quantity more than maximum 10000",
    "Bad link",
    "You have active order with this link. Please wait until order being completed.",
    "neworder.error.link_duplicate",
    "neworder.error.quantity_min",
    "Link is private, balance refunded",
    "Invalid balance type",
    "Your balance request is pending",
    "Service is disabled",
    "Insufficient quantity",
    "Unspecified error",
]


@pytest.mark.parametrize("message", PROVIDER_FUNDS)
def test_the_providers_lack_of_funds_is_a_funds_refusal(message: str) -> None:
    assert FUNDS_REFUSAL.search(message)


@pytest.mark.parametrize("message", OTHER_REFUSALS)
def test_any_other_refusal_is_not_a_funds_refusal(message: str) -> None:
    assert not FUNDS_REFUSAL.search(message)


# Through order_submit against the sandbox panel --------------------------------------------


@pytest.fixture
def order(catalogue, customer) -> Order:
    return order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)


def refunds(order: Order) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND).values_list("amount", flat=True))


def refuse_the_add(sandbox, message: str) -> None:
    """The panel answers the next ``add`` with ``{"error": message}`` and places nothing."""
    sandbox.panel.add_fault(Fault(kind="reply", action="add", body={"error": message}, process=False))


@pytest.mark.django_db
@pytest.mark.parametrize("message", ["neworder.error.not_enough_funds", "You do not have enough funds"])
def test_a_funds_refusal_holds_the_order_without_refund(order, sandbox, message: str) -> None:
    refuse_the_add(sandbox, message)
    assert order_submit(order_id=order.pk) is SubmitOutcome.HELD
    order.refresh_from_db()
    assert (order.status, order.error) == (OrderStatus.AWAITING, PROVIDER_LOW)
    assert refunds(order) == []
    assert Wallet.objects.get(user=order.user).balance == Decimal("100") - order.charge
    assert sandbox.panel.order_count == 0


@pytest.mark.django_db
@pytest.mark.parametrize("message", ["Link is private, balance refunded", "Invalid balance type", "neworder.error.link_duplicate"])
def test_any_other_refusal_fails_the_order_with_a_full_refund(order, sandbox, message: str) -> None:
    refuse_the_add(sandbox, message)
    assert order_submit(order_id=order.pk) is SubmitOutcome.FAILED
    order.refresh_from_db()
    assert (order.status, order.error) == (OrderStatus.FAILED, f"Refused by the provider: {message}")
    assert refunds(order) == [order.charge]
    assert Wallet.objects.get(user=order.user).balance == Decimal("100")
    assert ledger_differences() == []
