"""Retail prices (``shop.catalogue.pricing``): the markup that applies, the rate, the service's limits and an order's charge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.catalogue.pricing import charge_for, service_limits, service_markup, service_rate
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
