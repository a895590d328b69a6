"""The wallet and its ledger: every change has an entry, the balance never goes below zero."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from shop.models import LedgerEntry, Wallet
from shop.wallet.services import (
    ADJUST_CREDIT,
    ADJUST_DEBIT,
    Debit,
    InsufficientFunds,
    WalletError,
    WalletOnHold,
    money,
    wallet_adjust,
    wallet_credit,
    wallet_debit,
    wallet_debit_many,
    wallet_hold,
)
from tests.factories import UserFactory
from tests.helpers import assert_ledger_holds, order_row, race

DEPOSIT = LedgerEntry.Kind.DEPOSIT
ADJUST = LedgerEntry.Kind.ADJUSTMENT
CHARGE = LedgerEntry.Kind.ORDER_CHARGE


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


@pytest.mark.django_db
def test_a_refused_debit_carries_the_amount_needed_and_the_balance_available() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("1.00"), kind=DEPOSIT)
    with pytest.raises(InsufficientFunds) as refused:
        wallet_debit(user=user, amount=Decimal("1.0001"), kind=ADJUST, reason="test debit")
    assert (refused.value.needed, refused.value.available) == (Decimal("1.0001"), Decimal("1.0000"))


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("0.00004")])
def test_a_zero_debit_is_refused_with_its_message_and_leaves_a_funded_balance_untouched(amount: Decimal) -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    with pytest.raises(WalletError) as refused:
        wallet_debit(user=user, amount=amount, kind=ADJUST, reason="test debit")
    assert type(refused.value) is WalletError
    assert str(refused.value) == "A debit must be more than zero."
    assert Wallet.objects.get(user=user).balance == Decimal("5")
    assert LedgerEntry.objects.count() == 1


@pytest.mark.django_db
def test_a_debit_given_no_reason_records_a_blank_reason() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    entry = wallet_debit(user=user, amount=Decimal("1"), kind=CHARGE, order=order_row(user))
    assert LedgerEntry.objects.get(pk=entry.pk).reason == ""


@pytest.mark.django_db
def test_credits_and_debits_stamp_the_wallets_updated_at() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    for change in (
        lambda: wallet_debit(user=user, amount=Decimal("1"), kind=ADJUST, reason="test debit"),
        lambda: wallet_credit(user=user, amount=Decimal("1"), kind=DEPOSIT),
    ):
        Wallet.objects.filter(user=user).update(updated_at=timezone.now() - timedelta(days=1))
        before = timezone.now()
        change()
        assert Wallet.objects.get(user=user).updated_at >= before


@pytest.mark.django_db(transaction=True)
def test_a_debit_outside_any_transaction_records_its_order_and_the_admin_who_made_it() -> None:
    user, admin = UserFactory(), UserFactory(username="cashier", is_staff=True)
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    order = order_row(user)
    assert not connection.in_atomic_block
    charge = wallet_debit(user=user, amount=Decimal("1"), kind=CHARGE, order=order, reason=f"Order #{order.pk}")
    adjustment = wallet_debit(user=user, amount=Decimal("1"), kind=ADJUST, reason="correction", created_by=admin)

    assert LedgerEntry.objects.get(pk=charge.pk).order_id == order.pk
    assert LedgerEntry.objects.get(pk=adjustment.pk).created_by_id == admin.pk
    assert Wallet.objects.get(user=user).balance == Decimal("3")


ZERO_OR_TOO_PRECISE = "An adjustment must be more than zero, with at most 4 decimal places."
NO_REASON = "An adjustment needs a reason of 1 to 255 characters."
CONTROL = "An adjustment's reason must be plain text, without control characters."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("direction", "amount", "reason", "message"),
    [
        ("refund", Decimal("1"), "fix", "An adjustment is a credit or a debit, not 'refund'."),
        (ADJUST_CREDIT, Decimal("0"), "fix", ZERO_OR_TOO_PRECISE),
        (ADJUST_DEBIT, Decimal("0"), "fix", ZERO_OR_TOO_PRECISE),
        (ADJUST_CREDIT, Decimal("-1"), "fix", ZERO_OR_TOO_PRECISE),
        (ADJUST_DEBIT, Decimal("0.00001"), "fix", ZERO_OR_TOO_PRECISE),
        (ADJUST_CREDIT, Decimal("1"), "   ", NO_REASON),
        (ADJUST_CREDIT, Decimal("1"), "r" * 256, NO_REASON),
        (ADJUST_DEBIT, Decimal("1"), "r" * 256, NO_REASON),
        (ADJUST_CREDIT, Decimal("1"), "line\nbreak", CONTROL),
        (ADJUST_DEBIT, Decimal("1"), "bell\x07", CONTROL),
    ],
)
def test_every_refused_adjustment_says_why_and_writes_nothing(direction: str, amount: Decimal, reason: str, message: str) -> None:
    user, admin = UserFactory(), UserFactory(username="cashier", is_staff=True)
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    with pytest.raises(WalletError) as refused:
        wallet_adjust(user=user, amount=amount, direction=direction, reason=reason, admin=admin)
    assert str(refused.value) == message
    assert Wallet.objects.get(user=user).balance == Decimal("5")
    assert LedgerEntry.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("direction", [ADJUST_CREDIT, ADJUST_DEBIT])
def test_an_adjustment_keeps_a_reason_of_exactly_255_characters_whole(direction: str) -> None:
    user, admin = UserFactory(), UserFactory(username="cashier", is_staff=True)
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    entry = wallet_adjust(user=user, amount=Decimal("1"), direction=direction, reason="r" * 255, admin=admin)
    assert LedgerEntry.objects.get(pk=entry.pk).reason == "r" * 255


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_money_refuses_what_is_not_a_finite_number_with_its_message(value: str) -> None:
    with pytest.raises(WalletError) as refused:
        money(value)
    assert str(refused.value) == "An amount must be a finite number."


@pytest.mark.django_db
def test_an_entrys_reason_is_kept_to_its_first_255_characters() -> None:
    user = UserFactory()
    entry = wallet_credit(user=user, amount=Decimal("1"), kind=DEPOSIT, reason="r" * 300)
    assert LedgerEntry.objects.get(pk=entry.pk).reason == "r" * 255


@pytest.mark.django_db
def test_a_hold_keeps_its_first_reason_and_is_lifted_once() -> None:
    from shop.wallet.services import WalletOnHold, wallet_hold, wallet_release

    user, neighbour = UserFactory(), UserFactory()
    wallet_credit(user=neighbour, amount=Decimal("1"), kind=LedgerEntry.Kind.DEPOSIT)
    wallet_credit(user=user, amount=Decimal("1"), kind=LedgerEntry.Kind.DEPOSIT)
    long_ago = timezone.now() - timedelta(days=1)
    Wallet.objects.update(updated_at=long_ago)
    wallet_hold(user=user, reason="First reversal.")
    wallet_hold(user=user, reason="Second reversal.")
    held = Wallet.objects.get(user=user)
    assert held.hold_reason == "First reversal." and held.updated_at > long_ago
    assert Wallet.objects.get(user=neighbour).hold_reason == ""  # only this user's balance
    Wallet.objects.update(updated_at=long_ago)
    assert wallet_release(user=user) is True
    released = Wallet.objects.get(user=user)
    assert released.hold_reason == "" and released.updated_at > long_ago
    assert wallet_release(user=user) is False
    assert str(WalletOnHold("First reversal.")) == "This balance is on hold: First reversal."


@pytest.mark.django_db
def test_a_hold_reason_is_cut_to_the_column() -> None:
    from shop.wallet.services import wallet_hold

    user = UserFactory()
    wallet_hold(user=user, reason="x" * 300)
    assert Wallet.objects.get(user=user).hold_reason == "x" * 255


@pytest.mark.django_db
def test_a_held_balance_still_takes_credits_and_other_debits() -> None:
    """A hold stops new orders only: refunds, top-ups and staff corrections still move the balance."""
    from shop.wallet.services import wallet_debit, wallet_hold

    user = UserFactory()
    wallet_hold(user=user, reason="held")
    wallet_credit(user=user, amount=Decimal("3"), kind=LedgerEntry.Kind.DEPOSIT)
    wallet_debit(user=user, amount=Decimal("1"), kind=LedgerEntry.Kind.ADJUSTMENT, reason="fix")
    assert Wallet.objects.get(user=user).balance == Decimal("2")


@pytest.mark.django_db
def test_a_debit_inside_a_callers_transaction_names_its_top_up() -> None:
    from shop.payments.models import PaymentMethod, TopUp
    from shop.wallet.services import wallet_debit

    user = UserFactory()
    method = PaymentMethod.objects.create(code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank", currency="USD")
    topup = TopUp.objects.create(user=user, method=method, amount=Decimal("5"), currency="USD", state="paid", paid_at=timezone.now())
    wallet_credit(user=user, amount=Decimal("5"), kind=LedgerEntry.Kind.TOPUP, topup=topup)
    with transaction.atomic():
        entry = wallet_debit(user=user, amount=Decimal("2"), kind=LedgerEntry.Kind.REVERSAL, topup=topup)
    assert LedgerEntry.objects.get(pk=entry.pk).topup_id == topup.pk
    outside = wallet_debit(user=user, amount=Decimal("1"), kind=LedgerEntry.Kind.REVERSAL, topup=topup)
    assert LedgerEntry.objects.get(pk=outside.pk).topup_id == topup.pk


@pytest.mark.django_db(transaction=True)
def test_a_debit_outside_any_transaction_names_its_top_up_too() -> None:
    """Its own transaction then (no caller's): the same entry, with its top-up."""
    from shop.payments.models import PaymentMethod, TopUp
    from shop.wallet.services import wallet_debit

    user = UserFactory()
    method = PaymentMethod.objects.create(code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank", currency="USD")
    topup = TopUp.objects.create(user=user, method=method, amount=Decimal("5"), currency="USD", state="paid", paid_at=timezone.now())
    wallet_credit(user=user, amount=Decimal("5"), kind=LedgerEntry.Kind.TOPUP, topup=topup)
    assert not connection.in_atomic_block
    entry = wallet_debit(user=user, amount=Decimal("2"), kind=LedgerEntry.Kind.REVERSAL, topup=topup)
    assert LedgerEntry.objects.get(pk=entry.pk).topup_id == topup.pk


@pytest.mark.django_db
def test_many_debits_take_their_total_at_once_and_each_entry_has_its_running_balance() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10"), kind=DEPOSIT)
    orders = [order_row(user), order_row(user), order_row(user)]

    amounts = ["1", "2.5", "0.0001"]
    debits = [Debit(Decimal(amount), CHARGE, f"Order #{order.pk}", order.pk) for amount, order in zip(amounts, orders, strict=True)]
    entries = wallet_debit_many(user=user, debits=debits)

    assert [(e.amount, e.balance_after, e.order_id) for e in entries] == [
        (Decimal("-1.0000"), Decimal("9.0000"), orders[0].pk),
        (Decimal("-2.5000"), Decimal("6.5000"), orders[1].pk),
        (Decimal("-0.0001"), Decimal("6.4999"), orders[2].pk),
    ]
    assert Wallet.objects.get(user=user).balance == Decimal("6.4999")
    assert_ledger_holds(user)


@pytest.mark.django_db
def test_many_debits_short_of_their_total_on_hold_or_of_nothing_write_nothing() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("3"), kind=DEPOSIT)
    debits = [Debit(Decimal("2"), ADJUST, "test"), Debit(Decimal("2"), ADJUST, "test")]  # each alone fits

    with pytest.raises(InsufficientFunds) as short:
        wallet_debit_many(user=user, debits=debits)
    assert (short.value.needed, short.value.available) == (Decimal("4.0000"), Decimal("3.0000"))
    for refused in ([], [Debit(Decimal("0"), ADJUST, "test")], [Debit(Decimal("-1"), ADJUST, "test")]):
        with pytest.raises(WalletError):
            wallet_debit_many(user=user, debits=refused)
    wallet_hold(user=user, reason="A payment was reversed.")
    with pytest.raises(WalletOnHold):
        wallet_debit_many(user=user, debits=debits[:1])

    assert Wallet.objects.get(user=user).balance == Decimal("3") and LedgerEntry.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_many_debits_never_take_more_than_the_balance() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10"), kind=DEPOSIT)
    debits = [Debit(Decimal("1.5"), ADJUST, "test")] * 4  # 6 each: one of two fits

    outcomes = race(5, lambda: wallet_debit_many(user=user, debits=debits))

    assert sum(isinstance(outcome, list) for outcome in outcomes) == 1
    assert sum(isinstance(outcome, InsufficientFunds) for outcome in outcomes) == 4
    assert Wallet.objects.get(user=user).balance == Decimal("4")
    assert_ledger_holds(user)


@pytest.mark.django_db
@pytest.mark.parametrize("debits", [[], [Debit(Decimal("1"), ADJUST, "test"), Debit(Decimal("0"), ADJUST, "test")]])
def test_many_debits_with_none_or_one_not_above_zero_are_refused_with_the_debit_message(debits: list[Debit]) -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    with pytest.raises(WalletError) as refused:
        wallet_debit_many(user=user, debits=debits)
    assert type(refused.value) is WalletError
    assert str(refused.value) == "A debit must be more than zero."


@pytest.mark.django_db
def test_many_debits_stamp_the_wallets_updated_at() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    Wallet.objects.filter(user=user).update(updated_at=timezone.now() - timedelta(days=1))
    before = timezone.now()
    wallet_debit_many(user=user, debits=[Debit(Decimal("1"), ADJUST, "test"), Debit(Decimal("2"), ADJUST, "test")])
    assert Wallet.objects.get(user=user).updated_at >= before


@pytest.mark.django_db
def test_many_debits_keep_each_reason_to_its_first_255_characters() -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("5"), kind=DEPOSIT)
    reason = "r" * 255 + "cut"
    entries = wallet_debit_many(user=user, debits=[Debit(Decimal("1"), ADJUST, reason), Debit(Decimal("1"), ADJUST, "short")])
    assert [entry.reason for entry in entries] == ["r" * 255, "short"]
    assert list(LedgerEntry.objects.filter(amount__lt=0).order_by("pk").values_list("reason", flat=True)) == ["r" * 255, "short"]
