"""Customers' orders and their life upstream. Transitions live in ``shop.orders.flow``."""

from __future__ import annotations

from decimal import Decimal
from enum import nonmember

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from shop.catalogue.models import Provider, ProviderService, Service
from shop.wallet.models import MONEY_DIGITS, MONEY_PLACES


class OrderStatus(models.TextChoices):
    """An order's status, and the one definition of each set of statuses the shop reasons about.

    The sets hold plain values in the order orders move through them (enum
    members compare equal to them), so they serve queries as well as tests.
    """

    AWAITING = "awaiting", gettext_noop("Awaiting submission")
    SUBMITTING = "submitting", gettext_noop("Submitting")
    PENDING = "pending", gettext_noop("Pending")
    IN_PROGRESS = "in_progress", gettext_noop("In progress")
    PROCESSING = "processing", gettext_noop("Processing")
    COMPLETED = "completed", gettext_noop("Completed")
    PARTIAL = "partial", gettext_noop("Partial")
    CANCELED = "canceled", gettext_noop("Canceled")
    FAILED = "failed", gettext_noop("Failed")
    NEEDS_ATTENTION = "needs_attention", gettext_noop("Needs attention")
    # Subscriptions orders (the provider's words): running, paused by the provider, ended by their expiry date.
    SUB_ACTIVE = "active", gettext_noop("Active")
    SUB_PAUSED = "paused", gettext_noop("Paused")
    EXPIRED = "expired", gettext_noop("Expired")

    #: Charged, not yet with the provider: the submit task and the sweeper work on these.
    UNPLACED = nonmember(("awaiting", "submitting"))
    #: Placed upstream and not finished: the poller asks the provider about these.
    ACTIVE = nonmember(("pending", "in_progress", "processing", "active", "paused"))
    #: The provider's answers once it has the order (``ACTIVE`` or an end it reports).
    PLACED = nonmember(("pending", "in_progress", "processing", "active", "paused", "completed", "partial", "canceled", "expired"))
    #: Finished statuses the provider reports.
    UPSTREAM_FINAL = nonmember(("completed", "partial", "canceled", "expired"))
    #: Nothing changes any more.
    FINAL = nonmember(("completed", "partial", "canceled", "failed", "expired"))
    #: Not final: may still change by itself, so pages keep refreshing it (the dashboard's queue too).
    LIVE = nonmember(("awaiting", "submitting", "pending", "in_progress", "processing", "active", "paused", "needs_attention"))
    #: Reaching one of these gives money back: the undelivered share (Partial) or all of it.
    #: (A subscription gives back the part of its reserve it did not use at any end: Completed and Expired too.)
    REFUNDABLE = nonmember(("partial", "canceled", "failed"))
    #: A customer may ask the provider to cancel (awaiting orders are canceled here instead).
    CANCELLABLE = nonmember(("pending", "in_progress", "processing", "active", "paused"))
    #: A customer may ask the provider for a refill (where the service offers refills).
    REFILLABLE = nonmember(("completed", "partial"))
    #: What customers see: the shop's own steps read as Pending, a refused order as Canceled. In English, as the reseller
    #: API answers; pages translate them where they show them (``shop.orders.display.customer_status``). The labels above
    #: stay English too (the admin's), marked for the catalogue so that a customer's mail can translate them.
    CUSTOMER_LABELS = nonmember(
        {
            "awaiting": gettext_noop("Pending"),
            "submitting": gettext_noop("Pending"),
            "pending": gettext_noop("Pending"),
            "in_progress": gettext_noop("In progress"),
            "processing": gettext_noop("Processing"),
            "needs_attention": gettext_noop("Processing"),
            "active": gettext_noop("Active"),
            "paused": gettext_noop("Paused"),
            "completed": gettext_noop("Completed"),
            "partial": gettext_noop("Partial"),
            "canceled": gettext_noop("Canceled"),
            "failed": gettext_noop("Canceled"),
            "expired": gettext_noop("Expired"),
        }
    )

    @classmethod
    def customer_label(cls, status: str) -> str:
        return cls.CUSTOMER_LABELS[status]


