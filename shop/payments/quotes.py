"""What a top-up of a given amount costs and brings, before anything is written: limits, fee and bonus."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from shop.payments.models import PaymentMethod

CENTS = Decimal("0.01")
HUNDRED = Decimal("100")


class AmountRefused(Exception):
    """The amount cannot be paid with this method; the message says why, for the customer (in the active language)."""


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
        raise AmountRefused(_("Enter an amount such as 25 or 25.50.")) from None
    if not paid.is_finite() or paid != cents(paid):
        raise AmountRefused(_("Enter an amount with at most 2 decimal places, such as 25.50."))
    if paid < method.min_amount:
        limit = {"method": method.name, "amount": _shown(method.min_amount), "currency": method.currency}
        raise AmountRefused(_("The minimum for %(method)s is %(amount)s %(currency)s.") % limit)
    if paid > method.max_amount:
        limit = {"method": method.name, "amount": _shown(method.max_amount), "currency": method.currency}
        raise AmountRefused(_("The maximum for %(method)s is %(amount)s %(currency)s.") % limit)
    fee = cents(paid * method.fee_percent / HUNDRED)
    bonus = cents(paid * method.bonus_percent / HUNDRED) if method.bonus_percent and paid >= method.bonus_threshold else Decimal("0.00")
    return Quote(amount=paid, fee=fee, bonus=bonus, currency=method.currency)


def _shown(amount: Decimal) -> str:
    """An amount as the customer reads it: 2 places, the active language's decimal mark, ungrouped (``5.00``, ``5,00``)."""
    return number_format(cents(amount), decimal_pos=2, use_l10n=True)
