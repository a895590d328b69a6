"""Celery tasks of the catalogue and providers: thin wrappers that load rows by id and call a service.

Task arguments are ids only: a provider's key never travels through the broker.
Each task keeps the name it had before the domains were split (``shop.tasks.<function>``):
periodic-task rows and messages already in the broker during an upgrade name tasks by it.
"""

from __future__ import annotations

import logging

from celery import shared_task

from panelapi.exceptions import PanelError
from shop.catalogue.models import Provider
from shop.catalogue.providers import provider_balance_refresh, upstream_call_prune
from shop.catalogue.sync import CatalogueSyncError, catalogue_sync
from shop.catalogue.updates import service_updates_record

logger = logging.getLogger(__name__)


@shared_task(name="shop.tasks.catalogue_sync_all")
def catalogue_sync_all() -> None:
    """Periodic: queue one sync per active provider, so one slow panel holds up no other."""
    for provider_id in Provider.objects.filter(is_active=True).values_list("pk", flat=True):
        catalogue_sync_provider.delay(provider_id)


@shared_task(name="shop.tasks.catalogue_sync_provider")
def catalogue_sync_provider(provider_id: int) -> str:
    provider = Provider.objects.get(pk=provider_id)
    try:
        summary = catalogue_sync(provider=provider).summary()
    except CatalogueSyncError as exc:
        # Recorded on the provider for admins; the next periodic run tries again.
        logger.warning("catalogue sync of provider %s failed: %s", provider_id, exc)
        return str(exc)
    # What the sync changed in the prices and services customers see goes on the updates page at once.
    service_updates_record()
    return summary


@shared_task(name="shop.tasks.service_updates_record_task")
def service_updates_record_task() -> int:
    """Periodic: admins' changes that move retail prices or services (markups, enabling) reach the updates page."""
    return service_updates_record()


@shared_task(name="shop.tasks.provider_balance_refresh_all")
def provider_balance_refresh_all() -> None:
    for provider in Provider.objects.filter(is_active=True):
        try:
            provider_balance_refresh(provider=provider)
        except PanelError as exc:
            logger.warning("balance of provider %s could not be read: %s", provider.pk, exc.message)


@shared_task(name="shop.tasks.upstream_call_prune_old")
def upstream_call_prune_old() -> int:
    return upstream_call_prune()
