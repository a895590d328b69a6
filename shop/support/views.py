"""The customer's support pages: their tickets, a new ticket, a ticket's thread with the reply form, closing.

Thin views over ``shop.support.services``. Every ticket is read through
``selectors.ticket_of`` with the signed-in customer, so another customer's
ticket is a 404 on every page and action.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shop.core.numbers import id_number
from shop.storefront.pagination import page_of
from shop.support import selectors
from shop.support.forms import ReplyForm, TicketForm
from shop.support.models import TicketCategory, TicketStatus
from shop.support.services import TicketRefused, ticket_close, ticket_open, ticket_reply, ticket_seen

TICKETS_PER_PAGE = 25
# What each status means for the customer, and its badge's colour class (as the orders' badges in shop.orders.display).
STATUS_SHOWN = {
    TicketStatus.OPEN: (gettext_lazy("Waiting for support"), "info"),
    TicketStatus.ANSWERED: (gettext_lazy("Answered"), "good"),
    TicketStatus.CLOSED: (gettext_lazy("Closed"), "neutral"),
}


@login_required
@require_GET
def tickets(request: HttpRequest) -> HttpResponse:
    page = page_of(selectors.tickets_of(user=request.user), request.GET.get("page"), TICKETS_PER_PAGE)
    return render(
        request, "support/tickets.html", {"page": page, "rows": [(ticket, STATUS_SHOWN[ticket.status]) for ticket in page.object_list]}
    )


@login_required
@require_http_methods(["GET", "POST"])
def ticket_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = TicketForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                ticket = ticket_open(
                    user=request.user, subject=data["subject"], category=data["category"], body=data["message"], order_ids=data["orders"]
                )
            except TicketRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Ticket #%(id)s sent: support will answer here.") % {"id": ticket.pk})
                return redirect("ticket-detail", pk=ticket.pk)
    else:
        # "Ask about this order" links here with ?order=N: the number is only a suggestion, checked when sent.
        order = id_number(request.GET.get("order", ""))
        form = TicketForm(initial={"orders": str(order), "category": TicketCategory.ORDER} if order else None)
    return render(request, "support/ticket_new.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_of(user=request.user, pk=pk)
    form = ReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ticket_reply(ticket=ticket, author=request.user, body=form.cleaned_data["message"], by_staff=False)
        except TicketRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Message sent."))
            return redirect("ticket-detail", pk=ticket.pk)
    if request.method == "GET":
        ticket_seen(ticket=ticket)
    return render(
        request,
        "support/ticket_detail.html",
        {
            "ticket": ticket,
            "status": STATUS_SHOWN[ticket.status],
            "thread": selectors.thread_of(ticket=ticket),
            "order_ids": selectors.ticket_order_ids(ticket=ticket),
            "form": form,
            "closed": ticket.status == TicketStatus.CLOSED,
        },
    )


@login_required
@require_POST
def ticket_close_request(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_of(user=request.user, pk=pk)
    if ticket_close(ticket=ticket, by=request.user):
        messages.success(request, _("Ticket #%(id)s closed.") % {"id": ticket.pk})
    return redirect("ticket-detail", pk=ticket.pk)
