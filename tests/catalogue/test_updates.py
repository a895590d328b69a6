"""The service updates log (``shop.catalogue.updates``): what it records, at which rates, and what it keeps quiet about."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shop.catalogue.updates import service_updates_record
from shop.models import Category, Provider, ProviderService, Service, ServiceUpdate, ShopSettings
from tests.factories import CategoryFactory, ProviderServiceFactory, ServiceFactory
from tests.helpers import race

pytestmark = pytest.mark.django_db
Kind = ServiceUpdate.Kind


def logged() -> list[tuple[int, str, Decimal | None, Decimal | None]]:
    return [(u.service_id, u.kind, u.old_rate, u.new_rate) for u in ServiceUpdate.objects.order_by("pk")]


@pytest.fixture
def shop_started(db) -> Service:
    """A shop whose log has started: one service listed at 0.90 + 30% = 1.17 per 1000."""
    first = ServiceFactory()
    service_updates_record()
    ServiceUpdate.objects.create(service=first, kind=Kind.NEW, new_rate=Decimal("1.17"), created_at=timezone.now() - timedelta(days=1))
    return first


def test_first_run_on_an_existing_shop_takes_the_snapshot_silently() -> None:
    services = ServiceFactory.create_batch(3)
    hidden = ServiceFactory(category=CategoryFactory(is_visible=False))

    assert service_updates_record() == 0

    assert not ServiceUpdate.objects.exists()
    listed = {s.pk: (s.listed, s.listed_rate) for s in Service.objects.all()}
    assert listed == {**{s.pk: (True, Decimal("1.17")) for s in services}, hidden.pk: (False, None)}


def test_a_new_service_is_announced_at_its_retail_rate_not_its_cost(shop_started) -> None:
    new = ServiceFactory(provider_service=ProviderServiceFactory(rate=Decimal("2.00")))

    assert service_updates_record() == 1

    assert logged()[-1] == (new.pk, Kind.NEW, None, Decimal("2.600000"))  # 2.00 x 1.3, not the provider's 2.00


def test_a_disabled_service_and_its_return_are_recorded(shop_started) -> None:
    Service.objects.filter(pk=shop_started.pk).update(is_enabled=False)
    assert service_updates_record() == 1
    Service.objects.filter(pk=shop_started.pk).update(is_enabled=True)
    assert service_updates_record() == 1

    assert logged()[-2:] == [
        (shop_started.pk, Kind.DISABLED, Decimal("1.17"), None),
        (shop_started.pk, Kind.ENABLED, Decimal("1.17"), Decimal("1.17")),
    ]


@pytest.mark.parametrize(
    "stop",
    [
        lambda s: ProviderService.objects.filter(pk=s.provider_service_id).update(is_available=False),
        lambda s: Provider.objects.filter(pk=s.provider_service.provider_id).update(is_active=False),
        lambda s: Category.objects.filter(pk=s.category_id).update(is_visible=False),
    ],
    ids=["gone-upstream", "provider-off", "category-hidden"],
)
def test_whatever_stops_a_service_being_orderable_is_a_disabled_update(shop_started, stop) -> None:
    stop(shop_started)
    service_updates_record()
    assert logged()[-1][:2] == (shop_started.pk, Kind.DISABLED)


def test_a_provider_price_change_is_recorded_as_the_new_retail_rate(shop_started) -> None:
    ProviderService.objects.filter(pk=shop_started.provider_service_id).update(rate=Decimal("1.00"))

    assert service_updates_record() == 1

    assert logged()[-1] == (shop_started.pk, Kind.RATE, Decimal("1.17"), Decimal("1.300000"))


def test_a_change_of_the_shops_markup_is_recorded_for_every_service_it_moves(shop_started) -> None:
    ServiceFactory(markup_percent=Decimal("10"))  # its own markup: the shop's does not move it
    ServiceFactory(fixed_rate=Decimal("5"))  # a fixed rate: neither
    service_updates_record()  # the two new ones
    ShopSettings.objects.filter(pk=1).update(default_markup_percent=Decimal("50"))

    assert service_updates_record() == 1

    assert logged()[-1] == (shop_started.pk, Kind.RATE, Decimal("1.17"), Decimal("1.350000"))
    assert {u.service_id for u in ServiceUpdate.objects.filter(kind=Kind.RATE)} == {shop_started.pk}


def test_a_packages_flat_price_is_recorded(shop_started) -> None:
    package = ServiceFactory(provider_service=ProviderServiceFactory(type="Package", rate=Decimal("10")), markup_percent=Decimal("0"))
    service_updates_record()
    assert logged()[-1] == (package.pk, Kind.NEW, None, Decimal("10.000000"))


def test_a_second_run_with_nothing_changed_writes_nothing(shop_started) -> None:
    ServiceFactory.create_batch(5)
    service_updates_record()
    before = logged()

    with CaptureQueriesContext(connection) as queries:
        assert service_updates_record() == 0

    assert logged() == before
    assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]


def test_the_run_reads_every_service_in_a_fixed_number_of_queries(shop_started) -> None:
    ServiceFactory.create_batch(30)
    with CaptureQueriesContext(connection) as first:
        service_updates_record()
    ServiceFactory.create_batch(30)
    ProviderService.objects.update(rate=Decimal("3"))
    with CaptureQueriesContext(connection) as second:
        assert service_updates_record() == 61

    assert len(second) == len(first)


def test_a_service_never_orderable_is_new_when_it_first_becomes_orderable(shop_started) -> None:
    waiting = ServiceFactory(is_enabled=False)
    service_updates_record()
    assert not ServiceUpdate.objects.filter(service=waiting).exists()
    Service.objects.filter(pk=waiting.pk).update(is_enabled=True)

    service_updates_record()

    assert logged()[-1][:2] == (waiting.pk, Kind.NEW)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_runs_record_a_change_once() -> None:

    service = ServiceFactory()
    service_updates_record()  # the silent snapshot
    ProviderService.objects.filter(pk=service.provider_service_id).update(rate=Decimal("2"))

    outcomes = race(4, service_updates_record)

    assert sorted(outcomes) == [0, 0, 0, 1]
    assert logged() == [(service.pk, Kind.RATE, Decimal("1.17"), Decimal("2.600000"))]
