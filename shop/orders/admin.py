"""Admin for orders, with the needs-attention queue (why and for how long) and its two resolutions, and for refills.

The list's first columns are what an operator scans: number, customer, service, status, charge, created.
Filtered to needs attention, it shows why each order is stuck and for how long; the resolutions are
bulk actions here and buttons on each order's page (``shop.orders.admin_resolutions``).
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from unfold.decorators import display

from shop.backoffice.links import customer_link
from shop.core.admin import ReadOnlyAdmin, search_words
from shop.core.numbers import id_number
from shop.core.paging import IdsFirstPaginator
from shop.orders.admin_resolutions import OrderResolutions, stuck_for
from shop.orders.flow import TransitionError, order_resolve_not_placed
from shop.orders.models import Order, OrderEvent, OrderStatus, Refill
from shop.orders.selectors import orders_matching
from shop.storefront.templatetags.shop_format import format_money

# Unfold's label colours per status; every status is listed (unfold shows the raw value of one that is not), "default" is grey.
STATUS_LABELS = {
    OrderStatus.AWAITING: "info",
    OrderStatus.SUBMITTING: "info",
    OrderStatus.PENDING: "primary",
    OrderStatus.IN_PROGRESS: "primary",
    OrderStatus.PROCESSING: "primary",
    OrderStatus.COMPLETED: "success",
    OrderStatus.PARTIAL: "warning",
    OrderStatus.CANCELED: "default",
    OrderStatus.FAILED: "danger",
    OrderStatus.NEEDS_ATTENTION: "danger",
    OrderStatus.SUB_ACTIVE: "primary",
    OrderStatus.SUB_PAUSED: "warning",
    OrderStatus.EXPIRED: "default",
}
SERVICE_CHARS = 40
ATTENTION_FILTER = ("status__exact", OrderStatus.NEEDS_ATTENTION)


class CustomerFilter(admin.SimpleListFilter):
    """Orders of one customer, chosen by ``?user__id__exact=<id>`` (the customers list links here).

    Lists only the chosen customer, never every user: the search box finds customers by username.
    """

    title = "customer"
    parameter_name = "user__id__exact"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        if value is None:
            return []
        if id_number(value) is None:
            raise IncorrectLookupParameters(f"Not a customer id: {value!r}")
        username = get_user_model().objects.filter(pk=value).values_list("username", flat=True).first()
        # Still listed when the customer does not exist, so the filter applies (and finds nothing).
        return [(value, username or f"#{value} (no such customer)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        return queryset.filter(user_id=value) if value else queryset


HISTORY_ROWS = 500


def _actor(event: OrderEvent) -> str:
    if event.actor == OrderEvent.Actor.API:
        return f"{event.get_actor_display()}, key {event.key_prefix}…"
    if event.actor_user_id is not None:
        return f"{event.get_actor_display()}: {event.actor_user}"
    return event.get_actor_display()


def _attention_list(request: HttpRequest) -> bool:
    key, value = ATTENTION_FILTER
    return request.GET.get(key) == value


@admin.register(Order)
class OrderAdmin(OrderResolutions, ReadOnlyAdmin):
    list_display = ["id", "customer", "service_short", "status_badge", "charge_display", "created", "refunded_display", "upstream_order_id"]
    list_display_links = ["id"]
    list_filter = ["status", CustomerFilter, "provider", "created_at"]
    search_fields = ["=id", "link", "=upstream_order_id", "user__username"]
    list_select_related = ["user", "service"]
    paginator = IdsFirstPaginator  # the ids from an index alone (order_status_recent, order_user_recent...), then the rows
    actions = ["declare_not_placed"]
    readonly_fields = [*(f.name for f in Order._meta.fields), "customer", "history"]
    fieldsets = [
        (
            "Order",
            {"fields": ["id", "customer", "service", "link", "quantity", "runs", "interval", "total_quantity", "extra", "status", "error"]},
        ),
        ("Money", {"fields": ["rate", "charge", "refunded", "upstream_charge"]}),
        (
            "Provider",
            {
                "fields": [
                    "provider",
                    "provider_service",
                    "upstream_order_id",
                    "upstream_status",
                    "start_count",
                    "remains",
                    "cancel_requested_at",
                ]
            },
        ),
        (
            "Timing",
            {
                "classes": ["collapse"],
                "fields": [
                    "created_at",
                    "updated_at",
                    "finished_at",
                    "submit_attempts",
                    "submitting_since",
                    "next_attempt_at",
                    "next_check_at",
                    "checks",
                    "last_checked_at",
                    "cancel_sent_at",
                    "form_token",
                ],
            },
        ),
        ("History", {"fields": ["history"]}),
    ]
    change_form_template = "admin/shop/order/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        queryset = super().get_queryset(request)
        # How long each listed order has been stuck: a subquery per row shown, only on the needs-attention list.
        return self.with_attention_since(queryset) if _attention_list(request) else queryset

    def get_list_display(self, request: HttpRequest) -> list[str]:
        if _attention_list(request):
            return ["id", "customer", "service_short", "status_badge", "charge_display", "stuck", "reason", "created"]
        return list(self.list_display)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Order], search_term: str) -> tuple[QuerySet[Order], bool]:
        """By number, provider order id, any part of the link or of the customer's username, each from an index."""
        return orders_matching(orders=queryset, words=search_words(search_term)), False

    @admin.display(description="customer", ordering="user__username")
    def customer(self, order: Order) -> str:
        return customer_link(order.user)

    @admin.display(description="service", ordering="service__name")
    def service_short(self, order: Order) -> str:
        name = str(order.service)
        return format_html('<span title="{}">{}</span>', name, Truncator(name).chars(SERVICE_CHARS))

    @display(description="status", ordering="status", label=STATUS_LABELS)
    def status_badge(self, order: Order) -> tuple[str, str]:
        return order.status, order.get_status_display()

    @admin.display(description="charge", ordering="charge")
    def charge_display(self, order: Order) -> str:
        return format_money(order.charge)

    @admin.display(description="refunded", ordering="refunded", empty_value="")
    def refunded_display(self, order: Order) -> str | None:
        return format_money(order.refunded) if order.refunded else None

    @admin.display(description="created", ordering="created_at")
    def created(self, order: Order) -> str:
        return format_html('<span class="whitespace-nowrap">{}</span>', timezone.localtime(order.created_at).strftime("%Y-%m-%d %H:%M"))

    @admin.display(description="stuck for", ordering="attention_since")
    def stuck(self, order: Order) -> str:
        return stuck_for(getattr(order, "attention_since", None))

    @admin.display(description="why")
    def reason(self, order: Order) -> str:
        return order.error or "No reason recorded."

    @admin.display(description="history")
    def history(self, obj: Order) -> str:
        """Every event of the order for staff, oldest first: actor, status and the provider's own words and ids."""
        events = obj.events.select_related("actor_user").order_by("id")[:HISTORY_ROWS]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                    event.get_kind_display(),
                    _actor(event),
                    event.get_status_display() if event.status else "",
                    json.dumps(event.detail, ensure_ascii=False),
                )
                for event in events
            ),
        )
        head = "<thead><tr><th>When</th><th>What</th><th>Who</th><th>Status after</th><th>Detail</th></tr></thead>"
        return format_html('<table class="order-history bo-table">{}<tbody>{}</tbody></table>', mark_safe(head), rows)  # noqa: S308

    @admin.action(description="Declare not placed at the provider (refund in full)", permissions=["resolve"])
    def declare_not_placed(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        done = 0
        for order in queryset:
            try:
                order_resolve_not_placed(order=order, admin=request.user)
                done += 1
            except TransitionError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        if done:
            self.message_user(request, f"{done} orders declared not placed and refunded.", messages.SUCCESS)


@admin.register(Refill)
class RefillAdmin(ReadOnlyAdmin):
    list_display = ["id", "order", "upstream_refill_id", "status", "error", "created_at", "updated_at"]
    list_filter = ["status"]
    search_fields = ["=order__id", "upstream_refill_id"]
    list_select_related = ["order"]
