"""Support tickets: a customer's question to staff (subject, category, the orders it is about) and its thread of messages."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils.translation import gettext_lazy as _

from shop.orders.models import Order

SUBJECT_MAX = 120
BODY_MAX = 5000


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")  # waiting for staff
    ANSWERED = "answered", _("Answered")  # staff wrote last: waiting for the customer
    CLOSED = "closed", _("Closed")


class TicketCategory(models.TextChoices):
    # Customers choose one on the new ticket form and read it on their tickets.
    ORDER = "order", _("Order")
    PAYMENT = "payment", _("Payment")
    API = "api", "API"
    OTHER = "other", _("Other")


class Ticket(models.Model):
    """Changed only through ``shop.support.services``; a customer reaches only their own (``shop.support.selectors``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets")
    subject = models.CharField(max_length=SUBJECT_MAX)
    category = models.CharField(max_length=16, choices=TicketCategory.choices)
    status = models.CharField(max_length=16, choices=TicketStatus.choices, default=TicketStatus.OPEN)
    orders = models.ManyToManyField(Order, blank=True, related_name="tickets", help_text="The customer's orders this ticket is about.")
    customer_unread = models.BooleanField(default=False, help_text="Staff wrote since the customer last read the ticket.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-last_message_at", "-id"], name="ticket_user_latest"),
            models.Index(fields=["user"], condition=Q(customer_unread=True), name="ticket_customer_unread"),
            models.Index(fields=["last_message_at"], condition=Q(status="open"), name="ticket_open_queue"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=TicketStatus.values), name="ticket_status_known"),
            models.CheckConstraint(condition=Q(category__in=TicketCategory.values), name="ticket_category_known"),
            models.CheckConstraint(condition=~Q(subject=""), name="ticket_subject_not_blank"),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False) | (~Q(status="closed") & Q(closed_at__isnull=True)),
                name="ticket_closed_at_iff_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"Ticket #{self.pk}: {self.subject}"


class TicketMessage(models.Model):
    """One message of a ticket's thread, by the customer or by staff. Append-only."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    by_staff = models.BooleanField()
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["ticket", "id"], name="ticketmessage_ticket")]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="ticketmessage_body_not_blank"),
            models.CheckConstraint(condition=LessThanOrEqual(Length("body"), BODY_MAX), name="ticketmessage_body_bounded"),
        ]

    def __str__(self) -> str:
        return f"Message #{self.pk} of ticket #{self.ticket_id}"
