"""Figures as people read them; the exact figures stay in the database and in the API.

- ``money``: a balance, a charge, a refund: at least 2 places, more only when the amount has them (``10.00``, ``0.0045``),
  thousands grouped, in the active language's way (``1,250.50`` in English, ``1 250,50`` in Spanish).
- ``rate``: a price per 1000 with no trailing zeros (``10.4``, ``0.25``, ``3``).
- ``price_per``: a service's price as the customer pays it: ``10.4 per 1000``, or the flat price of a package.

Only what people read is formatted so; machine-read figures (forms' values, data attributes, JSON) stay plain.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.timesince import timesince
from django.utils.translation import gettext

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
    return number_format(number, decimal_pos=_places(number, 2), use_l10n=True, force_grouping=True)


def format_rate(value: Any) -> str:
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    return number_format(number, decimal_pos=_places(number, 0), use_l10n=True, force_grouping=True)


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
    return (gettext("%(rate)s %(currency)s per 1000") % {"rate": format_rate(rate), "currency": currency}).replace("  ", " ").strip()


@register.filter(name="duration")
def duration_filter(value: Any) -> str:
    """A ``timedelta`` in words of the active language (``15 minutes``, ``1 hour``); "" for anything else."""
    if not isinstance(value, timedelta) or value <= timedelta(0):
        return ""
    now = timezone.now()
    return timesince(now - value, now)
