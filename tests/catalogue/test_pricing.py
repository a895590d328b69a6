"""Retail prices (``shop.catalogue.pricing``): the markup that applies, the rate, the service's limits and an order's charge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.catalogue.pricing import RETAIL, CustomerPrices, charge_for, customer_rate, service_limits, service_markup, service_rate
from shop.models import Category, Provider, ProviderService, Service, ShopSettings

DEFAULT = Decimal("30")


def priced(
    rate: str = "0.90",
    *,
    exchange: str = "1",
    service_markup: str | None = None,
    category_markup: str | None = None,
    fixed: str | None = None,
    low: int | None = None,
    high: int | None = None,
) -> Service:
    """An unsaved service with what pricing reads: its provider's rate, limits and exchange rate, its own and its category's markup."""
    upstream = ProviderService(provider=Provider(exchange_rate=Decimal(exchange)), rate=Decimal(rate), min_quantity=50, max_quantity=10_000)
    return Service(
        provider_service=upstream,
        category=Category(markup_percent=None if category_markup is None else Decimal(category_markup)),
        markup_percent=None if service_markup is None else Decimal(service_markup),
        fixed_rate=None if fixed is None else Decimal(fixed),
        min_quantity=low,
        max_quantity=high,
    )


# The markup ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("own", "category", "applies"),
    [
        (None, None, "30"),  # the shop's default
        (None, "50", "50"),  # the category's
        ("10", "50", "10"),  # the service's own
        ("0", "50", "0"),  # zero is a markup, not a blank
        (None, "0", "0"),
        ("-20", None, "-20"),  # selling below cost is the admin's choice
    ],
)
def test_the_most_specific_markup_applies(own: str | None, category: str | None, applies: str) -> None:
    service = priced(service_markup=own, category_markup=category)
    assert service_markup(service=service, default_markup=DEFAULT) == Decimal(applies)


# The rate --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "rate"),
    [
        (priced("0.90"), "1.170000"),  # 0.90 x 1.30
        (priced("0.90", exchange="2"), "2.340000"),  # in the shop's currency first
        (priced("0.90", service_markup="-50"), "0.450000"),
        (priced("0.1234565", service_markup="0"), "0.123457"),  # half-up to 6 places (half-even would give ...456)
        (priced("0.0000001", service_markup="0"), "0.000000"),
        (priced("0", service_markup="100"), "0.000000"),
        (priced("0.90", exchange="2", service_markup="80", fixed="5.5"), "5.5"),  # a fixed rate replaces the whole sum
    ],
)
def test_the_rate_is_the_providers_in_the_shops_currency_with_the_markup(service: Service, rate: str) -> None:
    assert service_rate(service=service, default_markup=DEFAULT) == Decimal(rate)


@pytest.mark.django_db
def test_without_a_default_given_the_rate_reads_the_shops_settings() -> None:
    ShopSettings.objects.update_or_create(pk=1, defaults={"default_markup_percent": Decimal("10")})
    assert service_rate(service=priced("0.90")) == Decimal("0.990000")


@pytest.mark.django_db
def test_the_most_specific_markup_wins_and_a_fixed_rate_replaces_it(catalogue) -> None:
    service = Service.objects.select_related("category", "provider_service__provider").get(pk=catalogue["1"].pk)
    provider = service.provider_service.provider
    provider.exchange_rate = Decimal("2")
    provider.save()
    service.provider_service.provider = provider
    ShopSettings.objects.update_or_create(pk=1, defaults={"default_markup_percent": Decimal("10")})
    assert service_rate(service=service) == Decimal("1.98")  # 0.90 x 2 x 1.10
    service.category.markup_percent = Decimal("50")
    assert service_rate(service=service) == Decimal("2.70")
    service.markup_percent = Decimal("0")
    assert service_rate(service=service) == Decimal("1.80")
    service.fixed_rate = Decimal("5.5")
    assert service_rate(service=service) == Decimal("5.5")


# Limits --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "limits"),
    [
        (None, None, (50, 10_000)),  # the provider's 50..10000
        (100, 500, (100, 500)),  # narrowed
        (10, 20_000, (50, 10_000)),  # never widened
        (10, 500, (50, 500)),
        (100, 20_000, (100, 10_000)),
    ],
)
def test_a_services_limits_narrow_the_providers_and_never_widen_them(low, high, limits) -> None:
    assert service_limits(service=priced(low=low, high=high)) == limits


# The charge ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "quantity", "package", "charge"),
    [
        ("1.17", 1000, False, "1.1700"),
        ("1.17", 1500, False, "1.7550"),
        ("0.123456", 1, False, "0.0001"),  # 0.000123456: rounded to 4 places
        ("0.150000", 1, False, "0.0002"),  # 0.00015: half-up
        ("0.001", 10, False, "0.0001"),  # 0.00001 rounds to nothing: the least a charge is
        ("0", 1000, False, "0.0001"),
        ("2.10", 1, True, "2.1000"),  # a package costs its rate, whatever the quantity
        ("2.10", 1000, True, "2.1000"),
        ("3.333333", 1, True, "3.3333"),
    ],
)
def test_a_charge_is_rate_times_quantity_per_thousand_or_the_package_rate(rate: str, quantity: int, package: bool, charge: str) -> None:
    amount = charge_for(rate=Decimal(rate), total_quantity=quantity, package=package)
    assert amount == Decimal(charge) and amount.as_tuple().exponent == -4


# A customer's own rate ----------------------------------------------------------------------------------


def own(discount: str | None = None, **fixed: str) -> CustomerPrices:
    """A customer's prices: ``discount`` % on everything, and fixed rates by service (``s7="0.5"`` for service 7)."""
    return CustomerPrices(
        discount_percent=None if discount is None else Decimal(discount),
        fixed_rates={int(name[1:]): Decimal(rate) for name, rate in fixed.items()},
    )


