"""Every change of a customer's balance: a conditional update and its ledger entry, in one transaction.

Amounts are ``Decimal`` rounded half-up to 4 places (``money()``); the
balance column never moves without an entry, and the database keeps it >= 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from shop.wallet.models import MONEY_DIGITS, MONEY_PLACES, LedgerEntry, Wallet

if TYPE_CHECKING:  # the wallet names orders and top-ups in its entries; it never imports their domains
    from shop.orders.models import Order
    from shop.payments.models import TopUp

CENT = Decimal("0.0001")
MAX_BALANCE = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES) - CENT  # the most the balance column holds
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class WalletError(Exception):
    """A balance change that was refused; nothing was written."""


class InsufficientFunds(WalletError):
    def __init__(self, needed: Decimal, available: Decimal) -> None:
        super().__init__(f"Not enough funds: {needed} needed, {available} available.")
        self.needed = needed
        self.available = available


class WalletOnHold(WalletError):
    """The balance is on hold (a reversed payment it could not cover): it pays for no new order until staff lift the hold."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"This balance is on hold: {reason}")
        self.reason = reason


def money(value: Decimal | int | str) -> Decimal:
    """An amount in the shop's precision: 4 places, rounded half-up."""
    amount = Decimal(value)
    if not amount.is_finite():
        raise WalletError("An amount must be a finite number.")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def wallet_get_or_create(*, user: AbstractBaseUser) -> Wallet:
    wallet, _ = Wallet.objects.get_or_create(user=user)
    return wallet


@transaction.atomic
def wallet_credit(
    *,
    user: AbstractBaseUser,
    amount: Decimal,
    kind: str,
    reason: str = "",
    order: Order | None = None,
    topup: TopUp | None = None,
    created_by: AbstractBaseUser | None = None,
) -> LedgerEntry:
    """Add ``amount`` (> 0) to the user's balance with a ledger entry of ``kind``."""
    amount = money(amount)
    if amount <= 0:
        raise WalletError("A credit must be more than zero.")
    wallet = wallet_get_or_create(user=user)
    # Conditional, like a debit: a credit the balance column cannot hold is refused, not a database error.
    if not Wallet.objects.filter(pk=wallet.pk, balance__lte=MAX_BALANCE - amount).update(
        balance=F("balance") + amount, updated_at=timezone.now()
    ):
        raise WalletError(f"A balance cannot exceed {MAX_BALANCE}.")
    return _entry(user, kind=kind, amount=amount, reason=reason, order=order, topup=topup, created_by=created_by)


def wallet_debit(
    *,
    user: AbstractBaseUser,
    amount: Decimal,
    kind: str,
    reason: str = "",
    order: Order | None = None,
    topup: TopUp | None = None,
    created_by: AbstractBaseUser | None = None,
) -> LedgerEntry:
    """Take ``amount`` (> 0) from the user's balance, or raise ``InsufficientFunds`` and write nothing.

    The update is conditional (``balance >= amount``), so two debits racing on
    one balance can never both pass: the second finds the row changed and fails.
    """
    amount = money(amount)
    if amount <= 0:
        raise WalletError("A debit must be more than zero.")
    # Inside the caller's transaction the two statements below are already
    # atomic, and a refusal writes nothing, so no savepoint is needed.
    if connection.in_atomic_block:
        return _debit(user, amount, kind, reason, order, topup, created_by)
    with transaction.atomic():
        return _debit(user, amount, kind, reason, order, topup, created_by)


def _debit(
    user: AbstractBaseUser,
    amount: Decimal,
    kind: str,
    reason: str,
    order: Order | None,
    topup: TopUp | None,
    created_by: AbstractBaseUser | None,
) -> LedgerEntry:
    if not Wallet.objects.filter(user_id=user.pk, balance__gte=amount).update(balance=F("balance") - amount, updated_at=timezone.now()):
        raise InsufficientFunds(amount, _balance(user))
    return _entry(user, kind=kind, amount=-amount, reason=reason, order=order, topup=topup, created_by=created_by)


def _balance(user: AbstractBaseUser) -> Decimal:
    return Wallet.objects.filter(user=user).values_list("balance", flat=True).first() or Decimal("0")


def insufficient_funds(user: AbstractBaseUser, amount: Decimal) -> WalletError:
    """Why an order's debit of ``amount`` was refused, read now: the balance is on hold, or it is short (with what it holds)."""
    row = Wallet.objects.filter(user=user).values_list("balance", "hold_reason").first()
    balance, hold = row or (Decimal("0"), "")
    if hold:
        return WalletOnHold(hold)
    return InsufficientFunds(amount, balance)


def wallet_hold(*, user: AbstractBaseUser, reason: str) -> None:
    """Put the balance on hold: it pays for no new order until ``wallet_release``. Keeps the first reason if already held."""
    wallet_get_or_create(user=user)
    Wallet.objects.filter(user=user, hold_reason="").update(hold_reason=reason[:255], updated_at=timezone.now())


def wallet_release(*, user: AbstractBaseUser) -> bool:
    """Lift a hold; says whether there was one."""
    return bool(Wallet.objects.filter(user=user).exclude(hold_reason="").update(hold_reason="", updated_at=timezone.now()))


@dataclass(frozen=True)
class Credit:
    """One credit of ``wallet_credit_many``."""

    user_id: int
    amount: Decimal
    kind: str
    reason: str
    order_id: int | None = None


