"""Figures as people read them; the exact figures stay in the database and in the API.

- ``money``: a balance, a charge, a refund: at least 2 places, more only when the amount has them (``10.00``, ``0.0045``),
  thousands grouped with a thin space-free comma (``1,250.50``).
- ``rate``: a price per 1000 with no trailing zeros (``10.4``, ``0.25``, ``3``).
- ``price_per``: a service's price as the customer pays it: ``10.4 per 1000``, or the flat price of a package.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _places(number: Decimal, least: int) -> int:
    """How many decimal places ``number`` needs, at least ``least``."""
    exponent = number.normalize().as_tuple().exponent
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return max(needed, least)


def format_money(value: Any) -> str:
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    return f"{number:,.{_places(number, 2)}f}"


def format_rate(value: Any) -> str:
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    return f"{number:,.{_places(number, 0)}f}"


@register.filter(name="money")
def money_filter(value: Any) -> str:
    return format_money(value)


@register.filter(name="rate")
def rate_filter(value: Any) -> str:
    return format_rate(value)


@register.simple_tag(takes_context=True)
def price_per(context: template.Context, rate: Any, package: bool = False) -> str:
    """``10.4 USD per 1000``, or ``25.00 USD`` for a package (its rate is the price of the whole package)."""
    currency = context.get("shop_currency", "")
    if package:
        return f"{format_money(rate)} {currency}".strip()
    return f"{format_rate(rate)} {currency} per 1000".replace("  ", " ").strip()
