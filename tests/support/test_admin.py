"""Support tickets in admin: the queue, a ticket's thread with the customer's latest orders and top-ups, answering,
closing and reopening; staff who may only view cannot answer."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from shop.support.models import Ticket, TicketMessage, TicketStatus
from shop.support.services import ticket_close, ticket_open
from tests.factories import UserFactory
from tests.helpers import messages_of, order_row

pytestmark = pytest.mark.django_db


def open_one(user, subject: str = "Where is my order?", order_ids=()) -> Ticket:
    return ticket_open(user=user, subject=subject, category="order", body="It has not started.", order_ids=order_ids)


def staff_client(*codenames: str) -> Client:
    member = UserFactory(is_staff=True)
    member.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(member)
    return client


def act(client: Client, ticket: Ticket, action: str, **data):
    return client.post(reverse("admin:shop_ticket_act", args=[ticket.pk, action]), data, follow=True)


def test_the_queue_lists_waiting_tickets_first_the_longest_waiting_on_top(admin_client, customer) -> None:
    first = open_one(customer, "First")
    answered = open_one(customer, "Answered")
    act(admin_client, answered, "reply", message="Done.")
    last = open_one(customer, "Last")
    listed = list(admin_client.get(reverse("admin:shop_ticket_changelist")).context["cl"].result_list)
    assert listed == [first, last, answered]
    waiting = admin_client.get(reverse("admin:shop_ticket_changelist"), {"status__exact": "open"}).context["cl"].result_list
    assert list(waiting) == [first, last]


def test_a_tickets_page_shows_the_thread_and_the_customers_latest_orders(admin_client, customer) -> None:
    order = order_row(customer)
    other = order_row(UserFactory())
    ticket = open_one(customer, order_ids=[order.pk])
    page = admin_client.get(reverse("admin:shop_ticket_change", args=[ticket.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "It has not started." in html
    assert reverse("admin:shop_order_change", args=[order.pk]) in html
    assert reverse("admin:shop_order_change", args=[other.pk]) not in html
    assert 'id="ticket-send"' in html


def test_staff_answer_and_close_in_one_go_and_the_customer_sees_it_unread(admin_client, customer) -> None:
    ticket = open_one(customer)
    response = act(admin_client, ticket, "reply", message="Restarted at the provider.", close="on")
    assert messages_of(response) == [f"Answer sent to {customer}."]
    stored = Ticket.objects.get()
    assert (stored.status, stored.customer_unread) == (TicketStatus.CLOSED, True)
    staff_message = TicketMessage.objects.order_by("id").last()
    assert (staff_message.by_staff, staff_message.body) == (True, "Restarted at the provider.")


def test_a_blank_answer_sends_nothing_and_says_why(admin_client, customer) -> None:
    ticket = open_one(customer)
    response = act(admin_client, ticket, "reply", message="   ")
    assert messages_of(response) == ["Write an answer. Nothing was sent."]
    assert TicketMessage.objects.count() == 1 and Ticket.objects.get().status == TicketStatus.OPEN


def test_close_and_reopen_from_the_tickets_page(admin_client, customer) -> None:
    ticket = open_one(customer)
    assert messages_of(act(admin_client, ticket, "close")) == [f"Ticket #{ticket.pk} closed."]
    assert Ticket.objects.get().status == TicketStatus.CLOSED
    assert messages_of(act(admin_client, ticket, "reopen")) == [f"Ticket #{ticket.pk} reopened."]
    assert Ticket.objects.get().status == TicketStatus.OPEN
    assert messages_of(act(admin_client, ticket, "reopen")) == []  # open already: nothing


def test_an_unknown_action_or_a_get_changes_nothing(admin_client, customer) -> None:
    ticket = open_one(customer)
    assert admin_client.post(reverse("admin:shop_ticket_act", args=[ticket.pk, "delete"])).status_code == 404
    assert admin_client.get(reverse("admin:shop_ticket_act", args=[ticket.pk, "close"])).status_code == 405
    assert admin_client.post(reverse("admin:shop_ticket_act", args=["999999", "close"])).status_code == 404
    assert Ticket.objects.get().status == TicketStatus.OPEN


def test_staff_who_may_only_view_read_the_thread_but_cannot_answer_or_close(customer) -> None:
    viewer = staff_client("view_ticket")
    ticket = open_one(customer)
    page = viewer.get(reverse("admin:shop_ticket_change", args=[ticket.pk])).content.decode()
    assert "It has not started." in page and 'id="ticket-send"' not in page
    assert viewer.post(reverse("admin:shop_ticket_act", args=[ticket.pk, "reply"]), {"message": "Hi"}).status_code == 403
    assert viewer.post(reverse("admin:shop_ticket_act", args=[ticket.pk, "close"])).status_code == 403
    assert TicketMessage.objects.count() == 1 and Ticket.objects.get().status == TicketStatus.OPEN


def test_tickets_are_neither_added_nor_deleted_in_admin(admin_client, customer) -> None:
    ticket = open_one(customer)
    assert admin_client.get(reverse("admin:shop_ticket_add")).status_code == 403
    assert admin_client.post(reverse("admin:shop_ticket_delete", args=[ticket.pk]), {"post": "yes"}).status_code == 403
    ticket_close(ticket=ticket, by=customer)
    assert Ticket.objects.filter(pk=ticket.pk).exists()
