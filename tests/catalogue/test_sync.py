"""Catalogue sync against the sandbox panel over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from panelapi.sandbox import Fault, build_catalogue
from shop.catalogue.sync import CatalogueSyncError, catalogue_sync
from shop.models import Provider, ProviderService, Service, ServiceChange, UpstreamCall

pytestmark = pytest.mark.django_db


def rows(provider: Provider) -> dict[str, ProviderService]:
    return {row.upstream_id: row for row in ProviderService.objects.filter(provider=provider)}


def test_first_sync_creates_every_service_with_its_fields(provider, sandbox) -> None:
    result = catalogue_sync(provider=provider)

    expected = sandbox.panel.services
    assert result.created == result.received == len(expected)
    synced = rows(provider)
    for service in expected:
        row = synced[str(service.service)]
        assert (row.name, row.type, row.category) == (service.name, service.type, service.category)
        assert (row.rate, row.min_quantity, row.max_quantity) == (service.rate, service.min, service.max)
        assert (row.refill, row.cancel, row.dripfeed, row.description) == (service.refill, service.cancel, service.dripfeed, service.desc)
        assert row.is_available
    provider.refresh_from_db()
    assert provider.last_sync_ok is True and "new" in provider.last_sync_message


def test_unchanged_resync_writes_nothing(provider) -> None:
    catalogue_sync(provider=provider)
    before = {row.pk: row.changed_at for row in ProviderService.objects.all()}

    result = catalogue_sync(provider=provider)

    assert (result.created, result.updated, result.vanished, result.unchanged) == (0, 0, 0, len(before))
    assert {row.pk: row.changed_at for row in ProviderService.objects.all()} == before
    assert not ServiceChange.objects.exists()


def test_changed_rate_min_max_are_updated_and_logged(provider, sandbox) -> None:
    catalogue_sync(provider=provider)
    first = sandbox.panel.services[0]
    sandbox.panel.replace_service(first.service, rate=first.rate + Decimal("0.15"), min=first.min + 5, max=first.max * 2)

    result = catalogue_sync(provider=provider)

    assert (result.updated, result.created, result.vanished) == (1, 0, 0)
    row = rows(provider)[str(first.service)]
    assert (row.rate, row.min_quantity, row.max_quantity) == (first.rate + Decimal("0.15"), first.min + 5, first.max * 2)
    logged = {change.field: (change.old_value, change.new_value) for change in row.changes.all()}
    assert logged == {
        "rate": (str(first.rate.quantize(Decimal("0.00000001"))), str((first.rate + Decimal("0.15")).quantize(Decimal("0.00000001")))),
        "min_quantity": (str(first.min), str(first.min + 5)),
        "max_quantity": (str(first.max), str(first.max * 2)),
    }


def test_name_change_updates_without_a_log_entry(provider, sandbox) -> None:
    catalogue_sync(provider=provider)
    first = sandbox.panel.services[0]
    sandbox.panel.replace_service(first.service, name="Renamed service")

    assert catalogue_sync(provider=provider).updated == 1
    assert rows(provider)[str(first.service)].name == "Renamed service"
    assert not ServiceChange.objects.exists()


def test_vanished_service_is_marked_unavailable_not_deleted_and_can_return(provider, sandbox) -> None:
    catalogue_sync(provider=provider)
    gone = sandbox.panel.services[1]
    sandbox.panel.remove_service(gone.service)

    assert catalogue_sync(provider=provider).vanished == 1
    row = rows(provider)[str(gone.service)]
    assert not row.is_available and row.vanished_at is not None
    assert catalogue_sync(provider=provider).vanished == 0  # already gone: not counted again

    sandbox.panel.replace_service(gone)
    assert catalogue_sync(provider=provider).returned == 1
    row.refresh_from_db()
    assert row.is_available and row.vanished_at is None
    assert [(c.old_value, c.new_value) for c in row.changes.filter(field="is_available").order_by("id")] == [
        ("True", "False"),
        ("False", "True"),
    ]


def test_new_service_upstream_is_added(provider, sandbox) -> None:
    catalogue_sync(provider=provider)
    extra = build_catalogue(size=len(sandbox.panel.services) + 1, seed=3)[-1]
    sandbox.panel.replace_service(extra)

    result = catalogue_sync(provider=provider)

    assert result.created == 1
    assert str(extra.service) in rows(provider)


@pytest.mark.parametrize("kind", ["html", "error500", "malformed", "drop"])
def test_garbage_or_no_answer_changes_nothing_and_says_why(provider, sandbox, kind: str) -> None:
    catalogue_sync(provider=provider)
    before = list(ProviderService.objects.order_by("pk").values())
    sandbox.panel.add_fault(Fault(kind=kind, action="services"))

    with pytest.raises(CatalogueSyncError, match="Nothing was changed"):
        catalogue_sync(provider=provider)

    assert list(ProviderService.objects.order_by("pk").values()) == before
    provider.refresh_from_db()
    assert provider.last_sync_ok is False
    assert "Nothing was changed" in provider.last_sync_message
    call = UpstreamCall.objects.filter(action="services").first()
    assert call.outcome == "unknown" and call.error


def test_empty_list_does_not_mark_everything_gone(provider, sandbox) -> None:
    catalogue_sync(provider=provider)
    sandbox.panel.set_catalogue([])

    with pytest.raises(CatalogueSyncError, match="no readable services"):
        catalogue_sync(provider=provider)

    assert not ProviderService.objects.filter(is_available=False).exists()


def test_refusal_is_recorded_with_the_panels_message(provider) -> None:
    Provider.objects.filter(pk=provider.pk).update()  # keep the row, change the key below
    provider.api_key = "wrong-key"
    provider.save()

    with pytest.raises(CatalogueSyncError, match="Invalid API key"):
        catalogue_sync(provider=provider)
    assert UpstreamCall.objects.get().outcome == "refused"


def _queries_for(provider, sandbox, size: int) -> tuple[int, int]:
    """Queries of a first sync and of an unchanged re-sync of a ``size``-service catalogue."""
    ProviderService.objects.all().delete()
    sandbox.panel.set_catalogue(build_catalogue(size=size, seed=1))
    with CaptureQueriesContext(connection) as first:
        catalogue_sync(provider=provider)
    with CaptureQueriesContext(connection) as again:
        catalogue_sync(provider=provider)
    return len(first), len(again)


def test_query_count_grows_by_batches_not_by_services(provider, sandbox) -> None:
    small_first, small_again = _queries_for(provider, sandbox, 30)
    large_first, large_again = _queries_for(provider, sandbox, 900)
    assert large_again == small_again <= 6
    # SQLite caps the variables of one statement, so its insert batches are
    # smaller; still far fewer queries than services.
    assert large_first - small_first <= 900 // 50


@pytest.mark.postgres
def test_query_count_is_constant_within_a_batch_on_postgres(provider, sandbox) -> None:
    assert _queries_for(provider, sandbox, 30) == _queries_for(provider, sandbox, 1000)


# Retail descriptions follow the provider's until an admin writes their own --------------------------------------------


def test_a_changed_provider_description_is_copied_to_retail_services_nobody_edited(catalogue, provider, sandbox) -> None:
    first, second = sandbox.panel.services[0], sandbox.panel.services[1]
    following, edited = catalogue[str(first.service)], catalogue[str(second.service)]
    Service.objects.filter(pk=edited.pk).update(description="Our own words.", description_edited=True)
    sandbox.panel.replace_service(first.service, desc="Start 0-2 h, 20K/day.")
    sandbox.panel.replace_service(second.service, desc="The provider's new text.")

    catalogue_sync(provider=provider)

    following.refresh_from_db()
    edited.refresh_from_db()
    assert (following.description, following.description_edited) == ("Start 0-2 h, 20K/day.", False)
    assert (edited.description, edited.description_edited) == ("Our own words.", True)


def test_description_changes_of_many_services_are_copied_in_one_statement(catalogue, provider, sandbox) -> None:
    for service in sandbox.panel.services[:5]:
        sandbox.panel.replace_service(service.service, desc=f"New text {service.service}")

    with CaptureQueriesContext(connection) as queries:
        catalogue_sync(provider=provider)

    copies = [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "shop_service"')]
    assert len(copies) == 1
    assert {s.description for s in Service.objects.filter(pk__in=[catalogue[str(s.service)].pk for s in sandbox.panel.services[:5]])} == {
        f"New text {s.service}" for s in sandbox.panel.services[:5]
    }


def test_a_resync_without_description_changes_touches_no_retail_service(catalogue, provider, sandbox) -> None:
    first = sandbox.panel.services[0]
    sandbox.panel.replace_service(first.service, rate=first.rate + Decimal("1"))

    with CaptureQueriesContext(connection) as queries:
        catalogue_sync(provider=provider)

    assert not [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "shop_service"')]
