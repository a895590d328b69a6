"""Retail prices: one function computes them for the pages, the API and order placement.

rate per 1000 = fixed rate, or provider rate x exchange rate x (1 + markup / 100),
with the markup of the service, else of its category, else the shop's default;
rounded half-up to 6 places. A charge is rate x quantity / 1000 (the rate itself
for packages), rounded half-up to 4 places and never below 0.0001.

A customer may have prices of their own (``CustomerPrice``): ``customer_rate`` turns
the retail rate into theirs, and every page, the API and order placement use it.
A package's rate is its price, so it is rounded as its charge is: what is shown is charged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class CustomerPrices:
    """A customer's own prices, read once (``shop.catalogue.selectors.customer_prices``) for any number of services.

    ``discount_percent``: off the retail rate of every service (0 < d < 100), or None;
    ``fixed_rates``: a rate per 1000 by service id, for those services only.
    """

    discount_percent: Decimal | None = None
    fixed_rates: Mapping[int, Decimal] = field(default_factory=dict)


#: No prices of their own (visitors, most customers): the retail rate.
RETAIL = CustomerPrices()


def customer_rate(*, retail_rate: Decimal, service_id: int, prices: CustomerPrices, package: bool) -> Decimal:
    """The customer's rate per 1000 for a service whose retail rate (``service_rate``) is ``retail_rate``.

    A fixed rate for that service wins, whatever it is (above the retail rate too: the admin's choice).
    Else the discount comes off the retail rate, rounded half-up to 6 places like the retail rate,
    and never below the least rate, 0.000001, where the retail rate is above it: a discount never
    makes a priced service free. Else the retail rate.

    A package's rate is the price of the whole package, so it is shown as it is charged
    (``charge_for``): rounded half-up to money's 4 places, at least 0.0001 (written with
    6 places, as every rate is: 1.820100).
    """
    rate = _own_rate(retail_rate, service_id, prices)
    return charge_for(rate=rate, total_quantity=1, package=True).quantize(RATE_PLACES) if package else rate


def _own_rate(retail_rate: Decimal, service_id: int, prices: CustomerPrices) -> Decimal:
    fixed = prices.fixed_rates.get(service_id)
    if fixed is not None:
        return fixed
    if prices.discount_percent is None:
        return retail_rate
    rate = (retail_rate * (HUNDRED - prices.discount_percent) / HUNDRED).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
    return max(rate, min(retail_rate, RATE_PLACES))


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
