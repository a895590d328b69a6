"""A customer's own prices (``CustomerPrice``): read once, shown on every page and in the API, and charged as shown."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from uuid import uuid4

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from shop.catalogue.pricing import RETAIL, CustomerPrices
from shop.catalogue.selectors import customer_prices, orderable_services, service_offers
from shop.models import CustomerPrice, LedgerEntry, Order, Service, ShopSettings
from shop.storefront.templatetags.shop_format import format_money, format_rate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/own-price"
QUANTITY = 1234  # not a round thousand: the charge is rounded
FIXED = Decimal("0.777777")
DISCOUNT = Decimal("15")


def give(user, *, discount: Decimal | None = None, fixed: dict | None = None) -> None:
    if discount is not None:
        CustomerPrice.objects.create(user=user, discount_percent=discount)
    for service, rate in (fixed or {}).items():
        CustomerPrice.objects.create(user=user, service=service, fixed_rate=rate)


# Reading them ------------------------------------------------------------------------------------------


def test_visitors_and_customers_without_prices_pay_the_retail_rate(customer, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert customer_prices(user=AnonymousUser()) is RETAIL
        assert customer_prices(user=None) is RETAIL
    with django_assert_num_queries(1):
        assert customer_prices(user=customer) is RETAIL


def test_a_customers_prices_are_read_in_one_query_and_only_theirs(catalogue, customer, django_assert_num_queries) -> None:
    one, two = catalogue["1"], catalogue["2"]
    give(customer, discount=DISCOUNT, fixed={one: FIXED, two: Decimal("3")})
    give(UserFactory(), discount=Decimal("50"), fixed={catalogue["3"]: Decimal("0.1")})
    with django_assert_num_queries(1):
        prices = customer_prices(user=customer)
    assert prices == CustomerPrices(discount_percent=DISCOUNT, fixed_rates={one.pk: FIXED, two.pk: Decimal("3")})
    # For one order, only what it needs: the discount and that service's fixed rate.
    assert customer_prices(user=customer, service_id=one.pk) == CustomerPrices(discount_percent=DISCOUNT, fixed_rates={one.pk: FIXED})
    assert customer_prices(user=customer, service_id=catalogue["3"].pk) == CustomerPrices(discount_percent=DISCOUNT, fixed_rates={})


def test_pricing_the_whole_catalogue_reads_the_prices_once(catalogue, customer, django_assert_num_queries) -> None:
    give(customer, discount=DISCOUNT, fixed={catalogue["1"]: FIXED})
    services = list(orderable_services())
    assert len(services) > 3
    ShopSettings.load()  # the settings row exists, as in any running shop
    with django_assert_num_queries(2):  # the prices, then the shop's settings: none per service
        offers = service_offers(services, prices=customer_prices(user=customer))
    by_id = {offer.id: offer for offer in offers}
    retail = {offer.id: offer.rate for offer in service_offers(services)}
    assert (by_id[catalogue["1"].pk].rate, by_id[catalogue["1"].pk].retail_rate) == (FIXED, retail[catalogue["1"].pk])
    for offer in offers:
        if offer.id != catalogue["1"].pk:
            expected = (retail[offer.id] * Decimal("0.85")).quantize(Decimal("0.000001"), ROUND_HALF_UP)
            if offer.package:  # its rate is its price: what it charges, to 4 places
                expected = max(expected.quantize(Decimal("0.0001"), ROUND_HALF_UP), Decimal("0.0001"))
            assert (offer.rate, offer.retail_rate) == (expected, retail[offer.id])
    assert all(offer.retail_rate is None for offer in service_offers(services))


# Shown as charged -------------------------------------------------------------------------------------------

RULES = {
    "none": {},
    "discount": {"discount": DISCOUNT},
    "odd discount": {"discount": Decimal("33.33")},  # 6 places left after it: 1.17 x 0.6667 = 0.780039
    "fixed": {"fixed": FIXED},
    "both": {"discount": DISCOUNT, "fixed": FIXED},  # the fixed rate wins for its service
}
#: The rate each rule gives, by the sandbox's upstream service id: 1 is a Default service (1.17 retail),
#: 6 a Package (2.73 retail), whose rate is its price: what it charges, to money's 4 places.
EXPECTED_RATES = {
    "1": {"none": "1.17", "discount": "0.9945", "odd discount": "0.780039", "fixed": FIXED, "both": FIXED},
    "6": {"none": "2.73", "discount": "2.3205", "odd discount": "1.8201", "fixed": "0.7778", "both": "0.7778"},
}


def charge_of(shown: str, quantity: int, *, package: bool = False) -> Decimal:
    """What a customer reckons from a shown rate: rate x quantity / 1000 (a package: its rate), half-up to 4 places, at least 0.0001."""
    amount = Decimal(shown) if package else Decimal(shown) * quantity / 1000
    return max(amount.quantize(Decimal("0.0001"), ROUND_HALF_UP), Decimal("0.0001"))


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("upstream", list(EXPECTED_RATES))
def test_the_charge_is_the_shown_price_for_each_rule(upstream, rule, web, call, catalogue, customer) -> None:
    service = catalogue[upstream]
    package = upstream == "6"
    settings = RULES[rule]
    give(customer, discount=settings.get("discount"), fixed={service: settings["fixed"]} if "fixed" in settings else None)
    expected_rate = Decimal(EXPECTED_RATES[upstream][rule])
    retail = {"1": "1.17", "6": "2.73"}[upstream]
    shown_as = "{} USD" if package else "{} USD per 1000"
    quantity = 1 if package else QUANTITY

    # The services page, services.json and the API's services all show the same rate.
    page = web.get(reverse("services"), {"category": service.category_id})
    shown_page = next(offer for offer in page.context["offers"] if offer.id == service.pk)
    assert shown_page.rate == expected_rate
    html = page.content.decode()
    assert shown_as.format(format_money(expected_rate) if package else format_rate(expected_rate)) in html
    assert (f"Your price · retail {shown_as.format(retail)}" in html) is (rule != "none")
    listed = web.get(reverse("services-json"), {"category": service.category_id}).json()["services"]
    shown_json = next(item for item in listed if item["id"] == service.pk)
    assert Decimal(shown_json["rate"]) == expected_rate
    assert shown_json["retail_rate"] == (None if rule == "none" else f"{retail}0000")
    shown_api = next(item for item in call(action="services") if item["service"] == service.pk)
    assert Decimal(shown_api["rate"]) == expected_rate

    # The order page shows it too (its script reckons the charge from the same services data).
    form = web.get(reverse("order-new"), {"service": service.pk}).content.decode()
    assert re.search(rf'"id": {service.pk}, [^{{}}]*"rate": "{shown_json["rate"]}"', form)

    # The web form and the API's add charge it.
    fields = {} if package else {"quantity": str(quantity)}
    response = web.post(reverse("order-new"), {"service": service.pk, "link": LINK, "form_token": uuid4(), **fields})
    assert response.status_code == 302
    reply = call(action="add", service=str(service.pk), link=LINK + "2", **fields)
    web_order, api_order = Order.objects.get(link=LINK), Order.objects.get(pk=reply["order"])
    for order in (web_order, api_order):
        assert order.rate == expected_rate
        reckoned = {charge_of(shown, quantity, package=package) for shown in (shown_json["rate"], shown_api["rate"], str(shown_page.rate))}
        assert reckoned == {order.charge}
        if package:  # the price shown is the charge itself, to the last place
            assert order.charge == Decimal(shown_api["rate"]) == Decimal(shown_json["rate"]) == expected_rate
        entry = LedgerEntry.objects.get(order=order, kind=LedgerEntry.Kind.ORDER_CHARGE)
        assert entry.amount == -order.charge


def test_a_package_whose_retail_rate_has_six_places_is_shown_as_charged_and_not_as_an_own_price(call, catalogue, customer) -> None:
    package = catalogue["6"]
    Service.objects.filter(pk=package.pk).update(markup_percent=Decimal("33.33"))  # 2.10 x 1.3333 = 2.799930
    (offer,) = [offer for offer in service_offers(orderable_services()) if offer.id == package.pk]
    assert (offer.rate, offer.retail_rate) == (Decimal("2.7999"), None)
    shown = next(item for item in call(action="services") if item["service"] == package.pk)
    assert Decimal(shown["rate"]) == Decimal("2.7999")
    order = Order.objects.get(pk=call(action="add", service=str(package.pk), link=LINK)["order"])
    assert order.charge == Decimal(shown["rate"])


def test_a_discount_applies_to_a_service_without_a_fixed_rate_of_its_own(call, catalogue, customer) -> None:
    give(customer, discount=DISCOUNT, fixed={catalogue["1"]: FIXED})
    other = catalogue["2"]
    shown = next(item for item in call(action="services") if item["service"] == other.pk)
    retail = next(offer.rate for offer in service_offers(orderable_services()) if offer.id == other.pk)
    assert Decimal(shown["rate"]) == (retail * Decimal("0.85")).quantize(Decimal("0.000001"), ROUND_HALF_UP) < retail
    quantity = max(int(shown["min"]), 1000)
    order = Order.objects.get(pk=call(action="add", service=str(other.pk), link=LINK, quantity=str(quantity))["order"])
    assert order.charge == charge_of(shown["rate"], quantity)


def test_another_customers_prices_change_nothing(call, catalogue, customer) -> None:
    give(UserFactory(), discount=Decimal("50"), fixed={catalogue["1"]: Decimal("0.1")})
    shown = next(item for item in call(action="services") if item["service"] == catalogue["1"].pk)
    assert shown["rate"] == "1.17"
    order = Order.objects.get(pk=call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"])
    assert order.charge == Decimal("1.1700")
