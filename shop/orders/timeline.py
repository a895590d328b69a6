"""An order's history as its customer reads it: plain sentences, no provider names, upstream ids or raw errors.

Staff read the full events in admin; this keeps only what the customer
needs, from each event's kind, status and the few figures that are theirs
(charge and refund as people read them, start count, remains clamped to the order's quantity).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext as _

from shop.orders.display import customer_remains, refill_status_shown
from shop.orders.models import Order, OrderEvent, OrderStatus
from shop.storefront.templatetags.shop_format import format_money

Kind = OrderEvent.Kind


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    text: str


def order_timeline(*, order: Order, limit: int = 200) -> list[TimelineEntry]:
    """The customer's timeline of ``order``, oldest first; repeated lines (a long hold, retries) are shown once."""
    entries: list[TimelineEntry] = []
    for entry in order.events.order_by("id")[:limit]:
        text = _text(entry, order)
        if text and (not entries or entries[-1].text != text):
            entries.append(TimelineEntry(entry.created_at, text))
    return entries


def _text(entry: OrderEvent, order: Order) -> str:
    detail = entry.detail or {}
    currency = settings.SHOP_CURRENCY
    match entry.kind:
        case Kind.PLACED:
            if "note" in detail:
                return _("Order placed.")
            return _("Order placed: %(amount)s %(currency)s charged.") % {
                "amount": format_money(detail.get("charge", order.charge)),
                "currency": currency,
            }
        case Kind.SENT:
            return _("Sent for processing.")
        case Kind.RETRY | Kind.HELD:
            return _("Waiting to be sent for processing.")
        case Kind.REFUSED:
            return _("It could not be placed.")
        case Kind.UNKNOWN:
            return _("Our team is checking this order.")
        case Kind.RESOLVED:
            if detail.get("outcome") == "placed":
                return _("Checked by our team: it goes on.")
            return _("Checked by our team: it was not placed.")
        case Kind.STATUS:
            return _status_text(entry, order)
        case Kind.REFUNDED:
            return _("Refunded %(amount)s %(currency)s.") % {"amount": format_money(detail.get("amount")), "currency": currency}
        case Kind.REFILL_REQUESTED:
            return _("Refill #%(id)s requested.") % {"id": detail.get("refill")}
        case Kind.REFILL_STATUS:
            # The status is the provider's word as stored (``Refill.Status``), translated as the refills page shows it.
            return _("Refill #%(id)s: %(status)s.") % {
                "id": detail.get("refill"),
                "status": refill_status_shown(str(detail.get("refill_status"))),
            }
        case Kind.CANCEL_REQUESTED:
            if detail.get("refused"):
                return _("The cancellation was not accepted.")
            return "" if entry.actor == OrderEvent.Actor.SYSTEM else _("Cancellation requested.")
        case Kind.CANCELED:
            return _("Canceled before it was sent.")
    return ""  # Taken for submission: the shop's own step, nothing for the customer


def _status_text(entry: OrderEvent, order: Order) -> str:
    detail = entry.detail or {}
    parts = [_("Status: %(status)s") % {"status": _(OrderStatus.customer_label(entry.status))}]
    if detail.get("start_count") is not None:
        parts.append(_("start count %(count)s") % {"count": detail["start_count"]})
    remains = customer_remains(remains=detail.get("remains"), total_quantity=order.total_quantity)
    if remains is not None:
        parts.append(_("remains %(count)s") % {"count": remains})
    return ", ".join(parts) + "."
