"""What a customer may ask of a placed order: a refill, a cancellation. Forwarded to the provider."""

from __future__ import annotations

from django.utils import timezone

from panelapi.exceptions import PanelError, PanelRefused
from shop.catalogue.providers import provider_client
from shop.orders import flow as order_flow
from shop.orders.models import Order, OrderStatus, Refill


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


def order_refill(*, order: Order) -> Refill:
    """Ask the provider to refill a finished order of a service that offers refills."""
    if not order_can_refill(order=order):
        raise RequestRefused("Order not eligible for refill.")
    client = provider_client(provider=order.provider)
    try:
        upstream_id = client.refill(order.upstream_order_id)
    except PanelError as exc:
        message = exc.message if isinstance(exc, PanelRefused) else "The provider could not be reached."
        raise RequestRefused(message) from exc
    finally:
        client.close()
    return Refill.objects.create(order=order, upstream_refill_id=upstream_id)


def refill_status_refresh(*, refill: Refill) -> Refill:
    """Ask the provider how a refill goes; keep the last known status if it cannot say."""
    if refill.status in {Refill.Status.COMPLETED, Refill.Status.REJECTED, Refill.Status.CANCELLED} or not refill.upstream_refill_id:
        return refill
    client = provider_client(provider=refill.order.provider)
    try:
        word = client.refill_status(refill.upstream_refill_id)
    except PanelError:
        return refill
    finally:
        client.close()
    known = {status.value.lower(): status for status in Refill.Status}
    refill.status = known.get(word.strip().lower(), refill.status)
    refill.save(update_fields=["status", "updated_at"])
    return refill


def order_cancel(*, order: Order) -> Order:
    """Cancel an order: one not yet sent is canceled here with a full refund; a placed one is asked of the provider."""
    if order.status == OrderStatus.AWAITING:
        done = order_flow.order_cancel_unsent(order_id=order.pk)
        order.refresh_from_db()  # canceled now, or sent out meanwhile
        if done:
            return order
    if order.status == OrderStatus.AWAITING or not order_can_cancel(order=order):
        raise RequestRefused("Order not eligible for cancel.")
    client = provider_client(provider=order.provider)
    try:
        (result,) = client.cancel([order.upstream_order_id])
    except (PanelError, ValueError) as exc:
        raise RequestRefused("The provider could not take the cancellation now.") from exc
    finally:
        client.close()
    if not result.accepted:
        raise RequestRefused(result.error or "Order not eligible for cancel.")
    # The refund follows when the provider reports the order Canceled.
    Order.objects.filter(pk=order.pk).update(cancel_requested_at=timezone.now())
    order.refresh_from_db()
    return order
