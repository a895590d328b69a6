"""Reads of customers' money: balances, ledgers, and the check that they agree."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from shop.wallet.models import LedgerEntry, Wallet
from shop.wallet.services import money


def ledger_for_user(*, user: AbstractBaseUser) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(wallet__user=user).order_by("-id")


def balance_of(*, user: AbstractBaseUser) -> Decimal:
    return Wallet.objects.filter(user=user).values_list("balance", flat=True).first() or Decimal("0.0000")


def hold_of(*, user: AbstractBaseUser) -> str:
    """Why the user's balance is on hold (it pays for no new order), or "" when it is not."""
    return Wallet.objects.filter(user=user).values_list("hold_reason", flat=True).first() or ""


@dataclass(frozen=True)
class LedgerDifference:
    wallet_id: int
    username: str
    balance: Decimal
    entries_total: Decimal


def ledger_differences() -> list[LedgerDifference]:
    """Wallets whose balance is not the sum of their ledger entries (should be none)."""
    zero = Value(Decimal("0"))  # a DecimalField, as Django infers for a Decimal
    rows = (
        Wallet.objects.annotate(total=Coalesce(Sum("entries__amount"), zero))
        .exclude(balance=F("total"))
        .values_list("pk", "user__username", "balance", "total")
    )
    # SQLite sums decimals as floats: compare again at the ledger's precision.
    return [LedgerDifference(pk, username, balance, money(total)) for pk, username, balance, total in rows if money(total) != balance]
