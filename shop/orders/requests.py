"""What a customer may ask of a placed order: a refill, a cancellation, sent to the provider by a task.

One order (the order page, the API's ``order=`` forms) or many at once (the
API's ``orders=`` forms, ``requests_many``) take the same path: the request is
checked and recorded here, in the customer's transaction, and answered at once;
after the commit a task sends it to the provider, grouped per provider, in the
upstream's multiple-id forms (``requests_many.refills_send``,
``requests_many.orders_cancel_send``). No upstream call is made in the request.
An order not sent yet is canceled here at once, with a full refund.

An order has at most one refill under way (the database holds to it too), and
a new one only ``REFILL_COOLDOWN`` seconds after the last one the provider did
not reject.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from shop.orders import flow as order_flow
from shop.orders.history import SYSTEM, Actor, Kind, event_record
from shop.orders.models import Order, OrderStatus, Refill
from shop.orders.selectors import RefillHistory, refill_history

# Lazy: a page shows them in its language; the reseller API answers in English (its view overrides the language).
# ``Refill.error`` keeps them as the task that writes it words them (English: tasks have no customer language).
NOT_REFILLABLE = gettext_lazy("Order not eligible for refill.")
NOT_CANCELLABLE = gettext_lazy("Order not eligible for cancel.")
UNREACHABLE = "The provider could not be reached."  # kept in ``Refill.error`` only, which admins read
REFILL_UNDER_WAY = gettext_lazy("A refill of this order is already under way.")
REFILL_TOO_SOON = gettext_lazy("A refill of this order was asked for recently; you may ask again after {when:%Y-%m-%d %H:%M} UTC.")


class RequestRefused(Exception):
    """The refill or cancellation cannot be made; the message is fit for the customer."""


def order_can_refill(*, order: Order) -> bool:
    """A finished order of a service that offers refills, known to the provider."""
    return order.provider_service.refill and order.status in OrderStatus.REFILLABLE and bool(order.upstream_order_id)


def order_can_cancel(*, order: Order) -> bool:
    """Not sent yet (canceled here), or running at a provider that takes cancellations and not already asked."""
    if order.status == OrderStatus.AWAITING:
        return True
    return (
        order.provider_service.cancel
        and order.status in OrderStatus.CANCELLABLE
        and bool(order.upstream_order_id)
        and order.cancel_requested_at is None
    )


@transaction.atomic
def order_refill(*, order: Order, actor: Actor = SYSTEM) -> Refill:
    """Record a refill of one order, answered at once; a task sends it to the provider after the commit."""
    refill = refill_record(order=order, actor=actor, history=refill_history(order_ids=[order.pk]).get(order.pk))
    task_after_commit("refills_send_task", [refill.pk])
    return refill


def refill_refusal(*, order: Order, history: RefillHistory | None, now: datetime) -> str | None:
    """Why the order cannot have a refill now, in the customer's words; None if it can."""
    if not order_can_refill(order=order):
        return NOT_REFILLABLE
    if history is None:
        return None
    if history.under_way:
        return REFILL_UNDER_WAY
    if settings.REFILL_COOLDOWN > 0 and history.last_asked is not None:
        until = history.last_asked + timedelta(seconds=settings.REFILL_COOLDOWN)
        if until > now:
            return REFILL_TOO_SOON.format(when=_next_minute(until.astimezone(UTC)))
    return None


def order_refill_wait(*, order: Order) -> str | None:
    """Why a refillable order cannot have a refill right now (one under way, or the cooldown), for its page; None if it can."""
    history = refill_history(order_ids=[order.pk]).get(order.pk)
    return refill_refusal(order=order, history=history, now=timezone.now()) if history else None


