"""Reads of the retail catalogue (``shop.catalogue.selectors``): what is orderable, defined once for a loaded service and for queries."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from shop.catalogue.selectors import orderable_services, service_offers, service_orderable, service_search, visible_categories
from shop.models import Category, Provider, ProviderService, Service
from tests.factories import CategoryFactory, ProviderServiceFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def loaded(service: Service) -> Service:
    """The service as placement loads it, its related rows read afresh."""
    return Service.objects.select_related("category", "provider_service__provider").get(pk=service.pk)


def stop(field: str, value: object) -> Callable[[Service], None]:
    """A way a service stops being orderable: one column of it or of a row it depends on."""

    def apply(service: Service) -> None:
        model, pk = {
            "service": (Service, service.pk),
            "category": (Category, service.category_id),
            "upstream": (ProviderService, service.provider_service_id),
            "provider": (Provider, service.provider_service.provider_id),
        }[field.split(".")[0]]
        model.objects.filter(pk=pk).update(**{field.split(".")[1]: value})

    return apply


WAYS = {
    "disabled": stop("service.is_enabled", False),
    "hidden-category": stop("category.is_visible", False),
    "unavailable-upstream": stop("upstream.is_available", False),
    "inactive-provider": stop("provider.is_active", False),
    "unsupported-type": stop("upstream.type", "Custom Comments Mentions"),
}


def test_a_service_of_an_active_provider_in_a_visible_category_is_orderable_both_ways() -> None:
    service = ServiceFactory()
    assert service_orderable(service=loaded(service)) is True
    assert list(orderable_services().values_list("pk", flat=True)) == [service.pk]


@pytest.mark.parametrize("way", list(WAYS))
def test_each_way_a_service_stops_being_orderable_is_seen_by_both_reads(way: str) -> None:
    service, other = ServiceFactory(), ServiceFactory()
    WAYS[way](service)

    assert service_orderable(service=loaded(service)) is False
    assert list(orderable_services().values_list("pk", flat=True)) == [other.pk]
    assert service_orderable(service=loaded(other)) is True


@pytest.mark.parametrize("type_", ["Default", "Package", "Custom Comments", "Poll", "SEO"])
def test_every_supported_type_is_orderable(type_: str) -> None:
    service = ServiceFactory(provider_service=ProviderServiceFactory(type=type_))
    assert service_orderable(service=loaded(service)) is True
    assert orderable_services().filter(pk=service.pk).exists()


def test_orderable_services_come_in_catalogue_order() -> None:
    first, second = CategoryFactory(name="B", position=0), CategoryFactory(name="A", position=1)
    later = ServiceFactory(category=first, name="Zeta", position=1)
    earlier = ServiceFactory(category=first, name="Omega", position=0)
    same_place = ServiceFactory(category=first, name="Alpha", position=1)
    last = ServiceFactory(category=second, name="Aaa", position=0)
    assert list(orderable_services().values_list("pk", flat=True)) == [earlier.pk, same_place.pk, later.pk, last.pk]


def test_visible_categories_are_those_with_something_to_order() -> None:
    full, _empty, hidden, only_disabled = (CategoryFactory(name=name) for name in ("Full", "Empty", "Hidden", "Disabled"))
    ServiceFactory(category=full)
    ServiceFactory(category=hidden)
    Category.objects.filter(pk=hidden.pk).update(is_visible=False)
    ServiceFactory(category=only_disabled, is_enabled=False)
    assert list(visible_categories().values_list("name", flat=True)) == ["Full"]


def test_an_offer_is_the_service_priced_with_its_limits_and_flags() -> None:
    upstream = ProviderServiceFactory(rate=Decimal("0.90"), min_quantity=50, max_quantity=10_000, refill=True, dripfeed=True)
    service = ServiceFactory(provider_service=upstream, name="Followers", max_quantity=5000)
    (offer,) = service_offers(orderable_services())
    assert (offer.id, offer.name, offer.category, offer.type) == (service.pk, "Followers", service.category.name, "Default")
    assert (offer.rate, offer.min, offer.max) == (Decimal("1.170000"), 50, 5000)  # the shop's default 30% markup
    assert (offer.refill, offer.cancel, offer.dripfeed) == (True, False, True)
    assert offer.as_json()["fields"] == [] and offer.as_json()["needs_quantity"] is True


def test_search_by_name_number_or_category_finds_only_orderable_services() -> None:
    likes, views = CategoryFactory(name="Likes"), CategoryFactory(name="Views")
    fast = ServiceFactory(category=likes, name="Fast likes")
    slow = ServiceFactory(category=likes, name="Slow likes")
    ServiceFactory(category=views, name="Fast views", is_enabled=False)

    assert set(service_search(query="fast").values_list("pk", flat=True)) == {fast.pk}
    assert list(service_search(query=f" {slow.pk} ").values_list("pk", flat=True)) == [slow.pk]
    assert set(service_search(category_id=likes.pk).values_list("pk", flat=True)) == {fast.pk, slow.pk}
    assert not service_search(category_id=views.pk).exists()


@pytest.mark.parametrize(
    ("type_", "dripfeed", "orderable"),
    [
        ("Default", True, True),
        ("Default", False, False),
        ("Package", True, False),
        ("Custom Comments", True, False),  # its quantity is its list
        ("Subscriptions", True, False),
    ],
)
def test_drip_feed_is_offered_only_where_the_service_has_it_and_its_type_takes_runs(type_, dripfeed, orderable) -> None:
    ServiceFactory(provider_service=ProviderServiceFactory(type=type_, dripfeed=dripfeed, min_quantity=1, max_quantity=1000))
    (offer,) = service_offers(orderable_services())
    assert offer.dripfeed is dripfeed and offer.dripfeed_orderable is orderable
    assert (offer.as_json()["dripfeed"], offer.as_json()["dripfeed_orderable"]) == (dripfeed, orderable)


def test_an_offer_of_a_provider_minimum_of_0_says_1() -> None:
    ServiceFactory(provider_service=ProviderServiceFactory(min_quantity=0, max_quantity=1000))
    (offer,) = service_offers(orderable_services())
    assert (offer.min, offer.max) == (1, 1000)
