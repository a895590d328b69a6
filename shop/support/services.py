"""Writes of support tickets: open, reply (customer or staff), close, reopen, mark read.

Every write takes the ticket's row lock, so a reply and a close at the same
moment leave a status that matches the last message. Whom a ticket belongs to
is the caller's check (``shop.support.selectors.ticket_of`` for customers; the
admin's permissions for staff); the orders a ticket names are checked here:
only the customer's own, and a number that is not theirs is refused in the
same words whether it exists or not.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.notifications.kinds import TICKET_ANSWERED
from shop.notifications.queue import notify_later
from shop.orders.models import Order
from shop.support.models import BODY_MAX, SUBJECT_MAX, Ticket, TicketCategory, TicketMessage, TicketStatus

MAX_OPEN = 5  # a customer's tickets waiting for staff at once
MAX_ORDERS = 20
MAX_MESSAGES = 100  # a customer's messages in one ticket: past it, a new ticket (the thread stays readable)


class TicketRefused(ValueError):
    """Nothing was written; the message says why, for people."""


def ticket_open(*, user: AbstractBaseUser, subject: str, category: str, body: str, order_ids: Iterable[int] = ()) -> Ticket:
    """A new ticket with its first message, waiting for staff; refuses orders that are not ``user``'s."""
    subject, body = subject.strip(), _body(body)
    if not subject:
        raise TicketRefused(_("Write a subject."))
    if len(subject) > SUBJECT_MAX:
        raise TicketRefused(_("The subject is longer than %(max)s characters.") % {"max": SUBJECT_MAX})
    if category not in TicketCategory.values:
        raise TicketRefused(_("Choose a category."))
    wanted = sorted(set(order_ids))
    if len(wanted) > MAX_ORDERS:
        raise TicketRefused(_("A ticket can name at most %(max)s orders.") % {"max": MAX_ORDERS})
    with transaction.atomic():
        # The customer's row serialises their openings, so two tabs cannot pass the open-tickets limit together.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        orders = set(Order.objects.filter(user=user, pk__in=wanted).values_list("pk", flat=True))
        foreign = [number for number in wanted if number not in orders]
        if foreign:
            listed = ", ".join(f"#{number}" for number in foreign)
            raise TicketRefused(_("Not one of your orders: %(orders)s.") % {"orders": listed})
        if Ticket.objects.filter(user=user, status=TicketStatus.OPEN).count() >= MAX_OPEN:
            raise TicketRefused(
                _("You have %(count)s tickets waiting for an answer: please wait for one before opening another.") % {"count": MAX_OPEN}
            )
        now = timezone.now()
        ticket = Ticket.objects.create(user=user, subject=subject, category=category, last_message_at=now)
        ticket.orders.set(orders)
        TicketMessage.objects.create(ticket=ticket, author=user, by_staff=False, body=body)
    return ticket


def ticket_reply(*, ticket: Ticket, author: AbstractBaseUser, body: str, by_staff: bool) -> TicketMessage:
    """A message in ``ticket``'s thread. A customer's reopens nothing: a closed ticket takes no more messages from them.

    Staff's answer marks the ticket Answered and unread by the customer; the customer's puts it back in staff's queue (Open).
    """
    body = _body(body)
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if locked.status == TicketStatus.CLOSED and not by_staff:
            raise TicketRefused(_("This ticket is closed: open a new one if you need more help."))
        if not by_staff and TicketMessage.objects.filter(ticket=locked, by_staff=False).count() >= MAX_MESSAGES:
            raise TicketRefused(_("This ticket has %(count)s of your messages: please open a new one.") % {"count": MAX_MESSAGES})
        message = TicketMessage.objects.create(ticket=locked, author=author, by_staff=by_staff, body=body)
        locked.status = TicketStatus.ANSWERED if by_staff else TicketStatus.OPEN
        locked.customer_unread = by_staff
        locked.last_message_at = message.created_at
        locked.closed_at = None
        locked.closed_by = None
        locked.save(update_fields=["status", "customer_unread", "last_message_at", "closed_at", "closed_by"])
        if by_staff:
            notify_later(TICKET_ANSWERED, locked.pk)
    _copy(locked, ticket)
    return message


def ticket_close(*, ticket: Ticket, by: AbstractBaseUser) -> bool:
    """Close ``ticket`` (the customer's or staff's choice); False when it was closed already."""
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if locked.status == TicketStatus.CLOSED:
            return False
        locked.status = TicketStatus.CLOSED
        locked.closed_at = timezone.now()
        locked.closed_by = by
        locked.save(update_fields=["status", "closed_at", "closed_by"])
    _copy(locked, ticket)
    return True


def ticket_reopen(*, ticket: Ticket) -> bool:
    """Put a closed ticket back in staff's queue (staff only); False when it was not closed."""
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if locked.status != TicketStatus.CLOSED:
            return False
        locked.status = TicketStatus.OPEN
        locked.closed_at = None
        locked.closed_by = None
        locked.save(update_fields=["status", "closed_at", "closed_by"])
    _copy(locked, ticket)
    return True


def ticket_seen(*, ticket: Ticket) -> None:
    """The customer has read ``ticket``'s thread (writes only when there was something unread)."""
    if ticket.customer_unread:
        Ticket.objects.filter(pk=ticket.pk, customer_unread=True).update(customer_unread=False)
        ticket.customer_unread = False


def _body(body: str) -> str:
    body = body.strip()
    if not body:
        raise TicketRefused(_("Write a message."))
    if len(body) > BODY_MAX:
        raise TicketRefused(_("The message is longer than %(max)s characters.") % {"max": BODY_MAX})
    return body


def _copy(source: Ticket, target: Ticket) -> None:
    for field in ("status", "customer_unread", "last_message_at", "closed_at", "closed_by_id"):
        setattr(target, field, getattr(source, field))