def refill_record(*, order: Order, actor: Actor, history: RefillHistory | None) -> Refill:
    """A refill row not sent yet, with its event; call it in a transaction and queue ``refills_send_task`` after the commit."""
    refusal = refill_refusal(order=order, history=history, now=timezone.now())
    if refusal:
        raise RequestRefused(refusal)
    try:
        with transaction.atomic():
            refill = Refill.objects.create(order=order)
    except IntegrityError as exc:  # another request's refill of this order got in first (refill_one_open_per_order)
        raise RequestRefused(REFILL_UNDER_WAY) from exc
    refill_requested(refill=refill, actor=actor)
    return refill


def _next_minute(moment: datetime) -> datetime:
    """The moment, rounded up to a whole minute: the time shown to the customer is never too early."""
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def refill_requested(*, refill: Refill, actor: Actor) -> None:
    """The history event of a new refill."""
    event_record(
        order_id=refill.order_id,
        kind=Kind.REFILL_REQUESTED,
        actor=actor,
        status=refill.order.status,
        refill=refill.pk,
        upstream_refill_id=refill.upstream_refill_id,
    )


def refill_status_word(word: str) -> str | None:
    """The refill status a provider's word names (any case, either spelling of canceled), or None."""
    known = {status.value.lower(): status.value for status in Refill.Status} | {"cancelled": Refill.Status.CANCELED}
    return known.get(word.strip().lower())


@transaction.atomic
def refill_status_store(*, refill: Refill, word: str) -> bool:
    """Keep the provider's answer about a refill; a change of status is written once, with its event."""
    status = refill_status_word(word)
    if status is None or status == refill.status:
        return False
    if not Refill.objects.filter(pk=refill.pk, status=refill.status).update(status=status, updated_at=timezone.now()):
        return False
    refill.status = status
    event_record(order_id=refill.order_id, kind=Kind.REFILL_STATUS, status="", refill=refill.pk, refill_status=status, word=word[:64])
    return True


@transaction.atomic
def order_cancel(*, order: Order, actor: Actor = SYSTEM) -> Order:
    """Cancel an order: one not yet sent is canceled here with a full refund; a placed one is marked and a task asks the provider."""
    if cancel_record(order=order, actor=actor):
        task_after_commit("orders_cancel_send_task", [order.pk])
    order.refresh_from_db()
    return order


def cancel_record(*, order: Order, actor: Actor) -> bool:
    """Take a cancellation: True if the provider must be asked (queue ``orders_cancel_send_task`` after the commit).

    Call it in a transaction. An order not sent yet is canceled and refunded at
    once (False); one sent out meanwhile is marked like any placed order.
    """
    if order.status == OrderStatus.AWAITING:
        if order_flow.order_cancel_unsent(order_id=order.pk, actor=actor):
            return False
        order.refresh_from_db()  # a worker took it meanwhile
    if (
        order.status != OrderStatus.AWAITING
        and order_can_cancel(order=order)
        and order_cancel_requested(order=order, actor=actor, sent=False)
    ):
        # The refund follows when the provider reports the order Canceled.
        return True
    raise RequestRefused(NOT_CANCELLABLE)


@transaction.atomic
def order_cancel_requested(*, order: Order, actor: Actor, sent: bool) -> bool:
    """Mark the order as asked to cancel (once: compare-and-set on the mark), with its event."""
    if not Order.objects.filter(pk=order.pk, cancel_requested_at__isnull=True).update(cancel_requested_at=timezone.now()):
        return False
    event_record(order_id=order.pk, kind=Kind.CANCEL_REQUESTED, actor=actor, status=order.status, sent=sent)
    return True


def task_after_commit(task_name: str, ids: list[int]) -> None:
    """Queue a task of ``shop.orders.tasks`` with these ids once the current transaction commits."""

    def send() -> None:
        from shop.orders import tasks

        getattr(tasks, task_name).delay(ids)

    # A broker failure after the commit must not turn the customer's accepted request into an error
    # reply: it is logged, and the per-provider sweep (``requests_many.requests_sweep``) sends refills and cancels left unsent.
    transaction.on_commit(send, robust=True)
