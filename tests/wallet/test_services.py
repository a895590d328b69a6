"""The wallet and its ledger: every change has an entry, the balance never goes below zero."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from shop.models import LedgerEntry, Wallet
from shop.wallet.services import InsufficientFunds, WalletError, money, wallet_credit, wallet_debit
from tests.factories import UserFactory
from tests.helpers import assert_ledger_holds, race

DEPOSIT = LedgerEntry.Kind.DEPOSIT
ADJUST = LedgerEntry.Kind.ADJUSTMENT


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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_threads_debiting_one_from_ten_leave_exactly_zero() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10.00"), kind=DEPOSIT)
    outcomes = race(50, lambda: wallet_debit(user=user, amount=Decimal("1.00"), kind=ADJUST, reason="test debit"))

    assert sum(isinstance(outcome, LedgerEntry) for outcome in outcomes) == 10
    assert sum(isinstance(outcome, InsufficientFunds) for outcome in outcomes) == 40
    assert Wallet.objects.get(user=user).balance == Decimal("0")
    assert LedgerEntry.objects.filter(kind=ADJUST, reason="test debit").count() == 10
    assert_ledger_holds(user)
