"""The customer's timeline: readable sentences without the provider's name, ids or words; admins see all of it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from panelapi.sandbox import Fault
from shop.models import Order, OrderStatus, Provider
from shop.orders.placement import order_place
from shop.orders.refresh import orders_refresh
from shop.orders.requests_many import orders_cancel_send
from shop.orders.submission import SubmitOutcome, order_submit
from shop.orders.timeline import order_timeline
from tests.helpers import order_finish

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/abc"
PROVIDER_NAME = "Acme Wholesale Panel"
WAITING = "Waiting to be sent for processing."


@pytest.fixture
def order(catalogue, customer) -> Order:
    Provider.objects.update(name=PROVIDER_NAME)
    return order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)


def texts(order: Order) -> list[str]:
    return [entry.text for entry in order_timeline(order=Order.objects.get(pk=order.pk))]


def page(web, order: Order) -> str:
    response = web.get(reverse("order-detail", args=[order.pk]))
    assert response.status_code == 200
    return response.content.decode()


def panel_reports(sandbox, order: Order, word: str, *, start_count: int, remains: int) -> None:
    """The panel answers the next status call about ``order`` with ``word`` and figures; the poller asks it."""
    reply = {order.upstream_order_id: {"status": word, "start_count": str(start_count), "remains": str(remains), "charge": "0.9"}}
    sandbox.panel.add_fault(Fault(kind="reply", action="status", body=reply))
    Order.objects.filter(pk=order.pk).update(next_check_at=timezone.now())
    assert orders_refresh(provider=order.provider).calls == 1


def assert_shows_none_of(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"the customer sees {secret!r}"


def test_a_delivered_orders_timeline_reads_as_sentences_with_remains_clamped(web, order, sandbox) -> None:
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    order.refresh_from_db()
    sent_as = order.upstream_order_id
    # An id no other number on the page can match by chance (the sandbox numbers orders from 10001).
    Order.objects.filter(pk=order.pk).update(upstream_order_id="7730019")
    order.refresh_from_db()
    panel_reports(sandbox, order, "Awaiting-drip", start_count=0, remains=1000)  # a word no panel is known to use
    panel_reports(sandbox, order, "Inprogress", start_count=5, remains=600)
    order_finish(order_id=order.pk, status=OrderStatus.COMPLETED, remains=-2, start_count=5, upstream_charge=None, raw="Completed")

    expected = [
        "Order placed: 1.17 USD charged.",
        "Sent for processing.",
        "Status: Pending, start count 0, remains 1000.",
        "Status: In progress, start count 5, remains 600.",
        "Status: Completed, start count 5, remains 0.",
    ]
    assert texts(order) == expected
    html = page(web, order)
    for line in expected:
        assert line in html
    secrets = (PROVIDER_NAME, "7730019", "Inprogress", "Awaiting-drip", "remains -2")
    assert_shows_none_of("\n".join(texts(order)), *secrets, sent_as)
    assert_shows_none_of(html, *secrets)


def test_a_refused_orders_timeline_says_so_without_the_providers_message(web, order, sandbox) -> None:
    message = "neworder.error.link_duplicate"
    sandbox.panel.add_fault(Fault(kind="reply", action="add", body={"error": message}, process=False))
    assert order_submit(order_id=order.pk) is SubmitOutcome.FAILED

    expected = ["Order placed: 1.17 USD charged.", "It could not be placed.", "Refunded 1.17 USD."]
    assert texts(order) == expected
    html = page(web, order)
    for line in expected:
        assert line in html
    assert_shows_none_of(html, message, "Refused by the provider", PROVIDER_NAME)


def test_an_order_that_needs_attention_says_our_team_checks_it(web, order, sandbox, settings) -> None:
    settings.PANEL_READ_TIMEOUT = 0.5
    sandbox.panel.add_fault(Fault(kind="slow", action="add", delay=1.5))
    assert order_submit(order_id=order.pk) is SubmitOutcome.NEEDS_ATTENTION
    order.refresh_from_db()

    assert texts(order) == ["Order placed: 1.17 USD charged.", "Our team is checking this order."]
    assert_shows_none_of(page(web, order), order.error, "did not answer in time", "127.0.0.1")


def test_repeated_holds_and_retries_show_as_one_line(web, order, sandbox) -> None:
    provider = Provider.objects.filter(pk=order.provider_id)
    provider.update(balance=Decimal("100"), balance_threshold=Decimal("5000"))
    assert [order_submit(order_id=order.pk) for _ in range(2)] == [SubmitOutcome.HELD] * 2
    provider.update(balance_threshold=None, api_url="http://127.0.0.1:9/api/v2")
    assert [order_submit(order_id=order.pk) for _ in range(2)] == [SubmitOutcome.RETRY] * 2
    provider.update(api_url=sandbox.url)
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED

    assert texts(order) == ["Order placed: 1.17 USD charged.", WAITING, "Sent for processing."]
    html = page(web, order)
    assert html.count(WAITING) == 1
    assert_shows_none_of(html, "could not connect", "Waiting for the provider's balance", PROVIDER_NAME)


def test_a_cancellation_the_provider_refuses_says_it_was_not_accepted(call, catalogue, customer, web, sandbox) -> None:
    Provider.objects.update(name=PROVIDER_NAME)
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    accepted = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert order_submit(order_id=accepted.pk) is SubmitOutcome.PLACED
    Order.objects.filter(pk=order.pk).update(upstream_order_id="7730021")  # the panel knows no such order

    assert call(action="cancel", orders=f"{order.pk},{accepted.pk}") == [
        {"order": order.pk, "cancel": 1},
        {"order": accepted.pk, "cancel": 1},
    ]
    assert orders_cancel_send(order_ids=[order.pk, accepted.pk]) == 1

    sent = ["Order placed: 1.17 USD charged.", "Sent for processing.", "Cancellation requested."]
    assert texts(accepted) == sent  # the shop's own sending of it is no line of the customer's
    assert texts(order) == [*sent, "The cancellation was not accepted."]
    assert_shows_none_of(page(web, order), "Incorrect order ID", "7730021", PROVIDER_NAME)


def admin_page(admin_client, order: Order) -> str:
    response = admin_client.get(reverse("admin:shop_order_change", args=[order.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_admins_see_the_whole_history_with_ids_raw_messages_and_actors(admin_client, call, key, catalogue, customer, sandbox) -> None:
    """What only the history holds is on the admin's page; what the order's own fields hold too is there twice."""
    refused = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    sandbox.panel.add_fault(Fault(kind="reply", action="add", body={"error": "neworder.error.link_duplicate"}, process=False))
    assert order_submit(order_id=refused.pk) is SubmitOutcome.FAILED
    through_api = Order.objects.get(pk=call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"])
    Provider.objects.update(api_url="http://127.0.0.1:9/api/v2")
    assert order_submit(order_id=through_api.pk) is SubmitOutcome.RETRY
    retry_message = Order.objects.get(pk=through_api.pk).error
    Provider.objects.update(api_url=sandbox.url)
    assert order_submit(order_id=through_api.pk) is SubmitOutcome.PLACED
    through_api.refresh_from_db()
    assert through_api.error == ""  # the retry's message is now kept by the history alone
    panel_reports(sandbox, through_api, "Inprogress", start_count=5, remains=-2)

    html = admin_page(admin_client, refused)
    assert html.count("neworder.error.link_duplicate") >= 2  # the order's error, and the refusal's event
    assert "Customer (web)" in html and html.count(customer.username) >= 2 and "System" in html
    assert "Taken for submission" in html and "Refused by the provider" in html

    html = admin_page(admin_client, through_api)
    assert "could not connect to 127.0.0.1" in retry_message and retry_message in html
    assert html.count(through_api.upstream_order_id) >= 2  # the order's field, and the sending's event
    assert html.count("Inprogress") >= 2  # the order's field, and the reading's event
    assert "Customer (API)" in html and key[:10] in html and key not in html
