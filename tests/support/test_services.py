"""Support tickets' writes: opening with the customer's own orders only, the thread's statuses, closing and reopening."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from shop.support.models import BODY_MAX, SUBJECT_MAX, Ticket, TicketMessage, TicketStatus
from shop.support.selectors import customer_recent, thread_of, ticket_order_ids, tickets_of, unread_count
from shop.support.services import (
    MAX_MESSAGES,
    MAX_OPEN,
    MAX_ORDERS,
    TicketRefused,
    ticket_close,
    ticket_open,
    ticket_reopen,
    ticket_reply,
    ticket_seen,
)
from tests.factories import UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return UserFactory(username="helper", is_staff=True)


def open_one(user, **overrides) -> Ticket:
    values = {"subject": "Where is my order?", "category": "order", "body": "It has not started.", **overrides}
    return ticket_open(user=user, **values)


def test_a_new_ticket_waits_for_staff_with_its_first_message_and_orders(customer) -> None:
    first, second = order_row(customer), order_row(customer)
    ticket = open_one(customer, subject="  Where is my order?  ", body="  It has not started.\n", order_ids=[second.pk, first.pk, first.pk])
    ticket.refresh_from_db()
    assert (ticket.user, ticket.subject, ticket.category, ticket.status) == (customer, "Where is my order?", "order", TicketStatus.OPEN)
    assert ticket.customer_unread is False and ticket.closed_at is None
    assert ticket_order_ids(ticket=ticket) == [first.pk, second.pk]
    (message,) = thread_of(ticket=ticket)
    assert (message.author, message.by_staff, message.body) == (customer, False, "It has not started.")


def test_an_order_of_another_customer_is_refused_in_the_same_words_as_one_that_does_not_exist(customer) -> None:
    theirs = order_row(UserFactory())
    mine = order_row(customer)
    for number in (theirs.pk, 987654321):
        with pytest.raises(TicketRefused) as refused:
            open_one(customer, order_ids=[mine.pk, number])
        assert str(refused.value) == f"Not one of your orders: #{number}."
    assert not Ticket.objects.exists() and not TicketMessage.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        ({"subject": "   "}, "Write a subject."),
        ({"subject": "x" * (SUBJECT_MAX + 1)}, f"The subject is longer than {SUBJECT_MAX} characters."),
        ({"category": "refund"}, "Choose a category."),
        ({"body": " \n "}, "Write a message."),
        ({"body": "x" * (BODY_MAX + 1)}, f"The message is longer than {BODY_MAX} characters."),
        ({"order_ids": range(1, MAX_ORDERS + 2)}, f"A ticket can name at most {MAX_ORDERS} orders."),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(customer, overrides, said) -> None:
    with pytest.raises(TicketRefused, match=said):
        open_one(customer, **overrides)
    assert not Ticket.objects.exists()


def test_the_longest_subject_and_message_and_most_orders_are_accepted(customer) -> None:
    orders = [order_row(customer).pk for _ in range(MAX_ORDERS)]
    ticket = open_one(customer, subject="s" * SUBJECT_MAX, body="b" * BODY_MAX, order_ids=orders)
    assert len(ticket_order_ids(ticket=ticket)) == MAX_ORDERS


def test_a_customer_may_have_only_a_few_tickets_waiting_at_once(customer, staff) -> None:
    tickets = [open_one(customer) for _ in range(MAX_OPEN)]
    with pytest.raises(TicketRefused, match="tickets waiting for an answer"):
        open_one(customer)
    ticket_reply(ticket=tickets[0], author=staff, body="Done.", by_staff=True)  # answered: no longer waiting
    open_one(customer)
    assert Ticket.objects.filter(user=customer).count() == MAX_OPEN + 1
    open_one(UserFactory())  # others are not counted against this customer


def test_staffs_answer_marks_it_answered_and_unread_and_the_customers_reply_puts_it_back_in_the_queue(customer, staff) -> None:
    ticket = open_one(customer)
    ticket_reply(ticket=ticket, author=staff, body="Restarted.", by_staff=True)
    assert (ticket.status, ticket.customer_unread) == (TicketStatus.ANSWERED, True)
    assert Ticket.objects.get().status == TicketStatus.ANSWERED and unread_count(user=customer) == 1
    ticket_seen(ticket=ticket)
    assert unread_count(user=customer) == 0 and ticket.customer_unread is False
    message = ticket_reply(ticket=ticket, author=customer, body="Thanks, still slow.", by_staff=False)
    stored = Ticket.objects.get()
    assert (stored.status, stored.customer_unread, stored.last_message_at) == (TicketStatus.OPEN, False, message.created_at)
    assert [m.by_staff for m in thread_of(ticket=ticket)] == [False, True, False]


def test_a_closed_ticket_takes_no_more_messages_from_the_customer_but_staff_may_still_answer(customer, staff) -> None:
    ticket = open_one(customer)
    assert ticket_close(ticket=ticket, by=customer) is True
    stored = Ticket.objects.get()
    assert (stored.status, stored.closed_by) == (TicketStatus.CLOSED, customer) and stored.closed_at is not None
    with pytest.raises(TicketRefused, match="This ticket is closed"):
        ticket_reply(ticket=ticket, author=customer, body="One more thing", by_staff=False)
    assert TicketMessage.objects.count() == 1
    assert ticket_close(ticket=ticket, by=staff) is False  # closed already: nothing changes
    assert Ticket.objects.get().closed_by == customer
    ticket_reply(ticket=ticket, author=staff, body="Reopening to answer.", by_staff=True)
    stored = Ticket.objects.get()
    assert (stored.status, stored.closed_at, stored.closed_by) == (TicketStatus.ANSWERED, None, None)


def test_staff_reopen_a_closed_ticket_into_the_queue_and_an_open_one_is_left_alone(customer, staff) -> None:
    ticket = open_one(customer)
    assert ticket_reopen(ticket=ticket) is False
    ticket_close(ticket=ticket, by=staff)
    assert ticket_reopen(ticket=ticket) is True
    stored = Ticket.objects.get()
    assert (stored.status, stored.closed_at, stored.closed_by) == (TicketStatus.OPEN, None, None)
    assert ticket.status == TicketStatus.OPEN


def test_seen_writes_only_when_something_was_unread(customer, staff, django_assert_num_queries) -> None:
    ticket = open_one(customer)
    with django_assert_num_queries(0):
        ticket_seen(ticket=ticket)
    ticket_reply(ticket=ticket, author=staff, body="Hi", by_staff=True)
    with django_assert_num_queries(1):
        ticket_seen(ticket=ticket)


def test_the_database_refuses_a_closed_ticket_without_its_time_and_a_blank_message(customer) -> None:
    ticket = open_one(customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.CLOSED)
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketMessage.objects.create(ticket=ticket, author=customer, by_staff=False, body="")


def test_reads_list_only_the_customers_own_latest_first(customer, staff) -> None:
    older, newer = open_one(customer), open_one(customer)
    open_one(UserFactory())
    assert list(tickets_of(user=customer)) == [newer, older]
    ticket_reply(ticket=older, author=customer, body="Bump", by_staff=False)
    assert list(tickets_of(user=customer)) == [older, newer]


def test_staff_see_the_customers_latest_orders_beside_the_thread(customer) -> None:
    orders = [order_row(customer) for _ in range(12)]
    order_row(UserFactory())
    shown, topups = customer_recent(user_id=customer.pk)
    assert [order.pk for order in shown] == [order.pk for order in reversed(orders)][:10] and topups == []


def test_a_customer_writes_at_most_so_many_messages_in_one_ticket_and_staff_may_still_answer(customer, staff) -> None:
    ticket = open_one(customer)
    TicketMessage.objects.bulk_create(
        TicketMessage(ticket=ticket, author=customer, by_staff=False, body=f"more {index}") for index in range(MAX_MESSAGES - 2)
    )
    ticket_reply(ticket=ticket, author=customer, body="The last one I may write", by_staff=False)
    with pytest.raises(TicketRefused, match=f"This ticket has {MAX_MESSAGES} of your messages"):
        ticket_reply(ticket=ticket, author=customer, body="One too many", by_staff=False)
    ticket_reply(ticket=ticket, author=staff, body="Answered anyway", by_staff=True)
    assert TicketMessage.objects.filter(ticket=ticket).count() == MAX_MESSAGES + 1


def test_the_thread_shows_its_latest_messages_oldest_first(customer, staff, monkeypatch) -> None:
    from shop.support import selectors

    monkeypatch.setattr(selectors, "THREAD_SHOWN", 2)
    ticket = open_one(customer)
    ticket_reply(ticket=ticket, author=staff, body="second", by_staff=True)
    ticket_reply(ticket=ticket, author=customer, body="third", by_staff=False)
    assert [message.body for message in thread_of(ticket=ticket)] == ["second", "third"]
