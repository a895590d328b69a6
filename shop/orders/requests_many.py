"""Refills and cancellations of many orders at once, and the tasks' side of every refill and cancellation.

The customer's call only checks each order and records the request (a refill
row, or the order's cancel mark, each with its history event), exactly as for
one order (``requests``); after the commit a task per provider sends them in
the upstream's multiple-id forms, 100 ids per call. A provider that refuses one
id refuses only that one: its refill is marked Rejected, its cancel mark is
lifted, each with the provider's message kept for admins.

``requests_sweep`` runs per provider with the periodic order refresh: it sends
what a lost enqueue left unsent and asks about the refills still under way, so
``refill_status`` answers from the database.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from panelapi.exceptions import PanelError, PanelMisconfigured, PanelRefused, PanelUnreachable
from shop.catalogue.models import Provider
from shop.catalogue.providers import provider_client
from shop.orders.history import Actor, Kind, event_record
from shop.orders.models import Order, OrderEvent, OrderStatus, Refill
from shop.orders.requests import (
    NOT_REFILLABLE,
    UNREACHABLE,
    RequestRefused,
    cancel_record,
    refill_record,
    refill_status_store,
    task_after_commit,
)
from shop.orders.selectors import refill_history

logger = logging.getLogger(__name__)
BATCH = 100


@transaction.atomic
def orders_refill_many(*, orders: Iterable[Order], actor: Actor) -> dict[int, Refill | RequestRefused]:
    """A refill row for each eligible order (sent by ``refills_send`` after the commit), or the reason it is refused.

    An order named twice counts once.
    """
    unique = {order.pk: order for order in orders}
    history = refill_history(order_ids=list(unique))
    results: dict[int, Refill | RequestRefused] = {}
    queued: dict[int, list[int]] = defaultdict(list)
    for order in unique.values():
        try:
            refill = refill_record(order=order, actor=actor, history=history.get(order.pk))
        except RequestRefused as refused:
            results[order.pk] = refused
            continue
        results[order.pk] = refill
        queued[order.provider_id].append(refill.pk)
    _queue("refills_send_task", queued)
    return results


@transaction.atomic
def orders_cancel_many(*, orders: Iterable[Order], actor: Actor) -> dict[int, RequestRefused | None]:
    """Cancel each order: unsent ones here at once, with a refund; placed ones marked and sent by ``orders_cancel_send``.

    None for an order whose cancellation was taken, else the reason it was refused. An order named twice counts once.
    """
    results: dict[int, RequestRefused | None] = {}
    queued: dict[int, list[int]] = defaultdict(list)
    for order in {order.pk: order for order in orders}.values():
        try:
            if cancel_record(order=order, actor=actor):
                queued[order.provider_id].append(order.pk)
        except RequestRefused as refused:
            results[order.pk] = refused
        else:
            results[order.pk] = None
    _queue("orders_cancel_send_task", queued)
    return results


def _queue(task_name: str, ids_per_provider: dict[int, list[int]]) -> None:
    for ids in ids_per_provider.values():
        for start in range(0, len(ids), BATCH):
            task_after_commit(task_name, ids[start : start + BATCH])


def refills_send(*, refill_ids: list[int]) -> int:
    """Send refills not yet sent to their provider, one multiple-id call per provider; returns how many it sent.

    Each refill is claimed first (``sending_at``, committed before any call), so
    the task, a redelivery of it and the sweep never send one refill twice at
    once. A call that never reached the provider gives the claim back for the
    sweep; one whose outcome is unknown keeps it until it is stale
    (``ORDER_SUBMIT_TIMEOUT``). Only the provider's own refusal rejects.
    """
    pending = Refill.objects.filter(pk__in=refill_ids, upstream_refill_id="", status=Refill.Status.PENDING)
    claimed = _claim(pending, "sending_at")
    refills = list(Refill.objects.select_related("order__provider").filter(pk__in=claimed))
    sent = 0
    for provider, group in _by_provider(refills, lambda refill: refill.order):
        by_upstream_order = {refill.order.upstream_order_id: refill for refill in group}
        client = provider_client(provider=provider)
        try:
            replies = client.refill_many(list(by_upstream_order))
        except PanelRefused as exc:
            for refill in group:
                _refill_closed(refill, Refill.Status.REJECTED, exc.message, exc.message)
            continue
        except PanelError as exc:
            _send_failed(
                Refill.objects.filter(pk__in=[refill.pk for refill in group]), "sending_at", exc, f"refill of {len(group)}", provider
            )
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
                sent += Refill.objects.filter(pk=refill.pk, upstream_refill_id="", status=Refill.Status.PENDING).update(
                    upstream_refill_id=reply.refill_id, updated_at=timezone.now()
                )
            else:
                _refill_closed(refill, Refill.Status.REJECTED, reply.error or NOT_REFILLABLE, reply.error or "no refill id in the reply")
        for upstream_order_id, refill in by_upstream_order.items():
            if upstream_order_id not in answered:
                _refill_closed(refill, Refill.Status.REJECTED, UNREACHABLE, "the provider's reply did not name this order")
    return sent


def orders_cancel_send(*, order_ids: list[int]) -> int:
    """Ask each provider to cancel the marked orders, one multiple-id call per provider; returns how many it accepted.

    Claimed first like refills (``cancel_sent_at``): two senders at once cannot
    both ask, so the second's "not eligible" can never lift the mark of a
    cancellation the first got accepted.
    """
    # An order whose cancellation the provider already took is not asked again.
    already_sent = OrderEvent.objects.filter(order_id__in=order_ids, kind=Kind.CANCEL_REQUESTED, detail__sent=True).values("order_id")
    marked = Order.objects.filter(
        pk__in=order_ids, status__in=OrderStatus.CANCELLABLE, cancel_requested_at__isnull=False, upstream_order_id__isnull=False
    ).exclude(pk__in=already_sent)
    claimed = _claim(marked, "cancel_sent_at")
    orders = list(Order.objects.select_related("provider").filter(pk__in=claimed))
    accepted = 0
    for provider, group in _by_provider(orders, lambda order: order):
        by_upstream_id = {order.upstream_order_id: order for order in group}
        client = provider_client(provider=provider)
        try:
            replies = {reply.order_id: reply for reply in client.cancel(list(by_upstream_id))}
        except PanelRefused as exc:
            replies = {}
            logger.warning("cancel of %s orders at provider %s refused: %s", len(group), provider.pk, exc.message)
        except (PanelError, ValueError) as exc:
            _send_failed(
                Order.objects.filter(pk__in=[order.pk for order in group]), "cancel_sent_at", exc, f"cancel of {len(group)}", provider
            )
            continue
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


def _claim(rows: QuerySet, field: str) -> list[int]:
    """Take the rows to send now: those no other sender holds (its claim in ``field`` is missing or stale). Committed at once."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ORDER_SUBMIT_TIMEOUT)
    with transaction.atomic():
        free = rows.filter(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": stale}))
        ids = list(free.select_for_update(skip_locked=True).values_list("pk", flat=True))
        rows.model.objects.filter(pk__in=ids).update(**{field: now})
    return ids


def _send_failed(rows: QuerySet, field: str, exc: Exception, what: str, provider: Provider) -> None:
    """A failed call: never reached the provider (claims go back for the sweep), or an unknown outcome (kept till stale)."""
    message = exc.message if isinstance(exc, PanelError) else str(exc)
    logger.warning("%s at provider %s failed: %s", what, provider.pk, message)
    if isinstance(exc, PanelUnreachable | PanelMisconfigured):
        rows.update(**{field: None})


@dataclass
class SweepResult:
    refills_sent: int = 0
    cancels_sent: int = 0
    refills_asked: int = 0
    calls: int = 0


def requests_sweep(*, provider: Provider) -> SweepResult:
    """One provider's refills and cancellations after the customer's request: sent if still unsent, refills asked about.

    A refill or cancellation whose task was lost (the broker failed after the
    commit) is sent once it is ``ORDER_REQUEUE_AFTER`` old, so an order is never
    stuck with a refill under way that the provider never heard of. Refills under
    way are asked about 100 per call; a provider that cannot answer leaves them at
    their last known status.
    """
    result = SweepResult()
    cutoff = timezone.now() - timedelta(seconds=settings.ORDER_REQUEUE_AFTER)
    unsent = Refill.objects.filter(
        order__provider=provider, status=Refill.Status.PENDING, upstream_refill_id="", created_at__lt=cutoff
    ).values_list("pk", flat=True)
    for batch in _batches(list(unsent)):
        result.refills_sent += refills_send(refill_ids=batch)
    for batch in _batches(list(_cancels_unsent(provider, cutoff))):
        result.cancels_sent += orders_cancel_send(order_ids=batch)
    under_way = Refill.objects.select_related("order__provider").filter(order__provider=provider).exclude(upstream_refill_id="")
    under_way = list(under_way.exclude(status__in=Refill.Status.final()).order_by("pk"))
    for batch in _batches(under_way):
        result.calls += 1
        result.refills_asked += len(batch)
        refills_status_refresh_many(refills=batch, provider=provider)
    return result


def _cancels_unsent(provider: Provider, cutoff: datetime) -> Iterable[int]:
    """Orders marked for cancel before ``cutoff`` whose cancellation the provider has not taken yet."""
    sent = OrderEvent.objects.filter(order_id=OuterRef("pk"), kind=Kind.CANCEL_REQUESTED, detail__sent=True)
    marked = Order.objects.filter(
        provider=provider, status__in=OrderStatus.CANCELLABLE, cancel_requested_at__lt=cutoff, upstream_order_id__isnull=False
    )
    return marked.filter(~Exists(sent)).order_by("pk").values_list("pk", flat=True)


def refills_status_refresh_many(*, refills: list[Refill], provider: Provider) -> None:
    """Ask the provider about at most 100 of its refills under way in one call, and keep the answers."""
    by_upstream_id = {refill.upstream_refill_id: refill for refill in refills}
    client = provider_client(provider=provider)
    try:
        replies = client.refill_status_many(list(by_upstream_id))
    except PanelError as exc:
        logger.warning("refill status of %s refills at provider %s failed: %s", len(refills), provider.pk, exc.message)
        return
    finally:
        client.close()
    for reply in replies:
        refill = by_upstream_id.get(reply.refill_id)
        if refill is None:
            continue
        if reply.status is not None:
            refill_status_store(refill=refill, word=reply.status)
        elif reply.error:
            # The provider's answer for this id is an error ("Refill not found"): it will never report on it.
            _refill_closed(refill, Refill.Status.ERROR, reply.error, reply.error)


def _batches(items: list) -> list[list]:
    return [items[start : start + BATCH] for start in range(0, len(items), BATCH)]


@transaction.atomic
def _refill_closed(refill: Refill, status: str, shown: str, raw: str) -> bool:
    """Close a refill still under way as ``status`` (compare-and-set on its status), with the reason and its event."""
    if (
        not Refill.objects.filter(pk=refill.pk, status=refill.status)
        .exclude(status__in=Refill.Status.final())
        .update(status=status, error=shown[:255], updated_at=timezone.now())
    ):
        return False
    event_record(order_id=refill.order_id, kind=Kind.REFILL_STATUS, refill=refill.pk, refill_status=status, word=raw[:255])
    return True


def refills_give_up() -> int:
    """Close as Error the refills still under way ``REFILL_GIVE_UP_AFTER`` after they were asked for; how many.

    A provider that never answers about a refill (an unknown word, a provider
    since switched off, a send that never got through) must not block the
    order's refills for good: the one-open-refill rule would refuse every new one.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.REFILL_GIVE_UP_AFTER)
    stuck = Refill.objects.filter(created_at__lt=cutoff).exclude(status__in=Refill.Status.final()).order_by("pk")
    days = settings.REFILL_GIVE_UP_AFTER / 86400
    reason = f"No final answer from the provider within {days:g} days."
    return sum(_refill_closed(refill, Refill.Status.ERROR, reason, "given up") for refill in stuck[:1000])


@transaction.atomic
def _cancel_refused(order: Order, message: str) -> None:
    """The provider did not take the cancellation: the mark is lifted (the customer may ask again), the reason kept."""
    accepted = OrderEvent.objects.filter(order_id=order.pk, kind=Kind.CANCEL_REQUESTED, detail__sent=True)
    lifted = Order.objects.filter(pk=order.pk, cancel_requested_at__isnull=False).filter(~Exists(accepted))
    if lifted.update(cancel_requested_at=None, cancel_sent_at=None):
        event_record(order_id=order.pk, kind=Kind.CANCEL_REQUESTED, status=order.status, sent=False, refused=message[:255])


def _by_provider(items, order_of):
    groups: dict[int, list] = defaultdict(list)
    providers = {}
    for item in items:
        order = order_of(item)
        groups[order.provider_id].append(item)
        providers[order.provider_id] = order.provider
    return [(providers[provider_id], group) for provider_id, group in groups.items()]
