"""The customer's support pages: their tickets only, on every page and action; bad input says why and writes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from shop.support.models import Ticket, TicketMessage, TicketStatus
from shop.support.services import ticket_close, ticket_open, ticket_reply
from tests.factories import UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return UserFactory(username="helper", is_staff=True)


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer)
    return client


def open_one(user, subject: str = "Where is my order?") -> Ticket:
    return ticket_open(user=user, subject=subject, category="order", body="It has not started.")


def test_nobody_reaches_another_customers_ticket_on_any_page_or_action(signed_in, customer, staff) -> None:
    theirs = open_one(UserFactory(), subject="Someone else's secret")
    ticket_reply(ticket=theirs, author=staff, body="Private answer", by_staff=True)
    pages = signed_in.get(reverse("tickets")).content.decode()
    assert "Someone else" not in pages
    assert signed_in.get(reverse("ticket-detail", args=[theirs.pk])).status_code == 404
    assert signed_in.post(reverse("ticket-detail", args=[theirs.pk]), {"message": "Injected"}).status_code == 404
    assert signed_in.post(reverse("ticket-close", args=[theirs.pk])).status_code == 404
    stored = Ticket.objects.get(pk=theirs.pk)
    assert (stored.status, stored.customer_unread) == (TicketStatus.ANSWERED, True)  # not read, not closed by the intruder
    assert TicketMessage.objects.filter(ticket=theirs).count() == 2


def test_visitors_are_sent_to_log_in(client) -> None:
    for url in (reverse("tickets"), reverse("ticket-new"), reverse("ticket-detail", args=[1])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_customer_opens_a_ticket_about_their_order_and_lands_on_it(signed_in, customer) -> None:
    order = order_row(customer)
    form = signed_in.get(reverse("ticket-new"), {"order": order.pk})
    assert form.context["form"].initial == {"orders": str(order.pk), "category": "order"}
    response = signed_in.post(
        reverse("ticket-new"), {"subject": "Stuck", "category": "order", "orders": f"#{order.pk}, ", "message": "Please check."}
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("ticket-detail", args=[ticket.pk])
    assert list(ticket.orders.all()) == [order]
    page = signed_in.get(response["Location"]).content.decode()
    assert "Please check." in page and reverse("order-detail", args=[order.pk]) in page


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"subject": "", "category": "order", "message": "x"}, "Write a subject."),
        ({"subject": "s", "category": "refund", "message": "x"}, "Choose a category."),
        ({"subject": "s", "category": "order", "message": ""}, "Write a message."),
        ({"subject": "s", "category": "order", "orders": "12, abc", "message": "x"}, "Write order numbers only"),
        ({"subject": "s", "category": "order", "orders": "١٢", "message": "x"}, "Write order numbers only"),
        ({"subject": "s", "category": "order", "orders": "987654", "message": "x"}, "Not one of your orders: #987654."),
        ({"subject": "s", "category": "order", "message": "x" * 5001}, "The message is longer than 5000 characters."),
    ],
)
def test_bad_input_says_why_and_writes_nothing(signed_in, data, said) -> None:
    response = signed_in.post(reverse("ticket-new"), data)
    assert response.status_code == 200 and said in response.content.decode()
    assert not Ticket.objects.exists()


def test_reading_an_answer_clears_the_menus_count(signed_in, customer, staff) -> None:
    ticket = open_one(customer)
    ticket_reply(ticket=ticket, author=staff, body="We restarted it.", by_staff=True)
    listing = signed_in.get(reverse("tickets")).content.decode()
    assert 'class="nav-count">1<' in listing and "New answer" in listing
    page = signed_in.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert "We restarted it." in page and "nav-count" not in page
    assert Ticket.objects.get().customer_unread is False


def test_a_reply_goes_back_to_the_queue_and_a_reload_does_not_send_it_twice(signed_in, customer, staff) -> None:
    ticket = open_one(customer)
    ticket_reply(ticket=ticket, author=staff, body="Which link?", by_staff=True)
    url = reverse("ticket-detail", args=[ticket.pk])
    response = signed_in.post(url, {"message": "This one."})
    assert response.status_code == 302 and response["Location"] == url
    assert Ticket.objects.get().status == TicketStatus.OPEN
    assert [m.body for m in TicketMessage.objects.order_by("id")] == ["It has not started.", "Which link?", "This one."]
    blank = signed_in.post(url, {"message": "  "})
    assert blank.status_code == 200 and "Write a message." in blank.content.decode() and TicketMessage.objects.count() == 3


def test_a_customer_closes_their_ticket_and_can_no_longer_reply(signed_in, customer) -> None:
    ticket = open_one(customer)
    response = signed_in.post(reverse("ticket-close", args=[ticket.pk]))
    assert response.status_code == 302 and Ticket.objects.get().status == TicketStatus.CLOSED
    page = signed_in.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert "This ticket is closed" in page and 'name="message"' not in page
    refused = signed_in.post(reverse("ticket-detail", args=[ticket.pk]), {"message": "Hello?"})
    assert "This ticket is closed" in refused.content.decode() and TicketMessage.objects.count() == 1
    assert signed_in.get(reverse("ticket-close", args=[ticket.pk])).status_code == 405


def test_closing_twice_says_nothing_more(signed_in, customer) -> None:
    ticket = open_one(customer)
    ticket_close(ticket=ticket, by=customer)
    response = signed_in.post(reverse("ticket-close", args=[ticket.pk]), follow=True)
    assert [str(m) for m in response.context["messages"]] == []


def test_the_list_pages_without_counting(signed_in, customer, django_assert_max_num_queries) -> None:
    for index in range(5):
        open_one(customer, subject=f"Question {index}")
    with django_assert_max_num_queries(8):
        response = signed_in.get(reverse("tickets"), {"page": "abc"})
    assert response.status_code == 200 and len(response.context["rows"]) == 5
