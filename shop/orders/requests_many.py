"""Refills and cancellations of many orders at once: answered at once, sent by a task, grouped per provider.

The customer's call only checks each order and records the request (a refill
row, or the order's cancel mark, each with its history event); after the
commit a task per provider sends them in the upstream's multiple-id forms, 100
ids per call. A provider that refuses one id refuses only that one: its refill
is marked Rejected, its cancel mark is lifted, each with the provider's message
kept for admins.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from panelapi.exceptions import PanelError, PanelRefused
from shop.catalogue.providers import provider_client
from shop.orders import flow as order_flow
from shop.orders.history import Actor, Kind, event_record
from shop.orders.models import Order, OrderEvent, OrderStatus, Refill
from shop.orders.requests import (
    NOT_CANCELLABLE,
    NOT_REFILLABLE,
    UNREACHABLE,
    RequestRefused,
    order_can_cancel,
    order_can_refill,
    order_cancel_requested,
    refill_requested,
    refill_status_store,
)

logger = logging.getLogger(__name__)
BATCH = 100


@transaction.atomic
def orders_refill_many(*, orders: Iterable[Order], actor: Actor) -> dict[int, Refill | RequestRefused]:
    """A refill row for each eligible order (sent by ``refills_send`` after the commit), or the reason it is refused."""
    results: dict[int, Refill | RequestRefused] = {}
    queued: dict[int, list[int]] = defaultdict(list)
    for order in orders:
        if order.pk in results:
            continue
        if not order_can_refill(order=order):
            results[order.pk] = RequestRefused(NOT_REFILLABLE)
            continue
        refill = Refill.objects.create(order=order)
        refill_requested(refill=refill, actor=actor)
        results[order.pk] = refill
        queued[order.provider_id].append(refill.pk)
    for refill_ids in queued.values():
        for start in range(0, len(refill_ids), BATCH):
            _after_commit("refills_send_task", refill_ids[start : start + BATCH])
    return results


@transaction.atomic
def orders_cancel_many(*, orders: Iterable[Order], actor: Actor) -> dict[int, RequestRefused | None]:
    """Cancel each order: unsent ones here at once, with a refund; placed ones marked and sent by ``orders_cancel_send``.

    None for an order whose cancellation was taken, else the reason it was refused.
    """
    results: dict[int, RequestRefused | None] = {}
    queued: dict[int, list[int]] = defaultdict(list)
    for order in orders:
        if order.pk in results:
            continue
        if order.status == OrderStatus.AWAITING and order_flow.order_cancel_unsent(order_id=order.pk, actor=actor):
            results[order.pk] = None
        elif (
            order.status != OrderStatus.AWAITING
            and order_can_cancel(order=order)
            and order_cancel_requested(order=order, actor=actor, sent=False)
        ):
            results[order.pk] = None
            queued[order.provider_id].append(order.pk)
        else:
            results[order.pk] = RequestRefused(NOT_CANCELLABLE)
    for order_ids in queued.values():
        for start in range(0, len(order_ids), BATCH):
            _after_commit("orders_cancel_send_task", order_ids[start : start + BATCH])
    return results


def refills_send(*, refill_ids: list[int]) -> int:
    """Send refills not yet sent to their provider, one multiple-id call per provider; returns how many it sent."""
    refills = list(
        Refill.objects.select_related("order__provider").filter(pk__in=refill_ids, upstream_refill_id="", status=Refill.Status.PENDING)
    )
    sent = 0
    for provider, group in _by_provider(refills, lambda refill: refill.order):
        by_upstream_order = {refill.order.upstream_order_id: refill for refill in group}
        client = provider_client(provider=provider)
        try:
            replies = client.refill_many(list(by_upstream_order))
        except PanelError as exc:
            for refill in group:
                _refill_rejected(refill, UNREACHABLE if not isinstance(exc, PanelRefused) else exc.message, exc.message)
            continue
        finally:
            client.close()
        answered = set()
        for reply in replies:
            refill = by_upstream_order.get(reply.order_id)
            if refill is None or reply.order_id in answered:
                continue
            answered.add(reply.order_id)
            if reply.refill_id:
                Refill.objects.filter(pk=refill.pk, upstream_refill_id="").update(
                    upstream_refill_id=reply.refill_id, updated_at=timezone.now()
                )
                sent += 1
            else:
                _refill_rejected(refill, reply.error or NOT_REFILLABLE, reply.error or "no refill id in the reply")
        for upstream_order_id, refill in by_upstream_order.items():
            if upstream_order_id not in answered:
                _refill_rejected(refill, UNREACHABLE, "the provider's reply did not name this order")
    return sent


def orders_cancel_send(*, order_ids: list[int]) -> int:
    """Ask each provider to cancel the marked orders, one multiple-id call per provider; returns how many it accepted."""
    # An order whose cancellation the provider already took is not asked again: a redelivered
    # task would get "not eligible" back and must not lift the mark of an accepted cancellation.
    already_sent = OrderEvent.objects.filter(order_id__in=order_ids, kind=Kind.CANCEL_REQUESTED, detail__sent=True).values("order_id")
    orders = list(
        Order.objects.select_related("provider")
        .filter(pk__in=order_ids, status__in=OrderStatus.CANCELLABLE, cancel_requested_at__isnull=False, upstream_order_id__isnull=False)
        .exclude(pk__in=already_sent)
    )
    accepted = 0
    for provider, group in _by_provider(orders, lambda order: order):
        by_upstream_id = {order.upstream_order_id: order for order in group}
        client = provider_client(provider=provider)
        try:
            replies = {reply.order_id: reply for reply in client.cancel(list(by_upstream_id))}
        except (PanelError, ValueError) as exc:
            message = exc.message if isinstance(exc, PanelError) else str(exc)
            replies = {}
            logger.warning("cancel of %s orders at provider %s failed: %s", len(group), provider.pk, message)
        finally:
            client.close()
        for upstream_id, order in by_upstream_id.items():
            reply = replies.get(upstream_id)
            if reply is not None and reply.accepted:
                accepted += 1
                event_record(order_id=order.pk, kind=Kind.CANCEL_REQUESTED, status=order.status, sent=True)
            else:
                _cancel_refused(order, reply.error if reply is not None and reply.error else "no answer from the provider")
    return accepted


def refills_status_refresh_many(*, refills: Iterable[Refill]) -> None:
    """Ask each provider about the refills still under way, one multiple-id call per provider, and keep the answers.

    A provider that cannot answer leaves its refills at their last known status.
    """
    open_refills = [refill for refill in refills if refill.status not in Refill.Status.final() and refill.upstream_refill_id]
    for provider, group in _by_provider(open_refills, lambda refill: refill.order):
        by_upstream_id = {refill.upstream_refill_id: refill for refill in group}
        client = provider_client(provider=provider)
        try:
            replies = client.refill_status_many(list(by_upstream_id))
        except PanelError as exc:
            logger.warning("refill status of %s refills at provider %s failed: %s", len(group), provider.pk, exc.message)
            continue
        finally:
            client.close()
        for reply in replies:
            refill = by_upstream_id.get(reply.refill_id)
            if refill is not None and reply.status is not None:
                refill_status_store(refill=refill, word=reply.status)


@transaction.atomic
def _refill_rejected(refill: Refill, shown: str, raw: str) -> None:
    if Refill.objects.filter(pk=refill.pk, status=Refill.Status.PENDING, upstream_refill_id="").update(
        status=Refill.Status.REJECTED, error=shown[:255], updated_at=timezone.now()
    ):
        event_record(
            order_id=refill.order_id, kind=Kind.REFILL_STATUS, refill=refill.pk, refill_status=Refill.Status.REJECTED, word=raw[:255]
        )


@transaction.atomic
def _cancel_refused(order: Order, message: str) -> None:
    """The provider did not take the cancellation: the mark is lifted (the customer may ask again), the reason kept."""
    if Order.objects.filter(pk=order.pk, cancel_requested_at__isnull=False).update(cancel_requested_at=None):
        event_record(order_id=order.pk, kind=Kind.CANCEL_REQUESTED, status=order.status, sent=False, refused=message[:255])


def _by_provider(items, order_of):
    groups: dict[int, list] = defaultdict(list)
    providers = {}
    for item in items:
        order = order_of(item)
        groups[order.provider_id].append(item)
        providers[order.provider_id] = order.provider
    return [(providers[provider_id], group) for provider_id, group in groups.items()]


def _after_commit(task_name: str, ids: list[int]) -> None:
    def send() -> None:
        from shop.orders import tasks

        getattr(tasks, task_name).delay(ids)

    # A broker failure after the commit must not turn the customer's accepted request into an error reply: it is logged.
    transaction.on_commit(send, robust=True)
