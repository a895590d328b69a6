"""Admin for orders, with the needs-attention queue and its two resolutions, and for refills."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from shop.core.admin import ReadOnlyAdmin
from shop.core.numbers import id_number
from shop.orders.flow import TransitionError, order_resolve_not_placed, order_resolve_placed
from shop.orders.models import Order, OrderEvent, OrderStatus, Refill


class ResolveForm(forms.ModelForm):
    """Orders are read-only; one needing attention can be given the provider's order id."""

    record_upstream_id = forms.CharField(
        label="Provider's order id",
        required=False,
        max_length=64,
        help_text="Found the order at the provider? Enter its id: the order goes on as placed.",
    )

    class Meta:
        model = Order
        fields: list[str] = []


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


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    form = ResolveForm
    list_display = [
        "id",
        "created_at",
        "user",
        "service",
        "link",
        "charge",
        "refunded",
        "status",
        "upstream_order_id",
        "start_count",
        "remains",
    ]
    list_filter = ["status", CustomerFilter, "provider", "created_at"]
    search_fields = ["=id", "link", "=upstream_order_id", "user__username"]
    list_select_related = ["user", "service"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["declare_not_placed"]
    readonly_fields = [*(f.name for f in Order._meta.fields), "history"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and obj.status == OrderStatus.NEEDS_ATTENTION and request.user.is_superuser

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(self.readonly_fields)
        return ["record_upstream_id", *fields] if self.has_change_permission(request, obj) else fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.readonly_fields

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
        return format_html('<table class="order-history">{}<tbody>{}</tbody></table>', mark_safe(head), rows)  # noqa: S308

    def save_model(self, request: HttpRequest, obj: Order, form: forms.ModelForm, change: bool) -> None:
        upstream_id = form.cleaned_data.get("record_upstream_id", "")
        if not upstream_id:
            self.message_user(request, "Nothing recorded: no provider order id given.", messages.WARNING)
            return
        try:
            order_resolve_placed(order=obj, upstream_order_id=upstream_id, admin=request.user)
        except TransitionError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    @admin.action(description="Declare not placed at the provider (refund in full)")
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
