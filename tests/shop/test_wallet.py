"""The wallet and its ledger: every change has an entry, the balance never goes below zero."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction

from shop.models import LedgerEntry, Wallet
from shop.wallet.selectors import ledger_differences
from shop.wallet.services import InsufficientFunds, WalletError, money, wallet_credit, wallet_debit
from tests.factories import UserFactory

DEPOSIT = LedgerEntry.Kind.DEPOSIT
ADJUST = LedgerEntry.Kind.ADJUSTMENT


def assert_ledger_holds(user) -> None:
    wallet = Wallet.objects.get(user=user)
    total = sum(LedgerEntry.objects.filter(wallet=wallet).values_list("amount", flat=True), Decimal("0"))
    assert wallet.balance == total >= 0
    assert ledger_differences() == []


@pytest.mark.django_db
def test_credit_and_debit_write_one_entry_each_with_the_running_balance() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10"), kind=DEPOSIT)
    entry = wallet_debit(user=user, amount=Decimal("2.5"), kind=ADJUST, reason="test debit")

    assert (entry.amount, entry.balance_after) == (Decimal("-2.5000"), Decimal("7.5000"))
    assert [e.kind for e in LedgerEntry.objects.order_by("id")] == [DEPOSIT, ADJUST]
    assert_ledger_holds(user)


@pytest.mark.django_db
def test_debit_beyond_the_balance_is_refused_and_writes_nothing() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("1.00"), kind=DEPOSIT)
    with pytest.raises(InsufficientFunds, match=r"1\.0001 needed, 1\.0000 available"):
        wallet_debit(user=user, amount=Decimal("1.0001"), kind=ADJUST, reason="test debit")
    assert LedgerEntry.objects.count() == 1
    assert Wallet.objects.get(user=user).balance == Decimal("1.00")


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-1"), Decimal("0.00004"), Decimal("NaN"), Decimal("Infinity")])
def test_zero_negative_and_non_finite_amounts_are_refused(amount: Decimal) -> None:
    user = UserFactory()
    with pytest.raises(WalletError):
        wallet_credit(user=user, amount=amount, kind=DEPOSIT)
    with pytest.raises(WalletError):
        wallet_debit(user=user, amount=amount, kind=ADJUST, reason="test debit")
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize(("value", "expected"), [("0.00005", "0.0001"), ("0.00004", "0.0000"), ("1.23445", "1.2345"), ("2", "2.0000")])
def test_money_rounds_half_up_to_four_places(value: str, expected: str) -> None:
    assert str(money(Decimal(value))) == expected


@pytest.mark.django_db
def test_the_database_keeps_the_balance_at_or_above_zero() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("1"), kind=DEPOSIT)
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(user=user).update(balance=Decimal("-0.0001"))


@pytest.mark.django_db
def test_ledger_entries_cannot_be_updated() -> None:
    user = UserFactory()
    entry = wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("500"))


@pytest.mark.django_db
@pytest.mark.postgres
def test_ledger_entries_cannot_be_deleted_on_postgres() -> None:
    entry = wallet_credit(user=UserFactory(), amount=Decimal("5"), kind=DEPOSIT)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()


@pytest.mark.django_db
def test_adjustment_needs_a_reason() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        wallet_credit(user=UserFactory(), amount=Decimal("5"), kind=LedgerEntry.Kind.ADJUSTMENT, reason="")


@pytest.mark.django_db
def test_ledger_verify_passes_then_reports_a_tampered_balance(capsys) -> None:
    user = UserFactory(username="tampered")
    wallet_credit(user=user, amount=Decimal("3"), kind=DEPOSIT)
    call_command("ledger_verify")
    assert "OK: 1 wallets" in capsys.readouterr().out

    Wallet.objects.filter(user=user).update(balance=Decimal("4"))
    with pytest.raises(CommandError, match="1 wallet"):
        call_command("ledger_verify")
    assert "tampered): balance 4.0000 but entries sum to 3.0000" in capsys.readouterr().err


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_threads_debiting_one_from_ten_leave_exactly_zero() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10.00"), kind=DEPOSIT)
    start = threading.Barrier(50)
    outcomes: list[str] = []

    def debit() -> None:
        start.wait()
        try:
            wallet_debit(user=user, amount=Decimal("1.00"), kind=ADJUST, reason="test debit")
            outcomes.append("ok")
        except InsufficientFunds:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=debit) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("ok") == 10 and outcomes.count("refused") == 40
    assert Wallet.objects.get(user=user).balance == Decimal("0")
    assert LedgerEntry.objects.filter(kind=ADJUST, reason="test debit").count() == 10
    assert_ledger_holds(user)


@pytest.fixture(params=["one statement", "transaction"])
def charge_path(request, monkeypatch) -> str:
    """Run a test over both ways of charging a new order (one statement is PostgreSQL's; the other every backend's)."""
    import shop.wallet.services as wallet_module

    if request.param == "one statement" and connection.vendor not in wallet_module.ONE_STATEMENT_VENDORS:
        pytest.skip("one statement needs PostgreSQL")
    if request.param == "transaction":
        monkeypatch.setattr(wallet_module, "ONE_STATEMENT_VENDORS", frozenset())
    return request.param


def _new_order(user, charge: str):
    from shop.models import Order, OrderStatus
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
    from shop.models import Order
    from shop.wallet.services import wallet_charge_new_order

    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    order = wallet_charge_new_order(user=user, order=_new_order(user, "1.2345"))

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
    assert_ledger_holds(user)


@pytest.mark.django_db
def test_charging_a_new_order_beyond_the_balance_writes_nothing(charge_path) -> None:
    from shop.models import Order
    from shop.wallet.services import wallet_charge_new_order

    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("1"), kind=DEPOSIT)
    with pytest.raises(InsufficientFunds) as refused:
        wallet_charge_new_order(user=user, order=_new_order(user, "1.0001"))
    assert refused.value.available == Decimal("1.0000")
    with pytest.raises(InsufficientFunds):
        wallet_charge_new_order(user=UserFactory(), order=_new_order(user, "1"))  # no wallet at all
    assert not Order.objects.exists()
    assert LedgerEntry.objects.count() == 1
    assert_ledger_holds(user)


@pytest.mark.django_db
def test_charging_nothing_is_refused(charge_path) -> None:
    from shop.wallet.services import wallet_charge_new_order

    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("1"), kind=DEPOSIT)
    with pytest.raises(WalletError):
        wallet_charge_new_order(user=user, order=_new_order(user, "0"))