@transaction.atomic(savepoint=False)
def wallet_credit_many(*, credits: list[Credit]) -> list[LedgerEntry]:
    """Many credits in one transaction: each wallet locked once, updated once, one entry per credit.

    Wallets are locked in id order, so concurrent callers never deadlock; each
    entry's running balance is computed from the locked balance.
    """
    amounts = [money(credit.amount) for credit in credits]
    if any(amount <= 0 for amount in amounts):
        raise WalletError("A credit must be more than zero.")
    user_ids = sorted({credit.user_id for credit in credits})
    wallets = {wallet.user_id: wallet for wallet in Wallet.objects.select_for_update().filter(user_id__in=user_ids).order_by("pk")}
    missing = set(user_ids) - set(wallets)
    if missing:
        raise WalletError(f"No wallet for users {sorted(missing)}.")
    entries: list[LedgerEntry] = []
    running = {user_id: wallet.balance for user_id, wallet in wallets.items()}
    for credit, amount in zip(credits, amounts, strict=True):
        running[credit.user_id] += amount
        entries.append(
            LedgerEntry(
                wallet=wallets[credit.user_id],
                kind=credit.kind,
                amount=amount,
                balance_after=running[credit.user_id],
                reason=credit.reason[:255],
                order_id=credit.order_id,
            )
        )
    for user_id, wallet in wallets.items():
        Wallet.objects.filter(pk=wallet.pk).update(balance=F("balance") + (running[user_id] - wallet.balance), updated_at=timezone.now())
    return LedgerEntry.objects.bulk_create(entries)


@dataclass(frozen=True)
class Debit:
    """One debit of ``wallet_debit_many``."""

    amount: Decimal
    kind: str
    reason: str
    order_id: int | None = None


def wallet_debit_many(*, user: AbstractBaseUser, debits: list[Debit]) -> list[LedgerEntry]:
    """Many debits of one balance, all or nothing: one conditional update for their total, one entry each.

    Raises ``InsufficientFunds`` when the balance is short of the total, and, as
    an order's charge (``order_insert_charged``), ``WalletOnHold`` when it is on
    hold; nothing is written then. Each entry's ``balance_after`` runs down from
    the balance before, in the order given, to the balance the update left
    (read under the update's row lock, so it is ours).
    """
    amounts = [money(debit.amount) for debit in debits]
    if not amounts or any(amount <= 0 for amount in amounts):
        raise WalletError("A debit must be more than zero.")
    # As in wallet_debit: a refusal writes nothing, so inside the caller's transaction no savepoint is needed.
    if connection.in_atomic_block:
        return _debit_many(user, debits, amounts)
    with transaction.atomic():
        return _debit_many(user, debits, amounts)


def _debit_many(user: AbstractBaseUser, debits: list[Debit], amounts: list[Decimal]) -> list[LedgerEntry]:
    total = sum(amounts, Decimal("0"))
    if not Wallet.objects.filter(user_id=user.pk, balance__gte=total, hold_reason="").update(
        balance=F("balance") - total, updated_at=timezone.now()
    ):
        raise insufficient_funds(user, total)
    wallet_id, balance_after = Wallet.objects.filter(user_id=user.pk).values_list("pk", "balance").get()
    running = balance_after + total
    entries: list[LedgerEntry] = []
    for debit, amount in zip(debits, amounts, strict=True):
        running -= amount
        entries.append(
            LedgerEntry(
                wallet_id=wallet_id,
                kind=debit.kind,
                amount=-amount,
                balance_after=running,
                reason=debit.reason[:255],
                order_id=debit.order_id,
            )
        )
    return LedgerEntry.objects.bulk_create(entries)


def _entry(
    user: AbstractBaseUser,
    *,
    kind: str,
    amount: Decimal,
    reason: str,
    order: Order | None,
    created_by: AbstractBaseUser | None,
    topup: TopUp | None = None,
) -> LedgerEntry:
    """The ledger entry of a change just made to the user's wallet, with the balance it left."""
    # The row is locked by the caller's update until commit, so this read is ours.
    wallet_id, balance_after = Wallet.objects.filter(user_id=user.pk).values_list("pk", "balance").get()
    return LedgerEntry.objects.create(
        wallet_id=wallet_id,
        kind=kind,
        amount=amount,
        balance_after=balance_after,
        reason=reason[:255],
        order=order,
        topup=topup,
        created_by=created_by,
    )


ADJUST_CREDIT = "credit"
ADJUST_DEBIT = "debit"


def wallet_adjust(*, user: AbstractBaseUser, amount: Decimal, direction: str, reason: str, admin: AbstractBaseUser) -> LedgerEntry:
    """An admin's correction of a balance: credit or debit ``amount`` with a ledger entry naming the admin and why.

    Refuses (``WalletError``, nothing written) an amount that is not above zero or has more than 4 places,
    an unknown direction, a blank reason or one with control characters (the ledger keeps it for good),
    and a credit beyond ``MAX_BALANCE``; a debit beyond the balance raises ``InsufficientFunds``.
    """
    if direction not in (ADJUST_CREDIT, ADJUST_DEBIT):
        raise WalletError(f"An adjustment is a {ADJUST_CREDIT} or a {ADJUST_DEBIT}, not {direction!r}.")
    if money(amount) != amount or amount <= 0:
        raise WalletError("An adjustment must be more than zero, with at most 4 decimal places.")
    reason = reason.strip()
    if not reason or len(reason) > 255:
        raise WalletError("An adjustment needs a reason of 1 to 255 characters.")
    if CONTROL_CHARS.search(reason):
        raise WalletError("An adjustment's reason must be plain text, without control characters.")
    change = wallet_credit if direction == ADJUST_CREDIT else wallet_debit
    return change(user=user, amount=amount, kind=LedgerEntry.Kind.ADJUSTMENT, reason=reason, created_by=admin)
