"""Celery tasks: thin wrappers that load rows by id and call a service.

Task arguments are ids only: a provider's key never travels through the broker.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache

from panelapi.exceptions import PanelError
from shop.models import Provider
from shop.services.catalogue import CatalogueSyncError, catalogue_sync
from shop.services.order_upstream import SubmitOutcome, order_submit, orders_refresh, orders_sweep
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


# Back-off of a submission that never reached the panel: 15 s, 30 s, ... up to 10 min.
# Far below the broker's visibility timeout, so a countdown never causes a redelivery.
SUBMIT_MAX_RETRIES = 8
SUBMIT_MAX_COUNTDOWN = 600


@shared_task(bind=True, max_retries=SUBMIT_MAX_RETRIES)
def order_submit_task(self, order_id: int) -> str:
    outcome = order_submit(order_id=order_id)
    if outcome is SubmitOutcome.RETRY and self.request.retries < SUBMIT_MAX_RETRIES:
        raise self.retry(countdown=min(SUBMIT_MAX_COUNTDOWN, 15 * 2**self.request.retries))
    # After the last retry the order stays awaiting; the sweeper queues it again.
    return outcome.value


@shared_task
def orders_refresh_all() -> None:
    """Periodic: one refresh per active provider, so one slow panel holds up no other."""
    for provider_id in Provider.objects.filter(is_active=True).values_list("pk", flat=True):
        orders_refresh_provider.delay(provider_id)


@shared_task
def orders_refresh_provider(provider_id: int) -> str:
    # One refresh per provider at a time; a second would only repeat the calls
    # (it could not do harm: every transition is compare-and-set).
    lock = f"orders-refresh-{provider_id}"
    if not cache.add(lock, 1, timeout=600):
        return "already running"
    try:
        result = orders_refresh(provider=Provider.objects.get(pk=provider_id))
    finally:
        cache.delete(lock)
    return f"{result.orders} orders, {result.calls} calls, {result.finished} finished"


@shared_task
def orders_sweep_task() -> str:
    result = orders_sweep()
    for order_id in result.requeued:
        order_submit_task.delay(order_id)
    return f"{result.flagged} flagged, {len(result.requeued)} requeued"
