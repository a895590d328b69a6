"""Building the retail catalogue (``shop.catalogue.retail``): offering provider services once each, and setting markups in bulk."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from shop.catalogue.retail import services_import, services_set_markup
from shop.models import Category, ProviderService, Service
from tests.factories import CategoryFactory, ProviderFactory, ProviderServiceFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def upstream(provider, upstream_id: str, category: str, **fields) -> ProviderService:
    return ProviderServiceFactory(provider=provider, upstream_id=upstream_id, category=category, name=f"Service {upstream_id}", **fields)


def test_each_provider_service_is_offered_once_in_a_category_of_its_name() -> None:
    provider = ProviderFactory()
    likes = upstream(provider, "1", "Likes", description="Fast likes")
    views = upstream(provider, "2", "Views")
    blank = upstream(provider, "3", "")

    assert services_import(provider_services=ProviderService.objects.filter(provider=provider)) == 3

    made = {service.provider_service_id: service for service in Service.objects.select_related("category")}
    assert {pk: service.category.name for pk, service in made.items()} == {likes.pk: "Likes", views.pk: "Views", blank.pk: "Other"}
    assert (made[likes.pk].name, made[likes.pk].description) == ("Service 1", "Fast likes")
    # Prices follow the markup rules until an admin sets them: nothing is copied in.
    assert all(
        (s.markup_percent, s.fixed_rate, s.min_quantity, s.max_quantity, s.is_enabled) == (None, None, None, None, True)
        for s in made.values()
    )
    assert [made[pk].position for pk in (likes.pk, views.pk, blank.pk)] == [0, 1, 2]  # the provider's order


def test_importing_again_offers_only_what_is_new_and_reuses_categories() -> None:
    provider = ProviderFactory()
    existing = CategoryFactory(name="Likes", markup_percent=Decimal("15"))
    upstream(provider, "1", "Likes")
    everything = ProviderService.objects.filter(provider=provider)
    assert services_import(provider_services=everything) == 1
    assert services_import(provider_services=everything) == 0

    upstream(provider, "2", "Likes")
    assert services_import(provider_services=everything) == 1

    assert Service.objects.count() == 2
    assert list(Category.objects.values_list("pk", "markup_percent")) == [(existing.pk, Decimal("15.00"))]
    assert set(Service.objects.values_list("category_id", flat=True)) == {existing.pk}


def test_only_the_given_provider_services_are_offered() -> None:
    provider = ProviderFactory()
    chosen, other = upstream(provider, "1", "Likes"), upstream(provider, "2", "Likes")
    assert services_import(provider_services=ProviderService.objects.filter(pk=chosen.pk)) == 1
    assert not Service.objects.filter(provider_service=other).exists()
    assert services_import(provider_services=ProviderService.objects.none()) == 0


def test_a_markup_is_set_on_exactly_the_given_services_and_stamped() -> None:
    chosen, untouched = ServiceFactory(), ServiceFactory()
    long_ago = timezone.now() - timedelta(days=3)
    Service.objects.update(updated_at=long_ago)

    assert services_set_markup(services=Service.objects.filter(pk=chosen.pk), markup_percent=Decimal("25")) == 1

    chosen.refresh_from_db()
    untouched.refresh_from_db()
    assert (chosen.markup_percent, untouched.markup_percent) == (Decimal("25"), None)
    assert chosen.updated_at > long_ago and untouched.updated_at == long_ago


def test_a_blank_markup_clears_it() -> None:
    service = ServiceFactory(markup_percent=Decimal("25"))
    assert services_set_markup(services=Service.objects.all(), markup_percent=None) == 1
    service.refresh_from_db()
    assert service.markup_percent is None


@pytest.mark.parametrize("markup", ["-100", "-100.01", "-500"])
def test_a_markup_of_minus_100_or_below_is_refused_and_changes_nothing(markup: str) -> None:
    service = ServiceFactory(markup_percent=Decimal("25"))
    with pytest.raises(ValueError, match="above -100%"):
        services_set_markup(services=Service.objects.all(), markup_percent=Decimal(markup))
    service.refresh_from_db()
    assert service.markup_percent == Decimal("25")


def test_a_markup_just_above_minus_100_is_taken() -> None:
    ServiceFactory()
    assert services_set_markup(services=Service.objects.all(), markup_percent=Decimal("-99.99")) == 1
    assert Service.objects.get().markup_percent == Decimal("-99.99")
