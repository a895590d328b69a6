"""Talking to providers: the client wired to the audit trail, balance reads, audit pruning."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from uuid import uuid4

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from panelapi.client import CallRecord, PanelClient
from panelapi.types import Balance
from shop.catalogue.models import Provider, UpstreamCall
from shop.notifications.kinds import STAFF_PROVIDER_LOW
from shop.notifications.queue import notify_later


@contextmanager
def provider_slot(*, provider: Provider) -> Iterator[bool]:
    """One of the provider's ``concurrency`` slots for a submission: True inside if taken, False if all are in use.

    The slots are cache keys (Redis in production, shared by every worker process and machine). A slot
    held by a worker that died frees itself once the longest call could have ended.
    """
    hold = int(settings.PANEL_CONNECT_TIMEOUT + settings.PANEL_READ_TIMEOUT) + 60
    token = uuid4().hex
    for index in range(provider.concurrency):
        key = f"provider-slot:{provider.pk}:{index}"
        if cache.add(key, token, timeout=hold):
            break
    else:
        yield False
        return
    try:
        yield True
    finally:
        if cache.get(key) == token:  # not a slot that expired and was taken by another since
            cache.delete(key)


def provider_client(*, provider: Provider) -> PanelClient:
    """A panel client for ``provider`` whose every call leaves an ``UpstreamCall`` row."""
    provider_id = provider.pk

    def audit(record: CallRecord) -> None:
        UpstreamCall.objects.create(
            provider_id=provider_id,
            action=record.action,
            params=record.params,
            http_status=record.http_status,
            duration_ms=record.duration_ms,
            outcome=record.outcome,
            error=record.error,
            excerpt=record.excerpt,
        )

    return PanelClient(
        provider.api_url,
        provider.api_key,
        connect_timeout=settings.PANEL_CONNECT_TIMEOUT,
        read_timeout=settings.PANEL_READ_TIMEOUT,
        max_response_bytes=settings.PANEL_MAX_RESPONSE_BYTES,
        on_call=audit,
    )


def provider_accepts_orders(*, provider: Provider) -> bool:
    """False while the provider's last known balance is below the admins' threshold."""
    if provider.balance_threshold is None or provider.balance is None:
        return True
    return provider.balance >= provider.balance_threshold


def provider_balance_refresh(*, provider: Provider) -> Balance:
    """Read the provider's balance and store it on the row. Raises ``PanelError`` on failure."""
    client = provider_client(provider=provider)
    try:
        balance = client.balance()
    finally:
        client.close()
    Provider.objects.filter(pk=provider.pk).update(
        balance=balance.amount,
        balance_currency=balance.currency or provider.currency,
        balance_checked_at=timezone.now(),
    )
    was_accepting = provider_accepts_orders(provider=provider)
    provider.refresh_from_db(fields=["balance", "balance_currency", "balance_checked_at"])
    if was_accepting and not provider_accepts_orders(provider=provider):  # crossed below the threshold: once per crossing
        notify_later(STAFF_PROVIDER_LOW, provider.pk)
    return balance


def upstream_call_prune(*, older_than_days: int | None = None) -> int:
    """Delete audit records older than the retention period; returns how many went."""
    days = settings.UPSTREAM_CALL_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = UpstreamCall.objects.filter(created_at__lt=cutoff).delete()
    return deleted
