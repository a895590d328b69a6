"""Retail prices: one function computes them for the pages, the API and order placement.

rate per 1000 = fixed rate, or provider rate x exchange rate x (1 + markup / 100),
with the markup of the service, else of its category, else the shop's default;
rounded half-up to 6 places. A charge is rate x quantity / 1000 (the rate itself
for packages), rounded half-up to 4 places and never below 0.0001.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from shop.catalogue.models import Service, ShopSettings
from shop.wallet.services import CENT, money

RATE_PLACES = Decimal("0.000001")
HUNDRED = Decimal("100")
THOUSAND = Decimal("1000")


def service_markup(*, service: Service, default_markup: Decimal) -> Decimal:
    if service.markup_percent is not None:
        return service.markup_percent
    if service.category.markup_percent is not None:
        return service.category.markup_percent
    return default_markup


def service_rate(*, service: Service, default_markup: Decimal | None = None) -> Decimal:
    """The rate per 1000 in the shop's currency. Pass ``default_markup`` when pricing many services."""
    if service.fixed_rate is not None:
        return service.fixed_rate
    if default_markup is None:
        default_markup = ShopSettings.load().default_markup_percent
    markup = service_markup(service=service, default_markup=default_markup)
    provider_service = service.provider_service
    rate = provider_service.rate * provider_service.provider.exchange_rate * (1 + markup / HUNDRED)
    return rate.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def service_limits(*, service: Service) -> tuple[int, int]:
    """The service's min and max: its own where set, never wider than the provider's."""
    upstream = service.provider_service
    low = max(service.min_quantity or upstream.min_quantity, upstream.min_quantity)
    high = min(service.max_quantity or upstream.max_quantity, upstream.max_quantity)
    return low, high


def charge_for(*, rate: Decimal, total_quantity: int, package: bool) -> Decimal:
    """What an order costs the customer."""
    amount = rate if package else rate * total_quantity / THOUSAND
    return max(money(amount), CENT)
