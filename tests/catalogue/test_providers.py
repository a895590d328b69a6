"""Provider keys stay secret; every call leaves a masked audit record."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from panelapi.exceptions import PanelRefused, PanelUnreachable
from panelapi.sandbox import Fault
from shop.catalogue.providers import provider_balance_refresh, provider_client, upstream_call_prune
from shop.catalogue.sync import catalogue_sync
from shop.models import Provider, UpstreamCall
from tests.conftest import SANDBOX_KEY
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


def test_api_key_is_encrypted_at_rest(provider) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM shop_provider WHERE id = %s", [provider.pk])
        (stored,) = cursor.fetchone()
    assert SANDBOX_KEY not in stored
    assert Provider.objects.get(pk=provider.pk).api_key == SANDBOX_KEY


def test_every_call_is_audited_without_the_key(provider, sandbox, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    catalogue_sync(provider=provider)
    provider_balance_refresh(provider=provider)
    client = provider_client(provider=provider)
    order = client.add(service=1, link="https://instagram.com/p/abc", quantity=100)
    client.status(order.order_id)
    sandbox.panel.add_fault(Fault(kind="html", action="balance"))
    with pytest.raises(Exception, match="HTML"):
        client.balance()

    calls = list(UpstreamCall.objects.order_by("id"))
    assert [(call.action, call.outcome) for call in calls] == [
        ("services", "ok"),
        ("balance", "ok"),
        ("add", "ok"),
        ("status", "ok"),
        ("balance", "unknown"),
    ]
    add = calls[2]
    assert add.params == {"service": "1", "link": "https://instagram.com/p/abc", "quantity": "100"}
    assert add.http_status == 200 and add.duration_ms >= 0 and order.order_id in add.excerpt
    for call in calls:
        assert SANDBOX_KEY not in f"{call.params} {call.error} {call.excerpt}"
    assert SANDBOX_KEY not in caplog.text


def test_key_echoed_back_by_a_panel_is_masked_in_messages_and_audit(provider) -> None:
    provider.api_key = "wrong-key-0123456789"
    provider.save()
    client = provider_client(provider=provider)
    with pytest.raises(PanelRefused) as caught:
        client.balance()
    assert caught.value.message == "Invalid API key"
    audit = UpstreamCall.objects.get()
    assert "wrong-key-0123456789" not in f"{audit.params}{audit.error}{audit.excerpt}"


def test_unreachable_provider_is_audited(db) -> None:
    provider = Provider.objects.create(name="Down", api_url="http://127.0.0.1:9/api/v2", api_key="down-key-123")
    with pytest.raises(PanelUnreachable):
        provider_client(provider=provider).balance()
    audit = UpstreamCall.objects.get()
    assert (audit.outcome, audit.http_status) == ("unreachable", None)
    assert "down-key-123" not in audit.error


def test_balance_refresh_stores_amount_currency_and_time(provider, sandbox) -> None:
    balance = provider_balance_refresh(provider=provider)
    provider.refresh_from_db()
    assert balance.amount == sandbox.panel.balance == provider.balance
    assert provider.balance_currency == "USD"
    assert provider.balance_checked_at is not None


def test_prune_removes_only_records_older_than_retention(provider, settings) -> None:
    settings.UPSTREAM_CALL_RETENTION_DAYS = 30
    client = provider_client(provider=provider)
    client.balance()
    client.balance()
    old = UpstreamCall.objects.order_by("id").first()
    UpstreamCall.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))

    assert upstream_call_prune() == 1
    assert list(UpstreamCall.objects.values_list("pk", flat=True)) != [old.pk]
    assert UpstreamCall.objects.count() == 1


def test_exchange_rate_must_be_positive(db) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Provider.objects.create(name="Bad", api_url="https://x.example/api/v2", api_key="k", exchange_rate=Decimal("0"))


def test_a_provider_has_as_many_submission_slots_as_its_concurrency_and_a_freed_one_is_taken_again(provider) -> None:
    from contextlib import ExitStack

    from shop.catalogue.providers import provider_slot

    provider.concurrency = 2
    with ExitStack() as stack:
        taken = [stack.enter_context(provider_slot(provider=provider)) for _ in range(3)]
        assert taken == [True, True, False]
    with provider_slot(provider=provider) as again:
        assert again is True


def test_another_providers_slots_are_its_own(provider) -> None:
    from shop.catalogue.providers import provider_slot

    other = ProviderFactory(concurrency=1)
    provider.concurrency = 1
    with provider_slot(provider=provider) as first, provider_slot(provider=other) as second:
        assert first is True and second is True
        with provider_slot(provider=provider) as third:
            assert third is False


def test_a_slot_is_freed_when_the_call_inside_it_fails(provider) -> None:
    from shop.catalogue.providers import provider_slot

    provider.concurrency = 1
    with pytest.raises(RuntimeError), provider_slot(provider=provider):
        raise RuntimeError("the call failed")
    with provider_slot(provider=provider) as slot:
        assert slot is True


def test_a_slot_held_past_its_time_is_not_freed_by_its_late_holder(provider, settings) -> None:
    """A worker that outlived its slot (it expired and another took it) must not free the other's slot on its way out."""
    from django.core.cache import cache

    from shop.catalogue.providers import provider_slot

    provider.concurrency = 1
    with provider_slot(provider=provider) as slot:
        assert slot is True
        cache.set(f"provider-slot:{provider.pk}:0", "someone else's")  # expired and taken by another meanwhile
    assert cache.get(f"provider-slot:{provider.pk}:0") == "someone else's"
