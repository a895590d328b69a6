"""Orders and the provider: submitting them exactly once, refreshing their status in batches, sweeping."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from panelapi.exceptions import PanelMisconfigured, PanelOutcomeUnknown, PanelRefused, PanelUnreachable
from panelapi.types import ItemError
from panelapi.types import OrderStatus as UpstreamOrderStatus
from shop.models import ACTIVE_STATUSES, Order, OrderStatus, Provider
from shop.services import order_flow
from shop.services.order_types import type_spec
from shop.services.providers import provider_accepts_orders, provider_client

logger = logging.getLogger(__name__)

# A refusal that says the provider's balance is short: nothing was placed, so the
# order waits for the balance instead of failing.
FUNDS_REFUSAL = re.compile(r"not.?enough.?funds|insufficient|balance", re.IGNORECASE)


class SubmitOutcome(StrEnum):
    PLACED = "placed"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"
    RETRY = "retry"  # never reached the panel: try again later
    HELD = "held"  # the provider cannot take orders now (low balance, misconfigured)
    SKIPPED = "skipped"  # not awaiting submission (already claimed, done, or gone)


def order_upstream_params(*, order: Order) -> dict[str, str | int | None]:
    spec = type_spec(order.provider_service.type)
    params: dict[str, str | int | None] = {"link": order.link or None}
    if spec is not None and spec.needs_quantity and not spec.quantity_from:
        params["quantity"] = order.quantity
    if order.runs:
        params["runs"], params["interval"] = order.runs, order.interval
    params.update(order.extra)
    return params


def order_submit(*, order_id: int) -> SubmitOutcome:
    """Send an awaiting order to its provider, at most once.

    The claim (awaiting -> submitting) is committed before the HTTP call: a
    duplicated or redelivered task finds the order claimed and does nothing.
    """
    order = Order.objects.select_related("provider", "provider_service").filter(pk=order_id).first()
    if order is None or order.status != OrderStatus.AWAITING:
        return SubmitOutcome.SKIPPED
    if not provider_accepts_orders(provider=order.provider):
        return SubmitOutcome.HELD
    if not order_flow.order_claim(order_id=order_id):
        return SubmitOutcome.SKIPPED
    client = provider_client(provider=order.provider)
    try:
        result = client.add(service=order.provider_service.upstream_id, **order_upstream_params(order=order))
    except PanelRefused as exc:
        if FUNDS_REFUSAL.search(exc.message):
            order_flow.order_release(order_id=order_id, error="Waiting for the provider's balance.")
            return SubmitOutcome.HELD
        order_flow.order_refused(order_id=order_id, message=f"Refused by the provider: {exc.message}")
        return SubmitOutcome.FAILED
    except PanelMisconfigured as exc:
        order_flow.order_release(order_id=order_id, error=exc.message)
        return SubmitOutcome.HELD
    except PanelUnreachable as exc:
        order_flow.order_release(order_id=order_id, error=exc.message)
        return SubmitOutcome.RETRY
    except PanelOutcomeUnknown as exc:
        order_flow.order_unknown(order_id=order_id, message=exc.message)
        return SubmitOutcome.NEEDS_ATTENTION
    finally:
        client.close()
    try:
        with transaction.atomic():  # a savepoint: the clash below must not break a caller's transaction
            placed = order_flow.order_placed(order_id=order_id, upstream_order_id=result.order_id)
    except IntegrityError:
        # The panel answered with an id another order already has: what it placed, if anything, is unknown.
        taken = Order.objects.filter(provider_id=order.provider_id, upstream_order_id=result.order_id).values_list("pk", flat=True).first()
        message = f"The provider answered with order id {result.order_id}, which order #{taken} already has; check it at the provider."
        order_flow.order_unknown(order_id=order_id, message=message)
        return SubmitOutcome.NEEDS_ATTENTION
    if not placed:
        logger.error("order %s was placed upstream as %s but was no longer submitting", order_id, result.order_id)
        return SubmitOutcome.NEEDS_ATTENTION
    return SubmitOutcome.PLACED


@dataclass
class RefreshResult:
    orders: int = 0
    calls: int = 0
    updated: int = 0
    finished: int = 0
    refunded: int = 0
    errors: int = 0
    failed_batches: list[str] = field(default_factory=list)


ROW_FIELDS = ("pk", "user_id", "status", "charge", "total_quantity", "created_at", "checks")


def orders_refresh(*, provider: Provider, limit: int | None = None) -> RefreshResult:
    """Ask the provider about its due active orders, 100 per call, and store the answers in bulk.

    Finished orders leave the active set and are never asked about again;
    Partial and Canceled ones are refunded in the same transaction as their
    status. Each order's next check backs off as it ages.
    """
    now = timezone.now()
    due = Order.objects.filter(provider=provider, status__in=ACTIVE_STATUSES, next_check_at__lte=now).order_by("next_check_at")
    polled = {upstream_id: order_flow.PolledOrder(*row) for upstream_id, *row in due.values_list("upstream_order_id", *ROW_FIELDS)[:limit]}
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
                order_flow.orders_postpone(failures=failures, now=now)
                continue
            _apply_batch(polled, batch.order_ids, batch.results, now, result)
    finally:
        client.close()
    return result


def _apply_batch(
    polled: dict[str, order_flow.PolledOrder],
    asked: tuple[str, ...],
    results: dict[str, UpstreamOrderStatus | ItemError],
    now: datetime,
    result: RefreshResult,
) -> None:
    running: list[order_flow.Reading] = []
    finals: list[order_flow.Reading] = []
    unanswered: list[tuple[order_flow.PolledOrder, str]] = []
    for upstream_id in asked:
        order = polled[upstream_id]
        reply = results.get(upstream_id)
        if not isinstance(reply, UpstreamOrderStatus):
            unanswered.append((order, f"Provider: {reply.message}" if reply else "Provider: no answer for this order"))
            continue
        # An unknown word maps to no status: the order keeps its own and stays active.
        target = order_flow.UPSTREAM_TO_ORDER.get(reply.status)
        note = "" if target else f"Provider: unknown status '{reply.raw_status}'; the order stays as it was and is checked again later."
        reading = order_flow.Reading(order, target or order.status, reply.raw_status, reply.start_count, reply.remains, reply.charge, note)
        if target in (OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED):
            finals.append(reading)
        else:
            running.append(reading)
    if running:
        result.updated += order_flow.orders_store_running(readings=running, now=now)
    if finals:
        finished = set(order_flow.orders_finish(readings=finals, now=now))
        result.finished += len(finished)
        result.refunded += sum(1 for r in finals if r.order.pk in finished and r.status != OrderStatus.COMPLETED)
    if unanswered:
        result.errors += len(unanswered)
        order_flow.orders_postpone(failures=unanswered, now=now)


@dataclass
class SweepResult:
    flagged: int = 0
    requeued: list[int] = field(default_factory=list)


def orders_sweep(*, now=None) -> SweepResult:
    """Orders left behind: submissions that never finished go to needs attention, awaiting ones are queued again."""
    now = now or timezone.now()
    flagged = order_flow.orders_stale_submissions_flag(older_than=timedelta(seconds=settings.ORDER_SUBMIT_TIMEOUT))
    # Give a fresh order's own on-commit enqueue time to run before queueing it again.
    cutoff = now - timedelta(seconds=settings.ORDER_REQUEUE_AFTER)
    waiting = list(
        Order.objects.filter(status=OrderStatus.AWAITING, updated_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:1000]
    )
    return SweepResult(flagged=flagged, requeued=waiting)