@pytest.mark.parametrize(
    ("retail", "prices", "rate"),
    [
        ("1.170000", RETAIL, "1.170000"),  # no prices of their own: the retail rate
        ("1.170000", own(s8="0.5"), "1.170000"),  # a fixed rate of another service changes nothing
        ("1.170000", own(s7="0.5"), "0.5"),  # a fixed rate for the service replaces the retail rate
        ("1.170000", own(s7="2.5"), "2.5"),  # even above it: the admin's choice
        ("1.170000", own("25", s7="0.5"), "0.5"),  # a fixed rate wins over the discount
        ("1.170000", own("25", s8="0.5"), "0.877500"),  # the discount where the service has no fixed rate
        ("1.170000", own("25"), "0.877500"),  # 25 % off, not 75 % off
        ("1.170000", own("0.01"), "1.169883"),  # the smallest discount: 1.169883 (1.1698830 rounded)
        ("100", own("99.99"), "0.010000"),  # the largest
        ("0.000005", own("50"), "0.000003"),  # 0.0000025: half-up to 6 places (half-even would give ...002)
        ("0.000006", own("60"), "0.000002"),  # 0.0000024: half-up, not up
        ("0.000007", own("50"), "0.000004"),  # 0.0000035
        ("0.000002", own("90"), "0.000001"),  # 0.0000002 rounds to nothing: the least rate, never free
        ("0.000001", own("60"), "0.000001"),
        ("0", own("50"), "0"),  # a free service stays free: the least rate is never above the retail one
        ("0.000000", own("50"), "0"),
    ],
)
def test_a_fixed_rate_wins_else_the_discount_comes_off_the_retail_rate(retail: str, prices: CustomerPrices, rate: str) -> None:
    assert customer_rate(retail_rate=Decimal(retail), service_id=7, prices=prices, package=False) == Decimal(rate)


def test_a_discounted_rate_has_the_six_places_of_a_retail_rate() -> None:
    rate = customer_rate(retail_rate=Decimal("3"), service_id=7, prices=own("10"), package=False)
    assert rate == Decimal("2.7") and rate.as_tuple().exponent == -6


@pytest.mark.parametrize(
    ("retail", "prices", "rate"),
    [
        ("2.730000", RETAIL, "2.730000"),
        ("2.730000", own("33.33"), "1.820100"),  # 1.820091: the charge's 4 places, half-up
        ("2.730000", own("15"), "2.320500"),  # 2.3205: already 4 places
        ("2.799993", RETAIL, "2.800000"),  # a retail rate of 6 places too: the price is what is charged
        ("2.000050", RETAIL, "2.000100"),  # half-up (half-even would give 2.0000)
        ("2.000049", RETAIL, "2.000000"),
        ("2.000150", RETAIL, "2.000200"),
        ("1.170000", own(s7="0.777777"), "0.777800"),  # a fixed rate of more than 4 places
        ("1.170000", own(s7="0.77775"), "0.777800"),
        ("1.170000", own(s7="0.777749"), "0.777700"),
        ("1.170000", own("50", s7="0.5"), "0.500000"),  # the fixed rate still wins over the discount
        ("0.000150", own("50"), "0.000100"),  # 0.000075: half-up to 0.0001
        ("0.000080", own("50"), "0.000100"),  # 0.00004 rounds to nothing: the least charge, as ``charge_for`` takes
        ("0", RETAIL, "0.000100"),  # even a free package is charged the least: shown as charged
    ],
)
def test_a_packages_rate_is_its_charge_to_four_places_written_with_six(retail: str, prices: CustomerPrices, rate: str) -> None:
    shown = customer_rate(retail_rate=Decimal(retail), service_id=7, prices=prices, package=True)
    assert shown == Decimal(rate) and shown.as_tuple().exponent == -6
    unrounded = customer_rate(retail_rate=Decimal(retail), service_id=7, prices=prices, package=False)
    assert shown == charge_for(rate=unrounded, total_quantity=1, package=True)


@pytest.mark.parametrize(
    ("retail", "prices", "rate"),
    [("2.730000", own("33.33"), "1.820091"), ("2.000050", RETAIL, "2.000050"), ("1.170000", own(s7="0.777777"), "0.777777")],
)
def test_a_service_that_is_no_package_keeps_its_six_places(retail: str, prices: CustomerPrices, rate: str) -> None:
    assert customer_rate(retail_rate=Decimal(retail), service_id=7, prices=prices, package=False) == Decimal(rate)


def test_without_prices_of_their_own_a_customer_pays_the_retail_rate() -> None:
    assert RETAIL == CustomerPrices() and RETAIL.discount_percent is None and dict(RETAIL.fixed_rates) == {}
