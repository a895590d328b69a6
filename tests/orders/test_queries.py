"""The orders domain's hand-written statements: placing and charging an order (with its first event) all or nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from shop.models import LedgerEntry, Order, OrderEvent, OrderStatus, ShopSettings, Wallet
from shop.orders import queries
from shop.orders.history import Actor, Kind, event
from shop.wallet.services import InsufficientFunds, WalletError, WalletOnHold, wallet_credit, wallet_hold, wallet_release
from tests.factories import UserFactory
from tests.helpers import assert_ledger_holds

DEPOSIT = LedgerEntry.Kind.DEPOSIT


def charge(user, order: Order) -> Order:
    placed = event(order_id=0, kind=Kind.PLACED, actor=Actor.web(user), status=OrderStatus.AWAITING, charge=order.charge)
    return queries.order_insert_charged(user=user, order=order, placed=placed)


@pytest.fixture(params=["one statement", "transaction"])
def charge_path(request, monkeypatch) -> str:
    """Run a test over both ways of charging a new order (one statement is PostgreSQL's; the other every backend's)."""
    if request.param == "one statement" and connection.vendor not in queries.ONE_STATEMENT_VENDORS:
        pytest.skip("one statement needs PostgreSQL")
    if request.param == "transaction":
        monkeypatch.setattr(queries, "ONE_STATEMENT_VENDORS", frozenset())
    return request.param


def _new_order(user, charge: str):
    from tests.factories import ServiceFactory

    service = ServiceFactory()
    upstream = service.provider_service
    return Order(
        user=user,
        service=service,
        provider_id=upstream.provider_id,
        provider_service=upstream,
        link="https://instagram.com/p/x",
        quantity=1000,
        total_quantity=1000,
        rate=Decimal(charge),
        charge=Decimal(charge),
        status=OrderStatus.AWAITING,
    )


@pytest.mark.django_db
def test_charging_a_new_order_writes_the_order_the_debit_and_its_entry(charge_path) -> None:

    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    order = charge(user, _new_order(user, "1.2345"))

    stored = Order.objects.get(pk=order.pk)
    assert (stored.user_id, stored.charge, stored.link) == (user.pk, Decimal("1.2345"), "https://instagram.com/p/x")
    entry = LedgerEntry.objects.get(order=order)
    assert (entry.kind, entry.amount, entry.balance_after, entry.reason) == (
        LedgerEntry.Kind.ORDER_CHARGE,
        Decimal("-1.2345"),
        Decimal("3.7655"),
        f"Order #{order.pk}",
    )
    assert Wallet.objects.get(user=user).balance == Decimal("3.7655")
    (placed,) = OrderEvent.objects.filter(order=order)
    assert (placed.kind, placed.actor, placed.actor_user_id, placed.status, placed.detail) == (
        OrderEvent.Kind.PLACED,
        OrderEvent.Actor.CUSTOMER,
        user.pk,
        OrderStatus.AWAITING,
        {"charge": "1.2345"},
    )
    assert_ledger_holds(user)


@pytest.mark.django_db
def test_charging_a_new_order_beyond_the_balance_writes_nothing(charge_path) -> None:

    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("1"), kind=DEPOSIT)
    with pytest.raises(InsufficientFunds) as refused:
        charge(user, _new_order(user, "1.0001"))
    assert (refused.value.needed, refused.value.available) == (Decimal("1.0001"), Decimal("1.0000"))
    with pytest.raises(InsufficientFunds):
        charge(UserFactory(), _new_order(user, "1"))  # no wallet at all
    assert not Order.objects.exists()
    assert not OrderEvent.objects.exists()
    assert LedgerEntry.objects.count() == 1
    assert_ledger_holds(user)


@pytest.mark.django_db
def test_charging_nothing_is_refused(charge_path) -> None:

    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("1"), kind=DEPOSIT)
    for nothing in ("0", "-1"):
        with pytest.raises(WalletError) as refused:
            charge(user, _new_order(user, nothing))
        assert str(refused.value) == "A debit must be more than zero."
    assert not Order.objects.exists()
    assert Wallet.objects.get(user=user).balance == Decimal("1")


@pytest.mark.django_db
def test_a_balance_on_hold_pays_for_no_new_order_until_the_hold_is_lifted(charge_path) -> None:

    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    wallet_hold(user=user, reason="A payment was reversed.")
    with pytest.raises(WalletOnHold) as refused:
        charge(user, _new_order(user, "1"))
    assert refused.value.reason == "A payment was reversed."
    assert not Order.objects.exists() and not OrderEvent.objects.exists()
    assert Wallet.objects.get(user=user).balance == Decimal("5")
    assert wallet_release(user=user) is True
    assert charge(user, _new_order(user, "1")).pk is not None
    assert Wallet.objects.get(user=user).balance == Decimal("4")


@pytest.mark.django_db
def test_the_placed_event_passed_in_names_the_new_order_afterwards(charge_path) -> None:

    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    placed = event(order_id=0, kind=Kind.PLACED, actor=Actor.web(user), status=OrderStatus.AWAITING, charge=Decimal("1"))
    order = queries.order_insert_charged(user=user, order=_new_order(user, "1"), placed=placed)
    assert placed.order_id == order.pk != 0


@pytest.mark.django_db
def test_on_postgresql_the_order_its_debit_entry_and_event_are_one_statement(django_assert_num_queries) -> None:
    if connection.vendor not in queries.ONE_STATEMENT_VENDORS:
        pytest.skip("one statement needs PostgreSQL")
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    order = _new_order(user, "1")
    with django_assert_num_queries(1):
        charge(user, order)
    assert OrderEvent.objects.filter(order=order).count() == 1


@pytest.mark.django_db
def test_the_service_for_an_order_carries_the_shops_default_markup_or_the_default_without_settings() -> None:
    from tests.factories import ServiceFactory

    service = ServiceFactory()
    ShopSettings.objects.all().delete()
    assert queries.service_for_order(service_id=service.pk).default_markup == ShopSettings().default_markup_percent
    assert not ShopSettings.objects.exists()  # read, never created
    ShopSettings.objects.create(pk=1, default_markup_percent=Decimal("12.50"))
    assert queries.service_for_order(service_id=service.pk).default_markup == Decimal("12.50")


@pytest.mark.django_db
def test_the_service_for_an_order_carries_the_customers_own_prices_for_it_read_in_the_same_statement(
    django_assert_num_queries,
) -> None:
    from shop.catalogue.pricing import RETAIL, CustomerPrices
    from shop.catalogue.selectors import customer_prices
    from shop.models import CustomerPrice
    from tests.factories import ServiceFactory

    service, other = ServiceFactory(), ServiceFactory()
    customer, someone = UserFactory(), UserFactory()

    def read(user) -> CustomerPrices:
        with django_assert_num_queries(1):
            loaded = queries.service_for_order(service_id=service.pk, user_id=user.pk)
        # The same as the customer's prices read on their own, for this service.
        assert loaded.prices == customer_prices(user=user, service_id=service.pk)
        return loaded.prices

    assert read(customer) is RETAIL
    CustomerPrice.objects.create(user=someone, discount_percent=Decimal("50"))  # another customer's
    CustomerPrice.objects.create(user=customer, service=other, fixed_rate=Decimal("0.5"))  # another service's
    assert read(customer) is RETAIL
    CustomerPrice.objects.create(user=customer, discount_percent=Decimal("12.5"))
    assert read(customer) == CustomerPrices(discount_percent=Decimal("12.50"), fixed_rates={})
    CustomerPrice.objects.create(user=customer, service=service, fixed_rate=Decimal("0.123456"))
    prices = read(customer)
    assert prices == CustomerPrices(discount_percent=Decimal("12.50"), fixed_rates={service.pk: Decimal("0.123456")})
    assert isinstance(prices.fixed_rates[service.pk], Decimal) and isinstance(prices.discount_percent, Decimal)
    assert read(someone) == CustomerPrices(discount_percent=Decimal("50.00"), fixed_rates={})
    # Without a customer nothing about prices is read or hung on the service.
    assert not hasattr(queries.service_for_order(service_id=service.pk), "prices")
