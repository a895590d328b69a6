"""What a customer may ask of a placed order: a refill, a cancellation, forwarded to the provider.

One order at a time (the order page, the API's ``order=`` forms), the request
waits for the provider's answer. Many at once (the API's ``orders=`` forms, up
to 100 ids), the shop answers at once and a task sends them, grouped per
provider, in the upstream's own multiple-id forms (``requests_many``).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from panelapi.exceptions import PanelError, PanelRefused
from shop.catalogue.providers import provider_client
from shop.orders import flow as order_flow
from shop.orders.history import SYSTEM, Actor, Kind, event_record
from shop.orders.models import Order, OrderStatus, Refill

NOT_REFILLABLE = "Order not eligible for refill."
NOT_CANCELLABLE = "Order not eligible for cancel."
UNREACHABLE = "The provider could not be reached."


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


def order_refill(*, order: Order, actor: Actor = SYSTEM) -> Refill:
    """Ask the provider to refill a finished order of a service that offers refills."""
    if not order_can_refill(order=order):
        raise RequestRefused(NOT_REFILLABLE)
    client = provider_client(provider=order.provider)
    try:
        upstream_id = client.refill(order.upstream_order_id)
    except PanelError as exc:
        raise RequestRefused(exc.message if isinstance(exc, PanelRefused) else UNREACHABLE) from exc
    finally:
        client.close()
    with transaction.atomic():
        refill = Refill.objects.create(order=order, upstream_refill_id=upstream_id)
        refill_requested(refill=refill, actor=actor)
    return refill


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


def refill_status_refresh(*, refill: Refill) -> Refill:
    """Ask the provider how a refill goes; keep the last known status if it cannot say."""
    if refill.status in Refill.Status.final() or not refill.upstream_refill_id:
        return refill
    client = provider_client(provider=refill.order.provider)
    try:
        word = client.refill_status(refill.upstream_refill_id)
    except PanelError:
        return refill
    finally:
        client.close()
    refill_status_store(refill=refill, word=word)
    return refill


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


def order_cancel(*, order: Order, actor: Actor = SYSTEM) -> Order:
    """Cancel an order: one not yet sent is canceled here with a full refund; a placed one is asked of the provider."""
    if order.status == OrderStatus.AWAITING:
        done = order_flow.order_cancel_unsent(order_id=order.pk, actor=actor)
        order.refresh_from_db()  # canceled now, or sent out meanwhile
        if done:
            return order
    if order.status == OrderStatus.AWAITING or not order_can_cancel(order=order):
        raise RequestRefused(NOT_CANCELLABLE)
    client = provider_client(provider=order.provider)
    try:
        (result,) = client.cancel([order.upstream_order_id])
    except (PanelError, ValueError) as exc:
        raise RequestRefused("The provider could not take the cancellation now.") from exc
    finally:
        client.close()
    if not result.accepted:
        raise RequestRefused(result.error or NOT_CANCELLABLE)
    # The refund follows when the provider reports the order Canceled.
    order_cancel_requested(order=order, actor=actor, sent=True)
    order.refresh_from_db()
    return order


@transaction.atomic
def order_cancel_requested(*, order: Order, actor: Actor, sent: bool) -> bool:
    """Mark the order as asked to cancel (once: compare-and-set on the mark), with its event."""
    if not Order.objects.filter(pk=order.pk, cancel_requested_at__isnull=True).update(cancel_requested_at=timezone.now()):
        return False
    event_record(order_id=order.pk, kind=Kind.CANCEL_REQUESTED, actor=actor, status=order.status, sent=sent)
    return True
