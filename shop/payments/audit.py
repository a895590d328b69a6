"""The check that top-ups and the ledger agree: what ``manage.py ledger_verify`` reports besides the balances."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from shop.payments.models import TopUp, TopUpState
from shop.wallet.models import LedgerEntry
from shop.wallet.services import money

Kind = LedgerEntry.Kind


def topup_ledger_differences() -> list[str]:
    """Each top-up whose ledger entries are not what its state says, in words (should be none).

    A paid top-up has one credit of its amount, one fee entry of minus its fee
    (when there is a fee) and one bonus entry of its bonus (when there is one);
    any other top-up has none of those; reversal entries add up to minus its
    reversed amount; every entry is in the top-up owner's wallet.
    """
    zero = Value(Decimal("0"))

    def total(kind: str) -> Coalesce:
        return Coalesce(Sum("ledger_entries__amount", filter=Q(ledger_entries__kind=kind)), zero)

    rows = TopUp.objects.annotate(
        credit=total(Kind.TOPUP),
        fee_entry=total(Kind.TOPUP_FEE),
        bonus_entry=total(Kind.TOPUP_BONUS),
        reversal=total(Kind.REVERSAL),
        strangers=Count("ledger_entries", filter=~Q(ledger_entries__wallet__user=F("user"))),
    ).values_list("pk", "state", "amount", "fee", "bonus", "reversed_amount", "credit", "fee_entry", "bonus_entry", "reversal", "strangers")
    problems = []
    for pk, state, amount, fee, bonus, reversed_amount, credit, fee_entry, bonus_entry, reversal, strangers in rows.iterator():
        # SQLite sums decimals as floats: compare at the ledger's precision.
        credit, fee_entry, bonus_entry, reversal = (money(value) for value in (credit, fee_entry, bonus_entry, reversal))
        expected = (amount, -fee, bonus) if state == TopUpState.PAID else (0, 0, 0)
        if (credit, fee_entry, bonus_entry) != expected:
            problems.append(
                f"top-up {pk} ({state}): credit {credit}, fee {fee_entry}, bonus {bonus_entry} in the ledger;"
                f" expected {expected[0]}, {expected[1]}, {expected[2]}"
            )
        if reversal != -reversed_amount:
            problems.append(f"top-up {pk}: reversals of {reversal} in the ledger, but {reversed_amount} reversed")
        if strangers:
            problems.append(f"top-up {pk}: {strangers} ledger entries in another customer's wallet")
    return problems
