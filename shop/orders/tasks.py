"""Celery tasks of orders: thin wrappers that load rows by id and call a service.

Task arguments are ids only. Each task keeps the name it had before the domains
were split (``shop.tasks.<function>``): periodic-task rows and messages already
in the broker during an upgrade name tasks by it.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from shop.catalogue.models import Provider
from shop.orders.flow import RETRY_MAX
from shop.orders.refresh import orders_refresh
from shop.orders.requests_many import orders_cancel_send, refills_give_up, refills_send, requests_sweep
from shop.orders.submission import SubmitOutcome, order_retry_countdown, order_submit, order_wait_turn, orders_sweep

logger = logging.getLogger(__name__)


# Back-off of a submission that never reached the panel: 15 s, 30 s, ... up to 10 min.
# Far below the broker's visibility timeout, so a countdown never causes a redelivery.
SUBMIT_MAX_RETRIES = 8
SUBMIT_MAX_COUNTDOWN = RETRY_MAX


@shared_task(bind=True, max_retries=SUBMIT_MAX_RETRIES, name="shop.tasks.order_submit_task")
def order_submit_task(self, order_id: int) -> str:
    outcome = order_submit(order_id=order_id)
    if outcome is SubmitOutcome.BUSY:
        # Its provider's slots are all taken (a slow panel): back on the queue without holding this worker,
        # as a new message, so the wait does not use up the retries meant for an unreachable panel.
        if order_wait_turn(order_id=order_id, seconds=settings.PROVIDER_BUSY_RETRY):
            order_submit_task.apply_async((order_id,), countdown=settings.PROVIDER_BUSY_RETRY)
        return outcome.value
    if outcome is SubmitOutcome.RETRY and self.request.retries < SUBMIT_MAX_RETRIES:
        # The order's own next attempt (the back-off order_release set), which the sweeper respects too.
        raise self.retry(countdown=order_retry_countdown(order_id=order_id))
    # After the last retry the order stays awaiting; the sweeper queues it again.
    return outcome.value


@shared_task(name="shop.tasks.orders_refresh_all")
def orders_refresh_all() -> None:
    """Periodic: one refresh per active provider, so one slow panel holds up no other; its refills and cancels too."""
    for provider_id in Provider.objects.filter(is_active=True).values_list("pk", flat=True):
        orders_refresh_provider.delay(provider_id)
        # At most once per REFILL_POLL_INTERVAL per provider (the mark expires, it is never deleted).
        if cache.add(f"requests-sweep-{provider_id}", 1, timeout=settings.REFILL_POLL_INTERVAL):
            requests_sweep_provider.delay(provider_id)
    # Whatever the provider (switched off ones too): refills no one will ever answer about are closed.
    if cache.add("refills-give-up", 1, timeout=settings.REFILL_POLL_INTERVAL):
        refills_give_up()


@shared_task(name="shop.tasks.orders_refresh_provider")
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


@shared_task(name="shop.tasks.orders_sweep_task")
def orders_sweep_task() -> str:
    result = orders_sweep()
    for order_id in result.requeued:
        order_submit_task.delay(order_id)
    return f"{result.flagged} flagged, {len(result.requeued)} requeued"


@shared_task(name="shop.tasks.refills_send_task")
def refills_send_task(refill_ids: list[int]) -> str:
    """Refills a customer asked for, of one order or many (ids only), sent per provider."""
    return f"{refills_send(refill_ids=refill_ids)} sent"


@shared_task(name="shop.tasks.orders_cancel_send_task")
def orders_cancel_send_task(order_ids: list[int]) -> str:
    """Cancellations a customer asked for, of one order or many (ids only), sent per provider."""
    return f"{orders_cancel_send(order_ids=order_ids)} accepted"


@shared_task(name="shop.tasks.requests_sweep_provider")
def requests_sweep_provider(provider_id: int) -> str:
    """A provider's refills and cancels left unsent are sent; its refills under way are asked about."""
    result = requests_sweep(provider=Provider.objects.get(pk=provider_id))
    sent = f"{result.refills_sent} refills and {result.cancels_sent} cancels sent"
    return f"{sent}, {result.refills_asked} refills asked in {result.calls} calls"
