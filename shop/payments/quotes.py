"""What a top-up of a given amount costs and brings, before anything is written: limits, fee and bonus."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from shop.payments.models import PaymentMethod

CENTS = Decimal("0.01")
HUNDRED = Decimal("100")


class AmountRefused(Exception):
    """The amount cannot be paid with this method; the message says why, for the customer."""


@dataclass(frozen=True)
class Quote:
    amount: Decimal  # what the customer pays
    fee: Decimal  # taken from it
    bonus: Decimal  # added on top
    currency: str

    @property
    def credited(self) -> Decimal:
        return self.amount - self.fee + self.bonus


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)


def topup_quote(*, method: PaymentMethod, amount: Decimal | str) -> Quote:
    """The fee and bonus of paying ``amount`` through ``method``; raises ``AmountRefused`` outside its limits or with over 2 places."""
    try:
        paid = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise AmountRefused("Enter an amount such as 25 or 25.50.") from None
    if not paid.is_finite() or paid != cents(paid):
        raise AmountRefused("Enter an amount with at most 2 decimal places, such as 25.50.")
    if paid < method.min_amount:
        raise AmountRefused(f"The minimum for {method.name} is {cents(method.min_amount)} {method.currency}.")
    if paid > method.max_amount:
        raise AmountRefused(f"The maximum for {method.name} is {cents(method.max_amount)} {method.currency}.")
    fee = cents(paid * method.fee_percent / HUNDRED)
    bonus = cents(paid * method.bonus_percent / HUNDRED) if method.bonus_percent and paid >= method.bonus_threshold else Decimal("0.00")
    return Quote(amount=paid, fee=fee, bonus=bonus, currency=method.currency)
