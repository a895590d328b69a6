"""ledger_verify's top-up check: each top-up's entries are what its state says."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shop.models import LedgerEntry, PaymentMethod, TopUp, TopUpState
from shop.payments.audit import topup_ledger_differences
from shop.payments.crediting import topup_staff_credit
from shop.wallet.services import wallet_credit, wallet_debit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Kind = LedgerEntry.Kind


@pytest.fixture
def topup() -> TopUp:
    method = PaymentMethod.objects.create(code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank", is_enabled=True, currency="USD")
    return TopUp.objects.create(
        user=UserFactory(),
        method=method,
        amount=Decimal("50"),
        fee=Decimal("1.5"),
        bonus=Decimal("2"),
        currency="USD",
        state=TopUpState.REVIEW,
    )


def test_credited_top_ups_agree_and_ledger_verify_says_so(topup, capsys) -> None:
    topup_staff_credit(topup=topup, staff=UserFactory(is_staff=True))
    assert topup_ledger_differences() == []
    call_command("ledger_verify")
    assert "every top-up with its entries" in capsys.readouterr().out


def test_a_credit_without_a_paid_top_up_is_reported(topup) -> None:
    wallet_credit(user=topup.user, amount=Decimal("50"), kind=Kind.TOPUP, topup=topup)
    assert topup_ledger_differences() == [
        f"top-up {topup.pk} (review): credit 50.0000, fee 0.0000, bonus 0.0000 in the ledger; expected 0, 0, 0"
    ]
    with pytest.raises(CommandError, match="0 wallet\\(s\\) and 1 top-up problem"):
        call_command("ledger_verify")


def test_a_paid_top_up_missing_its_bonus_or_with_a_wrong_reversal_is_reported(topup) -> None:
    wallet_credit(user=topup.user, amount=Decimal("50"), kind=Kind.TOPUP, topup=topup)
    wallet_debit(user=topup.user, amount=Decimal("1.5"), kind=Kind.TOPUP_FEE, topup=topup)
    wallet_debit(user=topup.user, amount=Decimal("3"), kind=Kind.REVERSAL, topup=topup)
    TopUp.objects.filter(pk=topup.pk).update(state=TopUpState.PAID, reversed_amount=Decimal("2"))
    from django.utils import timezone

    TopUp.objects.filter(pk=topup.pk).update(paid_at=timezone.now())
    assert topup_ledger_differences() == [
        f"top-up {topup.pk} (paid): credit 50.0000, fee -1.5000, bonus 0.0000 in the ledger; expected 50.0000, -1.5000, 2.0000",
        f"top-up {topup.pk}: reversals of -3.0000 in the ledger, but 2.0000 reversed",
    ]


def test_an_entry_in_another_customers_wallet_is_reported(topup) -> None:
    stranger = UserFactory()
    wallet_credit(user=stranger, amount=Decimal("5"), kind=Kind.TOPUP_BONUS, topup=topup)
    problems = topup_ledger_differences()
    assert f"top-up {topup.pk}: 1 ledger entries in another customer's wallet" in problems
