"""How an order is shown to its customer: figures, the status badge, and why a request cannot be made (admins see raw values)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from shop.orders.models import Order, OrderStatus, Refill
from shop.orders.requests import order_can_cancel, order_can_refill, order_refill_wait

#: The colour of each status as customers read it (``.badge good|bad|warn|info|neutral`` in shop.css), by its customer label:
#: a refused (Failed) order reads as Canceled, so it has that colour too.
STATUS_TONES = {
    "Pending": "neutral",
    "In progress": "info",
    "Processing": "info",
    "Completed": "good",
    "Partial": "warn",
    "Canceled": "bad",
    "Active": "info",
    "Paused": "warn",
    "Expired": "neutral",
}

#: The colour of a refill's status on the customer's refills page (the same ``.badge`` tones).
REFILL_TONES = {
    "Pending": "neutral",
    "In progress": "info",
    "Completed": "good",
    "Rejected": "bad",
    "Error": "bad",
    "Canceled": "neutral",
}

#: A refill's status is the provider's word, stored and answered by the API as it is (``Refill.Status`` values): marked
#: here for the catalogue (never evaluated), pages show it translated: ``{% translate refill.status context "refill status" %}``,
#: ``refill_status_shown`` in Python.
REFILL_STATUS_CONTEXT = "refill status"
REFILL_STATUS_WORDS = (
    pgettext_lazy("refill status", "Pending"),
    pgettext_lazy("refill status", "In progress"),
    pgettext_lazy("refill status", "Completed"),
    pgettext_lazy("refill status", "Rejected"),
    pgettext_lazy("refill status", "Error"),
    pgettext_lazy("refill status", "Canceled"),
)


def refill_status_shown(status: str) -> str:
    """A refill's status in the page's language (as the templates translate it)."""
    return pgettext(REFILL_STATUS_CONTEXT, status) if status else status


#: What the refills page says of a refill that ended without one, by its status. ``Refill.error`` is the
#: provider's own text (it may name the provider or an upstream id): admins read it, customers read these.
REFILL_NOTES = {
    Refill.Status.REJECTED: gettext_lazy("The provider did not accept this refill."),
    Refill.Status.ERROR: gettext_lazy("The provider gave no final answer on this refill; you can ask again later."),
    Refill.Status.CANCELED: gettext_lazy("The provider canceled this refill."),
}


@dataclass(frozen=True)
class CustomerStatus:
    """An order's status as its customer sees it: the word (in the page's language), and the badge colour that goes with it."""

    label: str
    tone: str


def customer_status(status: str) -> CustomerStatus:
    label = OrderStatus.customer_label(status)  # English: the tones are keyed by it, and the API answers with it
    return CustomerStatus(label=_(label), tone=STATUS_TONES[label])


def customer_remains(*, remains: int | None, total_quantity: int) -> int | None:
    """The provider's remains clamped to 0..total quantity; None (not known yet) stays None.

    Panels report over-delivery as negative remains ("-2") and sometimes more than
    was ordered: the customer sees neither.
    """
    if remains is None:
        return None
    return min(max(remains, 0), total_quantity)


def cancel_refusal(*, order: Order) -> str | None:
    """Why the customer cannot cancel the order, in plain words for the web pages; None if they can."""
    if order_can_cancel(order=order):
        return None
    if order.status in OrderStatus.FINAL:
        return _("It is already %(status)s: there is nothing left to cancel.") % {"status": _(OrderStatus.customer_label(order.status))}
    if order.cancel_requested_at is not None:
        return _("Its cancellation was already requested; the refund follows when the provider confirms.")
    if not order.provider_service.cancel:
        return _("This service does not take cancellations once the provider has the order.")
    return _("It is being handed to the provider right now; try again in a few minutes.")


def refill_refusal(*, order: Order) -> str | None:
    """Why the customer cannot ask for a refill of the order now, in plain words for the web pages; None if they can."""
    if order_can_refill(order=order):
        return order_refill_wait(order=order)  # a refill under way, or the cooldown after the last one
    if not order.provider_service.refill:
        return _("This service does not offer refills.")
    if order.status not in OrderStatus.REFILLABLE:
        return _("Only a completed or partial order can be refilled; this one is %(status)s.") % {
            "status": _(OrderStatus.customer_label(order.status))
        }
    return _("The provider has no record of this order, so it cannot be refilled.")
