"""Catalogue sync: a provider's ``services`` list into ``ProviderService`` rows, in bulk."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from panelapi.exceptions import PanelError
from panelapi.types import ServiceInfo, SkippedItem
from shop.catalogue.models import Provider, ProviderService, Service, ServiceChange
from shop.catalogue.providers import provider_client
from shop.catalogue.retail import services_description_copy

CREATE_BATCH = 1000
UPDATE_BATCH = 500
RATE_PLACES = Decimal("0.00000001")
MAX_RATE = Decimal("1e12")
MAX_QUANTITY = 2**63 - 1

# The synced columns, in the order _row() and the values_list() below use.
SYNCED_FIELDS = (
    "name",
    "type",
    "category",
    "rate",
    "min_quantity",
    "max_quantity",
    "refill",
    "cancel",
    "dripfeed",
    "description",
)
DESCRIPTION = SYNCED_FIELDS.index("description")
LOGGED_FIELDS = {"rate": ServiceChange.Field.RATE, "min_quantity": ServiceChange.Field.MIN, "max_quantity": ServiceChange.Field.MAX}

Progress = Callable[[str], None]


class CatalogueSyncError(Exception):
    """The sync could not run; nothing was changed. The message is fit for an admin."""


@dataclass
class SyncResult:
    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    vanished: int = 0
    returned: int = 0
    changes_logged: int = 0
    skipped: list[SkippedItem] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        text = (
            f"{self.received} services received: {self.created} new, {self.updated} changed, "
            f"{self.unchanged} unchanged, {self.vanished} gone, {self.returned} back; "
            f"{self.changes_logged} changes logged in {self.seconds:.2f} s"
        )
        if self.skipped:
            first = self.skipped[0]
            text += f". {len(self.skipped)} unreadable entries skipped (first: #{first.position}: {first.reason})"
        return text


def catalogue_sync(*, provider: Provider, progress: Progress | None = None) -> SyncResult:
    """Fetch the provider's services and apply them; raises ``CatalogueSyncError`` if nothing could be applied.

    The HTTP call happens outside the transaction so its audit record survives a
    failed write. Services that vanished upstream are marked unavailable, never
    deleted; changes of rate, min, max and availability go to ``ServiceChange``.
    """
    report = progress or (lambda message: None)
    started = time.monotonic()
    report(f"Fetching the catalogue of {provider.name}")
    client = provider_client(provider=provider)
    try:
        listing = client.services()
    except PanelError as exc:
        message = f"Sync failed: {exc.message}. Nothing was changed."
        _record_outcome(provider, ok=False, message=message)
        raise CatalogueSyncError(message) from exc
    finally:
        client.close()

    result = SyncResult(skipped=list(listing.skipped))
    entries = _checked(listing.services, result.skipped)
    result.received = len(entries)
    report(f"Received {len(entries)} services ({len(result.skipped)} unreadable) in {time.monotonic() - started:.2f} s")
    if not entries:
        message = "Sync failed: the panel listed no readable services. Nothing was changed."
        _record_outcome(provider, ok=False, message=message)
        raise CatalogueSyncError(message)

    with transaction.atomic():
        # One sync per provider at a time: a second one waits here.
        Provider.objects.select_for_update().filter(pk=provider.pk).first()
        _apply(provider, entries, result, report)
        result.seconds = time.monotonic() - started
        _record_outcome(provider, ok=True, message=result.summary())
    report(result.summary())
    return result


def _checked(services: tuple[ServiceInfo, ...], skipped: list[SkippedItem]) -> list[ServiceInfo]:
    """Drop entries the database could not hold, noting why."""
    entries = []
    for position, info in enumerate(services):
        if len(info.service_id) > 64 or info.rate >= MAX_RATE or info.max > MAX_QUANTITY:
            skipped.append(SkippedItem(position, f"service {info.service_id[:64]}: value out of range", info.service_id))
            continue
        entries.append(info)
    return entries


def _row(info: ServiceInfo) -> tuple[object, ...]:
    return (
        info.name,
        info.type,
        info.category,
        info.rate.quantize(RATE_PLACES, rounding=ROUND_HALF_UP),
        info.min,
        info.max,
        info.refill,
        info.cancel,
        info.dripfeed,
        info.description,
    )


def _apply(provider: Provider, entries: list[ServiceInfo], result: SyncResult, report: Progress) -> None:
    now = timezone.now()
    existing = {
        upstream_id: (pk, available, tuple(values))
        for pk, upstream_id, available, *values in ProviderService.objects.filter(provider=provider).values_list(
            "pk", "upstream_id", "is_available", *SYNCED_FIELDS
        )
    }
    new: list[ProviderService] = []
    changed: list[ProviderService] = []
    changes: list[ServiceChange] = []
    described = False  # some provider's description changed: the retail services that follow it copy it
    for info in entries:
        row = _row(info)
        current = existing.pop(info.service_id, None)
        if current is None:
            new.append(ProviderService(provider=provider, upstream_id=info.service_id, **dict(zip(SYNCED_FIELDS, row, strict=True))))
            continue
        pk, available, old = current
        if old == row and available:
            result.unchanged += 1
            continue
        for name, field_choice in LOGGED_FIELDS.items():
            index = SYNCED_FIELDS.index(name)
            if old[index] != row[index]:
                changes.append(
                    ServiceChange(service_id=pk, field=field_choice, old_value=str(old[index]), new_value=str(row[index]), changed_at=now)
                )
        described = described or old[DESCRIPTION] != row[DESCRIPTION]
        if not available:
            result.returned += 1
            changes.append(
                ServiceChange(service_id=pk, field=ServiceChange.Field.AVAILABLE, old_value="False", new_value="True", changed_at=now)
            )
        else:
            result.updated += 1
        fields = dict(zip(SYNCED_FIELDS, row, strict=True))
        changed.append(ProviderService(pk=pk, is_available=True, vanished_at=None, changed_at=now, **fields))

    for start in range(0, len(new), CREATE_BATCH):
        ProviderService.objects.bulk_create(new[start : start + CREATE_BATCH])
        report(f"Created {min(start + CREATE_BATCH, len(new))} of {len(new)} new services")
    result.created = len(new)
    if changed:
        ProviderService.objects.bulk_update(changed, [*SYNCED_FIELDS, "is_available", "vanished_at", "changed_at"], batch_size=UPDATE_BATCH)
        report(f"Updated {len(changed)} services")
    if described:
        copied = services_description_copy(services=Service.objects.filter(provider_service__provider=provider))
        report(f"Copied the provider's description to {copied} retail services")

    # A service the panel listed but sent unreadable is still listed: it keeps its last good row.
    # An unreadable entry without even an id could be any service, so then none is marked gone.
    for item in result.skipped:
        existing.pop(item.service_id, None)
    if any(not item.service_id for item in result.skipped):
        existing.clear()
    gone = [pk for pk, available, _ in existing.values() if available]
    for start in range(0, len(gone), UPDATE_BATCH):
        ProviderService.objects.filter(pk__in=gone[start : start + UPDATE_BATCH]).update(
            is_available=False, vanished_at=now, changed_at=now
        )
    changes.extend(
        ServiceChange(service_id=pk, field=ServiceChange.Field.AVAILABLE, old_value="True", new_value="False", changed_at=now)
        for pk in gone
    )
    result.vanished = len(gone)
    if gone:
        report(f"Marked {len(gone)} services as gone")
    ServiceChange.objects.bulk_create(changes, batch_size=CREATE_BATCH)
    result.changes_logged = len(changes)


def _record_outcome(provider: Provider, *, ok: bool, message: str) -> None:
    Provider.objects.filter(pk=provider.pk).update(last_synced_at=timezone.now(), last_sync_ok=ok, last_sync_message=message[:2000])
