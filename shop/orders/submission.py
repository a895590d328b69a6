"""Sending orders to their provider exactly once, and sweeping up the ones left behind."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from panelapi.exceptions import PanelMisconfigured, PanelOutcomeUnknown, PanelRefused, PanelUnreachable
from shop.catalogue.providers import provider_accepts_orders, provider_client, provider_slot
from shop.orders import flow as order_flow
from shop.orders.models import Order, OrderStatus
from shop.orders.types import type_spec

logger = logging.getLogger(__name__)

# A refusal that says the provider's own balance is short: nothing was placed, so the
# order waits for the balance instead of failing. Only a lack of funds says so; any
# other refusal that merely mentions a balance ("Link is private, balance refunded")
# fails the order with a full refund.
FUNDS_REFUSAL = re.compile(
    r"""
      not[\s._-]*enough[\s._-]*(?:funds|balance|money)  # Not enough funds (on balance), neworder.error.not_enough_funds
    | n[o']t\s+have\s+enough\s+(?:funds|balance|money)  # You do not have enough funds, You don't have enough funds
    | insufficient[\s._-]*(?:funds|balance)             # Insufficient funds, insufficient balance
    | balance\s+is\s+(?:too\s+)?low                     # Your balance is too low
    """,
    re.IGNORECASE | re.VERBOSE,
)


# Stored in ``Order.error`` (English; marked so that a page that shows it can translate it: ``{% translate order.error %}``).
PROVIDER_LOW = gettext_noop("Waiting for the provider's balance.")


class SubmitOutcome(StrEnum):
    PLACED = "placed"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"
    RETRY = "retry"  # never reached the panel: try again later
    HELD = "held"  # the provider cannot take orders now (low balance, misconfigured)
    SKIPPED = "skipped"  # not awaiting submission (already claimed, done, or gone)
    BUSY = "busy"  # the provider's concurrent submissions are all under way: not claimed, try again shortly


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
        order_flow.order_hold(order_id=order_id, error=PROVIDER_LOW)
        return SubmitOutcome.HELD
    with provider_slot(provider=order.provider) as slot:
        if not slot:
            return SubmitOutcome.BUSY
        return _order_send(order=order)


def _order_send(*, order: Order) -> SubmitOutcome:
    """Claim the order, call the provider, record the answer (inside one of the provider's slots)."""
    order_id = order.pk
    if not order_flow.order_claim(order_id=order_id):
        return SubmitOutcome.SKIPPED
    client = provider_client(provider=order.provider)
    try:
        result = client.add(service=order.provider_service.upstream_id, **order_upstream_params(order=order))
    except PanelRefused as exc:
        if FUNDS_REFUSAL.search(exc.message):
            order_flow.order_release(order_id=order_id, error=PROVIDER_LOW, held=True)
            return SubmitOutcome.HELD
        order_flow.order_refused(order_id=order_id, message=f"Refused by the provider: {exc.message}")
        return SubmitOutcome.FAILED
    except PanelMisconfigured as exc:
        order_flow.order_release(order_id=order_id, error=exc.message, held=True)
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


def order_wait_turn(*, order_id: int, seconds: float, now=None) -> bool:
    """After ``BUSY``: the order is due again in ``seconds`` (so the sweeper leaves it alone meanwhile).

    False if another task of the same order is already waiting its turn (one due more than half the
    wait from now): the caller then stops, so duplicates of a task (a redelivery, the sweeper) do not
    multiply while a provider stays busy. One UPDATE, so two at once cannot both go on.
    """
    now = now or timezone.now()
    free = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=seconds / 2))
    due = now + timedelta(seconds=seconds)
    return Order.objects.filter(free, pk=order_id, status=OrderStatus.AWAITING).update(next_attempt_at=due) == 1


def order_retry_countdown(*, order_id: int) -> float:
    """Seconds until the order's next attempt (at least 1): how long a retrying task waits."""
    due = Order.objects.filter(pk=order_id).values_list("next_attempt_at", flat=True).first()
    return max(1.0, (due - timezone.now()).total_seconds()) if due else float(order_flow.RETRY_FIRST)


@dataclass
class SweepResult:
    flagged: int = 0
    requeued: list[int] = field(default_factory=list)


def orders_sweep(*, now=None) -> SweepResult:
    """Orders left behind: submissions that never finished go to needs attention, awaiting ones are queued again."""
    now = now or timezone.now()
    flagged = order_flow.orders_stale_submissions_flag(older_than=timedelta(seconds=settings.ORDER_SUBMIT_TIMEOUT))
    # An order is due at its next attempt (its creation, or the back-off after a retry or a hold); the
    # grace leaves a fresh order's own on-commit enqueue, or a task's own retry, time to run first.
    cutoff = now - timedelta(seconds=settings.ORDER_REQUEUE_AFTER)
    due = Q(next_attempt_at__lte=cutoff) | Q(next_attempt_at__isnull=True, created_at__lt=cutoff)
    waiting = list(Order.objects.filter(due, status=OrderStatus.AWAITING).order_by("pk").values_list("pk", flat=True)[:1000])
    return SweepResult(flagged=flagged, requeued=waiting)
