"""Reads of support tickets. A customer's reads always filter on the customer: another's ticket is simply not found."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from shop.orders.models import Order
from shop.payments.models import TopUp
from shop.support.models import Ticket, TicketMessage

BESIDE_THREAD = 10
THREAD_SHOWN = 300


def tickets_of(*, user: AbstractBaseUser) -> QuerySet[Ticket]:
    """``user``'s tickets, the latest message first (index ``ticket_user_latest``)."""
    return Ticket.objects.filter(user=user).order_by("-last_message_at", "-id")


def ticket_of(*, user: AbstractBaseUser, pk: int) -> Ticket:
    """``user``'s ticket ``pk``; Http404 when there is none, whoever else's it may be."""
    ticket = Ticket.objects.filter(user=user, pk=pk).first()
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


def thread_of(*, ticket: Ticket) -> list[TicketMessage]:
    """The thread, oldest first: its latest ``THREAD_SHOWN`` messages (a customer writes at most 100 in one ticket)."""
    latest = TicketMessage.objects.filter(ticket=ticket).select_related("author").order_by("-id")[:THREAD_SHOWN]
    return list(reversed(latest))


def ticket_order_ids(*, ticket: Ticket) -> list[int]:
    return list(ticket.orders.order_by("id").values_list("id", flat=True))


def unread_count(*, user: AbstractBaseUser) -> int:
    """How many of ``user``'s tickets have an answer they have not read (partial index ``ticket_customer_unread``)."""
    return Ticket.objects.filter(user=user, customer_unread=True).count()


def customer_recent(*, user_id: int) -> tuple[list[Order], list[TopUp]]:
    """The customer's latest orders and top-ups, shown to staff beside a ticket's thread (two queries)."""
    orders = list(Order.objects.filter(user_id=user_id).select_related("service").order_by("-id")[:BESIDE_THREAD])
    topups = list(TopUp.objects.filter(user_id=user_id).select_related("method").order_by("-id")[:BESIDE_THREAD])
    return orders, topups
