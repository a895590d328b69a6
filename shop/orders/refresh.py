"""Refreshing active orders from their provider: due orders in batches of 100 ids, answers stored in bulk."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from panelapi.types import ItemError
from panelapi.types import OrderStatus as UpstreamOrderStatus
from shop.catalogue.models import Provider
from shop.catalogue.providers import provider_client
from shop.orders import readings
from shop.orders.flow import upstream_target
from shop.orders.models import Order, OrderStatus


@dataclass
class RefreshResult:
    orders: int = 0
    calls: int = 0
    updated: int = 0
    finished: int = 0
    refunded: int = 0
    errors: int = 0
    failed_batches: list[str] = field(default_factory=list)


ROW_FIELDS = readings.POLLED_FIELDS


def orders_refresh(*, provider: Provider, limit: int | None = None) -> RefreshResult:
    """Ask the provider about its due active orders, 100 per call, and store the answers in bulk.

    Finished orders leave the active set and are never asked about again;
    Partial and Canceled ones are refunded in the same transaction as their
    status. Each order's next check backs off as it ages.
    """
    now = timezone.now()
    due = Order.objects.filter(provider=provider, status__in=OrderStatus.ACTIVE, next_check_at__lte=now).order_by("next_check_at")
    polled = {upstream_id: readings.PolledOrder(*row) for upstream_id, *row in due.values_list("upstream_order_id", *ROW_FIELDS)[:limit]}
    result = RefreshResult(orders=len(polled))
    if not polled:
        return result
    client = provider_client(provider=provider)
    try:
        for batch in client.iter_status_batches(polled):
            result.calls += 1
            if batch.error is not None:
                result.failed_batches.append(batch.error.message)
                result.errors += len(batch.order_ids)
                failures = [(polled[upstream_id], batch.error.message) for upstream_id in batch.order_ids]
                readings.orders_postpone(failures=failures, now=now)
                continue
            _apply_batch(polled, batch.order_ids, batch.results, now, result)
    finally:
        client.close()
    return result


def _apply_batch(
    polled: dict[str, readings.PolledOrder],
    asked: tuple[str, ...],
    results: dict[str, UpstreamOrderStatus | ItemError],
    now: datetime,
    result: RefreshResult,
) -> None:
    running: list[readings.Reading] = []
    finals: list[readings.Reading] = []
    unanswered: list[tuple[readings.PolledOrder, str]] = []
    for upstream_id in asked:
        order = polled[upstream_id]
        reply = results.get(upstream_id)
        if not isinstance(reply, UpstreamOrderStatus):
            unanswered.append((order, f"Provider: {reply.message}" if reply else "Provider: no answer for this order"))
            continue
        # An unknown word maps to no status: the order keeps its own and stays active.
        target = upstream_target(reply.status, subscription=order.subscription)
        note = "" if target else f"Provider: unknown status '{reply.raw_status}'; the order stays as it was and is checked again later."
        figures = (reply.start_count, reply.remains, reply.charge)
        reading = readings.Reading(order, target or order.status, reply.raw_status, *figures, note, posts=reply.posts)
        if target in OrderStatus.UPSTREAM_FINAL:
            finals.append(reading)
        else:
            running.append(reading)
    if running:
        result.updated += readings.orders_store_running(readings=running, now=now)
    if finals:
        finished = set(readings.orders_finish(readings=finals, now=now))
        result.finished += len(finished)
        result.refunded += sum(1 for r in finals if r.order.pk in finished and readings.refund_due(r) > 0)
    if unanswered:
        result.errors += len(unanswered)
        readings.orders_postpone(failures=unanswered, now=now)
