"""Support tickets in admin: the queue (Open first), and a ticket's page with its thread, a reply form, close and reopen,
and the customer's latest orders and top-ups beside the thread.

Staff answer with the ``change`` permission on tickets; the writes are ``shop.support.services``'. Tickets are opened
by customers only, and never deleted.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, DateTimeField, F, IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.decorators import display
from unfold.widgets import UnfoldAdminTextareaWidget

from shop.backoffice.links import customer_link
from shop.core.admin import ShopAdmin
from shop.orders.admin import CustomerFilter
from shop.support.models import BODY_MAX, Ticket, TicketStatus
from shop.support.selectors import customer_recent, thread_of
from shop.support.services import TicketRefused, ticket_close, ticket_reopen, ticket_reply

STATUS_LABELS = {TicketStatus.OPEN: "warning", TicketStatus.ANSWERED: "success", TicketStatus.CLOSED: "default"}
ACTIONS = ("reply", "close", "reopen")


class StaffReplyForm(forms.Form):
    message = forms.CharField(
        label="Answer",
        max_length=BODY_MAX,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 6}),
        error_messages={"required": "Write an answer.", "max_length": f"The answer is longer than {BODY_MAX} characters."},
    )
    close = forms.BooleanField(label="Close the ticket after answering", required=False)


@admin.register(Ticket)
class TicketAdmin(ShopAdmin):
    list_display = ["id", "subject", "customer", "category", "status_badge", "last_message"]
    list_display_links = ["id", "subject"]
    list_filter = ["status", "category", CustomerFilter]
    search_fields = ["=id", "subject", "user__username"]
    list_select_related = ["user"]
    show_full_result_count = False
    readonly_fields = [
        "id",
        "customer",
        "subject",
        "category",
        "status",
        "order_links",
        "created_at",
        "last_message_at",
        "closed_at",
        "closed_by",
    ]
    fields = readonly_fields
    change_form_template = "admin/shop/ticket/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers open tickets

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        """Nothing: every field is read-only, and a ticket changes only through its buttons (``action_view``), never by
        saving the form, which would write the row as it was read over a reply made meanwhile."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Nothing, as ``save_model``."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        # The queue first: tickets waiting for staff, the longest waiting at the top; then the rest, latest first.
        # (``ModelAdmin.get_queryset`` orders before any annotation could be added, hence the manager here.)
        waiting = Case(When(status=TicketStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
        since = Case(When(status=TicketStatus.OPEN, then=F("last_message_at")), default=None, output_field=DateTimeField())
        queryset = self.model._default_manager.get_queryset().annotate(waiting=waiting, waiting_since=since)
        return queryset.order_by(*self.get_ordering(request))

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["waiting", "waiting_since", "-last_message_at", "-id"]

    @admin.display(description="customer", ordering="user__username")
    def customer(self, ticket: Ticket) -> str:
        return customer_link(ticket.user)

    @display(description="status", ordering="status", label=STATUS_LABELS)
    def status_badge(self, ticket: Ticket) -> tuple[str, str]:
        return ticket.status, ticket.get_status_display()

    @admin.display(description="last message", ordering="last_message_at")
    def last_message(self, ticket: Ticket) -> str:
        return format_html(
            '<span class="whitespace-nowrap">{}</span>', timezone.localtime(ticket.last_message_at).strftime("%Y-%m-%d %H:%M")
        )

    @admin.display(description="orders")
    def order_links(self, ticket: Ticket) -> str:
        ids = ticket.orders.order_by("id").values_list("id", flat=True)
        return format_html_join(", ", '<a href="{}">#{}</a>', ((reverse("admin:shop_order_change", args=[pk]), pk) for pk in ids)) or "—"

    # The ticket's page and its actions

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/do/<str:action>/", self.admin_site.admin_view(self.action_view), name=f"{info}_act"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        ticket = self.get_object(request, object_id)
        extra: dict[str, Any] = {}
        if ticket is not None:
            orders, topups = customer_recent(user_id=ticket.user_id)
            extra = {
                "thread": thread_of(ticket=ticket),
                "reply_form": StaffReplyForm(),
                "may_answer": self.has_change_permission(request, ticket),
                "recent_orders": orders,
                "recent_topups": topups,
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if action not in ACTIONS:
            raise Http404(f"No such action: {action[:40]!r}.")
        ticket = self.get_object(request, object_id)
        if ticket is None:
            raise Http404(f"No ticket with id {object_id[:40]!r}.")
        if not self.has_change_permission(request, ticket):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[ticket.pk]))
        if action == "close":
            if ticket_close(ticket=ticket, by=request.user):
                self.log_change(request, ticket, "Closed.")
                self.message_user(request, f"Ticket #{ticket.pk} closed.", messages.SUCCESS)
            return back
        if action == "reopen":
            if ticket_reopen(ticket=ticket):
                self.log_change(request, ticket, "Reopened.")
                self.message_user(request, f"Ticket #{ticket.pk} reopened.", messages.SUCCESS)
            return back
        form = StaffReplyForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    self.message_user(request, f"{error} Nothing was sent.", messages.ERROR)
            return back
        try:
            ticket_reply(ticket=ticket, author=request.user, body=form.cleaned_data["message"], by_staff=True)
        except TicketRefused as exc:
            self.message_user(request, f"{exc} Nothing was sent.", messages.ERROR)
            return back
        self.log_change(request, ticket, "Answered.")
        if form.cleaned_data["close"]:
            ticket_close(ticket=ticket, by=request.user)
        self.message_user(request, f"Answer sent to {ticket.user}.", messages.SUCCESS)
        return back
