"""Celery tasks: thin wrappers that load rows by id and call a service.

Task arguments are ids only: a provider's key never travels through the broker.
"""

from __future__ import annotations

import logging

from celery import shared_task

from panelapi.exceptions import PanelError
from shop.models import Provider
from shop.services.catalogue import CatalogueSyncError, catalogue_sync
from shop.services.providers import provider_balance_refresh, upstream_call_prune

logger = logging.getLogger(__name__)


@shared_task
def catalogue_sync_all() -> None:
    """Periodic: queue one sync per active provider, so one slow panel holds up no other."""
    for provider_id in Provider.objects.filter(is_active=True).values_list("pk", flat=True):
        catalogue_sync_provider.delay(provider_id)


@shared_task
def catalogue_sync_provider(provider_id: int) -> str:
    provider = Provider.objects.get(pk=provider_id)
    try:
        return catalogue_sync(provider=provider).summary()
    except CatalogueSyncError as exc:
        # Recorded on the provider for admins; the next periodic run tries again.
        logger.warning("catalogue sync of provider %s failed: %s", provider_id, exc)
        return str(exc)


@shared_task
def provider_balance_refresh_all() -> None:
    for provider in Provider.objects.filter(is_active=True):
        try:
            provider_balance_refresh(provider=provider)
        except PanelError as exc:
            logger.warning("balance of provider %s could not be read: %s", provider.pk, exc.message)


@shared_task
def upstream_call_prune_old() -> int:
    return upstream_call_prune()
