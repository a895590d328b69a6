"""Reads of customers' money (``shop.wallet.selectors``): balances, ledgers, and the check that every wallet agrees with its ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from shop.models import LedgerEntry, Wallet
from shop.wallet.selectors import LedgerDifference, balance_of, ledger_differences, ledger_for_user
from shop.wallet.services import wallet_credit, wallet_debit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
DEPOSIT = LedgerEntry.Kind.DEPOSIT
ADJUST = LedgerEntry.Kind.ADJUSTMENT


def test_wallets_that_agree_with_their_ledgers_show_no_difference() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10.0001"), kind=DEPOSIT)
    wallet_debit(user=user, amount=Decimal("3.3333"), kind=ADJUST, reason="correction")
    Wallet.objects.create(user=UserFactory())  # opened, never used: 0 and no entries
    assert ledger_differences() == []


def test_a_tampered_wallet_is_found_with_its_balance_and_its_entries_sum() -> None:
    honest, tampered = UserFactory(), UserFactory(username="tampered")
    for user in (honest, tampered):
        wallet_credit(user=user, amount=Decimal("3"), kind=DEPOSIT)
    Wallet.objects.filter(user=tampered).update(balance=Decimal("3.0001"))

    assert ledger_differences() == [
        LedgerDifference(Wallet.objects.get(user=tampered).pk, "tampered", Decimal("3.0001"), Decimal("3.0000")),
    ]


def test_a_balance_without_any_entry_is_a_difference() -> None:
    wallet = Wallet.objects.create(user=UserFactory(username="from-nowhere"))
    Wallet.objects.filter(pk=wallet.pk).update(balance=Decimal("5"))
    assert ledger_differences() == [LedgerDifference(wallet.pk, "from-nowhere", Decimal("5.0000"), Decimal("0.0000"))]


def test_the_balance_of_a_customer_without_a_wallet_is_zero() -> None:
    assert balance_of(user=UserFactory()) == Decimal("0.0000")
    assert not Wallet.objects.exists()


def test_the_balance_is_read_from_the_wallet() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("12.3456"), kind=DEPOSIT)
    assert balance_of(user=user) == Decimal("12.3456")
    wallet_debit(user=user, amount=Decimal("12.3456"), kind=ADJUST, reason="all of it")
    assert balance_of(user=user) == Decimal("0")


def test_a_customers_ledger_is_their_own_entries_newest_first() -> None:
    user, other = UserFactory(), UserFactory()
    first = wallet_credit(user=user, amount=Decimal("1"), kind=DEPOSIT)
    wallet_credit(user=other, amount=Decimal("2"), kind=DEPOSIT)
    second = wallet_debit(user=user, amount=Decimal("0.5"), kind=ADJUST, reason="fee")
    assert list(ledger_for_user(user=user)) == [second, first]
    assert not ledger_for_user(user=UserFactory()).exists()


@pytest.mark.postgres
def test_the_database_sends_back_only_the_wallets_that_disagree() -> None:
    users = [UserFactory() for _ in range(4)]
    for user in users:
        wallet_credit(user=user, amount=Decimal("2"), kind=DEPOSIT)
    Wallet.objects.filter(user=users[0]).update(balance=Decimal("9"))
    rows_sent: list[int] = []

    def count_rows(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        rows_sent.append(context["cursor"].rowcount)
        return result

    with connection.execute_wrapper(count_rows):
        differences = ledger_differences()
    assert [difference.balance for difference in differences] == [Decimal("9.0000")]
    assert rows_sent == [1]


def test_hold_of_says_why_this_users_balance_is_on_hold_and_nothing_otherwise() -> None:
    from shop.wallet.selectors import hold_of
    from shop.wallet.services import wallet_hold

    held, other, no_wallet = UserFactory(), UserFactory(), UserFactory()
    wallet_credit(user=other, amount=Decimal("1"), kind=LedgerEntry.Kind.DEPOSIT)
    assert hold_of(user=held) == "" and hold_of(user=no_wallet) == ""
    wallet_hold(user=held, reason="Top-up #3 was reversed.")
    assert hold_of(user=held) == "Top-up #3 was reversed."
    assert hold_of(user=other) == ""  # another user's hold is not theirs
    assert hold_of(user=no_wallet) == ""