class Order(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="orders")
    # Snapshots taken when the order is placed: later catalogue changes do not move them.
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="orders")
    provider_service = models.ForeignKey(ProviderService, on_delete=models.PROTECT, related_name="orders")
    link = models.CharField(max_length=2000, blank=True)
    quantity = models.BigIntegerField(help_text="Per run for drip-feed orders.")
    runs = models.PositiveIntegerField(null=True, blank=True)
    interval = models.PositiveIntegerField("interval (minutes)", null=True, blank=True)
    total_quantity = models.BigIntegerField(help_text="What is delivered in all: quantity x runs.")
    extra = models.JSONField(default=dict, blank=True, help_text="The fields of the service's type (comments, usernames, ...).")
    rate = models.DecimalField(max_digits=20, decimal_places=6, help_text="Retail rate per 1000 when ordered.")
    charge = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    refunded = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=Decimal("0"))

    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.AWAITING)
    # NULL, not "", until placed: the unique constraint must allow many unplaced orders.
    upstream_order_id = models.CharField("upstream order id", max_length=64, null=True, blank=True)  # noqa: DJ001
    upstream_status = models.CharField("upstream's word", max_length=64, blank=True)
    start_count = models.BigIntegerField(null=True, blank=True)
    remains = models.BigIntegerField(null=True, blank=True)
    upstream_charge = models.DecimalField("cost (provider currency)", max_digits=20, decimal_places=5, null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, help_text="The last problem, in words fit for the customer.")
    cancel_requested_at = models.DateTimeField(null=True, blank=True, help_text="When the customer asked the provider to cancel.")
    cancel_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When a task took the cancellation to send it (one sender at a time; retried when stale)."
    )

    submit_attempts = models.PositiveIntegerField(default=0)
    submitting_since = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="Awaiting orders: not sent before this (the back-off after a failed or held attempt)."
    )
    # The one-time token of the order form that placed it: a second submission of that form finds this order.
    form_token = models.UUIDField(null=True, blank=True, editable=False)
    next_check_at = models.DateTimeField(null=True, blank=True)
    checks = models.PositiveIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    posts_done = models.PositiveIntegerField(
        "posts done", null=True, blank=True, help_text="Subscriptions: the posts the provider has served so far (its status reply's posts)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("resolve_order", "Can resolve orders that need attention")]
        indexes = [
            models.Index(fields=["user", "-id"], name="order_user_recent"),
            models.Index(fields=["user", "status", "-id"], name="order_user_status_recent"),
            # The admin's list filtered by a status, newest first, at any depth: without it a Completed page read the
            # pkey backwards past every unfinished order first (a day's orders: 31 ms at 10,000,000 orders). Also the
            # dashboard's and the metrics' counts of unfinished orders by status: the range of each such status.
            models.Index(fields=["status", "-id"], name="order_status_recent"),
            # The admin's search by the provider's order id, whatever the provider.
            models.Index(fields=["upstream_order_id"], name="order_upstream_id"),
            # Only unfinished orders are ever looked up by these: partial indexes stay small.
            models.Index(
                fields=["provider", "next_check_at"],
                name="order_poll_queue",
                condition=Q(status__in=OrderStatus.ACTIVE),
            ),
            models.Index(fields=["status", "created_at"], name="order_unplaced", condition=Q(status__in=OrderStatus.UNPLACED)),
            # The link rule (one unfinished order per link and service): the service's unfinished orders only.
            models.Index(fields=["service"], name="order_live_service", condition=Q(status__in=OrderStatus.LIVE)),
            # A service's average time (shop.orders.averages): its last completed orders, newest first.
            models.Index(fields=["service", "-finished_at", "-id"], name="order_completed_recent", condition=Q(status="completed")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["provider", "upstream_order_id"], name="order_unique_upstream_id"),
            models.UniqueConstraint(fields=["user", "form_token"], name="order_one_per_form"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(condition=Q(total_quantity__gte=F("quantity")), name="order_total_at_least_quantity"),
            models.CheckConstraint(condition=Q(charge__gt=0), name="order_charge_positive"),
            models.CheckConstraint(condition=Q(refunded__gte=0) & Q(refunded__lte=F("charge")), name="order_refund_within_charge"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_known"),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}"


class Refill(models.Model):
    """A refill asked for an order, forwarded to the provider."""

    class Status(models.TextChoices):
        PENDING = "Pending"
        IN_PROGRESS = "In progress"
        COMPLETED = "Completed"
        REJECTED = "Rejected"
        ERROR = "Error"
        CANCELED = "Canceled"

        @classmethod
        def final(cls) -> frozenset[str]:
            """Statuses the provider will not change any more: no need to ask again."""
            return frozenset({cls.COMPLETED, cls.REJECTED, cls.ERROR, cls.CANCELED})

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refills")
    upstream_refill_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=255, blank=True)
    sending_at = models.DateTimeField(
        null=True, blank=True, help_text="When a task took the refill to send it (one sender at a time; retried when stale)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One refill of an order under way at a time: a second request (a double click, the
            # same id twice in one call, two calls at once) cannot add a row. The statuses are
            # those of ``Status.final()``, which the class body of Meta cannot reach.
            models.UniqueConstraint(
                fields=["order"],
                condition=~Q(status__in=["Canceled", "Completed", "Error", "Rejected"]),
                name="refill_one_open_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Refill #{self.pk} of order #{self.order_id}"


class OrderEvent(models.Model):
    """One thing that happened to an order, and who made it happen. Never updated or deleted (a database trigger refuses both).

    ``detail`` holds what staff need (the provider's id, its raw message or
    figures, amounts as text); customers see a timeline built from ``kind``
    and ``status`` only (``shop.orders.timeline``).
    """

    class Kind(models.TextChoices):
        PLACED = "placed", "Placed"
        CLAIMED = "claimed", "Taken for submission"
        SENT = "sent", "Sent to the provider"
        RETRY = "retry", "Not sent: to be tried again"
        HELD = "held", "Held back"
        REFUSED = "refused", "Refused by the provider"
        UNKNOWN = "unknown", "Outcome unknown"
        RESOLVED = "resolved", "Resolved by an admin"
        STATUS = "status", "Status reading"
        REFUNDED = "refunded", "Refunded"
        REFILL_REQUESTED = "refill_requested", "Refill requested"
        REFILL_STATUS = "refill_status", "Refill status"
        CANCEL_REQUESTED = "cancel_requested", "Cancel requested"
        CANCELED = "canceled", "Canceled before it was sent"

    class Actor(models.TextChoices):
        CUSTOMER = "customer", "Customer (web)"
        API = "api", "Customer (API)"
        ADMIN = "admin", "Admin"
        SYSTEM = "system", "System"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.CharField(max_length=10, choices=Actor.choices)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    key_prefix = models.CharField("API key", max_length=12, blank=True, help_text="The first characters of the key an API call used.")
    status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True, help_text="The order's status after the event.")
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["order", "id"], name="order_event_timeline")]
        constraints = [
            models.CheckConstraint(condition=~Q(actor="admin") | Q(actor_user__isnull=False), name="order_event_admin_named"),
            models.CheckConstraint(condition=~Q(actor="api") | ~Q(key_prefix=""), name="order_event_api_key_named"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (order #{self.order_id})"
