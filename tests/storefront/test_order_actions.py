"""The orders list and order page: status badges, cards on phones, and Cancel / Refill behind a confirmation step.

A GET of ``/orders/<pk>/cancel/`` or ``/refill/`` asks first and changes nothing;
the confirmation's POST does what the buttons did before. Orders that cannot be
canceled or refilled get a page that says why; other customers' orders are 404s.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from shop.models import LedgerEntry, Order, OrderEvent, OrderStatus, Refill
from shop.orders.display import STATUS_TONES, customer_status
from shop.orders.placement import order_place
from shop.orders.submission import order_submit
from shop.wallet.selectors import balance_of
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory
from tests.helpers import order_finish

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/a-rather-long-post-address-that-would-not-fit-a-phone-column"
TONES = {
    OrderStatus.AWAITING: "neutral",
    OrderStatus.SUBMITTING: "neutral",
    OrderStatus.PENDING: "neutral",
    OrderStatus.IN_PROGRESS: "info",
    OrderStatus.PROCESSING: "info",
    OrderStatus.NEEDS_ATTENTION: "info",
    OrderStatus.COMPLETED: "good",
    OrderStatus.PARTIAL: "warn",
    OrderStatus.CANCELED: "bad",
    OrderStatus.FAILED: "bad",
    OrderStatus.SUB_ACTIVE: "info",
    OrderStatus.SUB_PAUSED: "warn",
    OrderStatus.EXPIRED: "neutral",
}


def snapshot(order: Order) -> tuple:
    """What a cancel or a refill would change: the order, its events and refills, the customer's balance."""
    row = Order.objects.values_list("status", "cancel_requested_at", "refunded").get(pk=order.pk)
    return (
        row,
        OrderEvent.objects.filter(order_id=order.pk).count(),
        Refill.objects.filter(order=order).count(),
        balance_of(user=order.user),
    )


@pytest.fixture
def unsent(catalogue, customer) -> Order:
    """Charged, not yet sent to the provider (service 1 takes refills and cancellations)."""
    return order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)


@pytest.fixture
def placed(catalogue, customer) -> Order:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    order_submit(order_id=order.pk)
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def completed(placed) -> Order:
    order_finish(order_id=placed.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    return Order.objects.get(pk=placed.pk)


# Status badges ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", OrderStatus.values)
def test_every_status_has_a_badge_colour(status: str) -> None:
    shown = customer_status(status)
    assert (shown.label, shown.tone) == (OrderStatus.customer_label(status), TONES[status])
    assert set(STATUS_TONES.values()) <= {"good", "bad", "warn", "info", "neutral"}


@pytest.mark.parametrize(
    ("status", "label", "tone"), [("completed", "Completed", "good"), ("partial", "Partial", "warn"), ("failed", "Canceled", "bad")]
)
def test_the_list_the_order_page_and_the_live_refresh_show_the_badge(web, unsent, status, label, tone) -> None:
    Order.objects.filter(pk=unsent.pk).update(status=status)
    badge = f'<span class="status badge {tone}" data-cell="status">{label}</span>'
    assert badge in web.get(reverse("orders")).content.decode()
    assert badge in web.get(reverse("order-detail", args=[unsent.pk])).content.decode()
    live = web.get(reverse("orders-status"), {"ids": str(unsent.pk)}).json()["orders"][str(unsent.pk)]
    assert (live["status"], live["tone"]) == (label, tone)


# Cards on phones, money as people read it ----------------------------------------------------------------------------


class Cells(HTMLParser):
    """The cells of the orders table's body: (data-label, class) of each td."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str | None, str]] = []
        self._body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "tbody":
            self._body = True
        elif tag == "td" and self._body:
            self.cells.append((values.get("data-label"), values.get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._body = False


def test_every_cell_of_the_orders_list_is_labelled_for_the_phone_cards(web, unsent) -> None:
    html = web.get(reverse("orders")).content.decode()
    assert 'href="/static/shop/orders.css"' in html and 'class="grid orders order-cards"' in html
    parser = Cells()
    parser.feed(html)
    labels = [label for label, css in parser.cells if "row-actions" not in css]
    assert labels == ["Number", "Date", "Link", "Charge", "Start count", "Quantity", "Service", "Status", "Remains"]
    assert len(parser.cells) == 10


def test_charges_and_refunds_are_shown_with_the_places_they_need(web, unsent) -> None:
    Order.objects.filter(pk=unsent.pk).update(charge=Decimal("1250.5000"), refunded=Decimal("0.1250"), status=OrderStatus.PARTIAL)
    listing = web.get(reverse("orders")).content.decode()
    assert "1,250.50" in listing and "1250.5000" not in listing
    assert re.search(r'data-refunded-note>refunded <span data-cell="refunded">0.125</span>', listing)
    page = web.get(reverse("order-detail", args=[unsent.pk])).content.decode()
    assert "1,250.50 USD" in page and '<span data-cell="refunded">0.125</span> USD' in page


def test_an_order_with_nothing_refunded_hides_the_refund_note(web, unsent) -> None:
    assert 'data-refunded-note hidden>refunded <span data-cell="refunded">0.00</span>' in web.get(reverse("orders")).content.decode()


# Cancel and Refill: secondary, behind a confirmation -----------------------------------------------------------------


def test_cancel_and_refill_are_secondary_links_to_a_confirmation_not_forms(web, unsent, completed) -> None:
    listing = web.get(reverse("orders")).content.decode()
    cancel, refill = reverse("order-cancel", args=[unsent.pk]), reverse("order-refill", args=[completed.pk])
    assert f'<a class="button small secondary" href="{cancel}?from=orders">Cancel' in listing
    assert f'<a class="button small secondary" href="{refill}?from=orders">Refill' in listing
    assert 'method="post" action="/orders/' not in listing
    page = web.get(reverse("order-detail", args=[unsent.pk])).content.decode()
    assert f'<a class="button secondary" href="{cancel}">Cancel the order</a>' in page
    page = web.get(reverse("order-detail", args=[completed.pk])).content.decode()
    assert f'<a class="button secondary" href="{refill}">Request a refill</a>' in page


def test_the_cancel_confirmation_of_an_unsent_order_says_it_is_refunded_at_once_and_changes_nothing(web, unsent) -> None:
    before = snapshot(unsent)
    response = web.get(reverse("order-cancel", args=[unsent.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Cancel order #{unsent.pk}?" in html and unsent.service.name in html and LINK in html
    assert "it is canceled at once, and its charge of 1.17 USD goes back to your balance now" in html
    assert f'<form method="post" action="{reverse("order-cancel", args=[unsent.pk])}"' in html and "csrfmiddlewaretoken" in html
    assert f"Yes, cancel order #{unsent.pk}" in html
    assert f'<a class="button secondary" href="{reverse("order-detail", args=[unsent.pk])}">Back</a>' in html
    assert snapshot(unsent) == before


def test_the_cancel_confirmation_of_a_placed_order_says_the_refund_follows_the_provider(web, placed) -> None:
    before = snapshot(placed)
    html = web.get(reverse("order-cancel", args=[placed.pk]), {"from": "orders"}).content.decode()
    assert "The provider is asked to stop the order. When it confirms the cancellation" in html
    assert "the undelivered part is refunded" in html
    assert f'<a class="button secondary" href="{reverse("orders")}">Back</a>' in html
    assert snapshot(placed) == before


def test_confirming_the_cancel_does_what_the_button_did(web, unsent, placed, customer) -> None:
    response = web.post(reverse("order-cancel", args=[unsent.pk]), follow=True)
    assert response.redirect_chain == [(reverse("order-detail", args=[unsent.pk]), 302)]
    assert "Order canceled and refunded." in response.content.decode()
    assert Order.objects.get(pk=unsent.pk).status == OrderStatus.CANCELED

    response = web.post(reverse("order-cancel", args=[placed.pk]), follow=True)
    assert "Cancellation requested; the provider is asked now" in response.content.decode()
    assert Order.objects.get(pk=placed.pk).cancel_requested_at is not None


def test_the_refill_confirmation_changes_nothing_and_its_post_asks_for_the_refill(web, completed) -> None:
    before = snapshot(completed)
    html = web.get(reverse("order-refill", args=[completed.pk])).content.decode()
    assert f"Ask for a refill of order #{completed.pk}?" in html and "A refill costs nothing." in html
    assert f'<form method="post" action="{reverse("order-refill", args=[completed.pk])}"' in html
    assert snapshot(completed) == before

    response = web.post(reverse("order-refill", args=[completed.pk]), follow=True)
    refill = Refill.objects.get(order=completed)
    assert f"Refill #{refill.pk} requested" in response.content.decode()


@pytest.mark.parametrize(
    ("fixture", "action", "reason"),
    [
        ("completed", "cancel", "It is already Completed: there is nothing left to cancel."),
        ("unsent", "refill", "Only a completed or partial order can be refilled; this one is Pending."),
    ],
)
def test_an_order_that_cannot_be_canceled_or_refilled_gets_a_plain_page(web, request, fixture, action, reason) -> None:
    order = request.getfixturevalue(fixture)
    before = snapshot(order)
    response = web.get(reverse(f"order-{action}", args=[order.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Order #{order.pk} cannot be {'canceled' if action == 'cancel' else 'refilled'} now" in html and reason in html
    assert 'method="post" action="/orders/' not in html and "Yes, " not in html
    assert snapshot(order) == before


def test_the_refusals_name_a_request_already_made(web, completed) -> None:
    web.post(reverse("order-refill", args=[completed.pk]))
    assert "A refill of this order is already under way." in web.get(reverse("order-refill", args=[completed.pk])).content.decode()


def test_a_cancellation_already_asked_for_is_said_so(web, placed) -> None:
    web.post(reverse("order-cancel", args=[placed.pk]))
    html = web.get(reverse("order-cancel", args=[placed.pk])).content.decode()
    assert "Its cancellation was already requested; the refund follows when the provider confirms." in html


def test_a_service_without_refills_or_cancellations_says_so(web, catalogue, customer) -> None:
    order = order_place(user=customer, service=catalogue["2"], link=LINK, quantity=1000)
    order_submit(order_id=order.pk)
    html = web.get(reverse("order-cancel", args=[order.pk])).content.decode()
    assert "This service does not take cancellations once the provider has the order." in html
    order_finish(order_id=order.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    assert "This service does not offer refills." in web.get(reverse("order-refill", args=[order.pk])).content.decode()


def test_someone_elses_order_is_a_404_for_the_confirmation_and_the_action(web, catalogue) -> None:
    other = UserFactory()
    wallet_credit(user=other, amount=Decimal("5"), kind=LedgerEntry.Kind.DEPOSIT)
    theirs = order_place(user=other, service=catalogue["1"], link=LINK, quantity=100)
    before = snapshot(theirs)
    for name in ("order-cancel", "order-refill"):
        url = reverse(name, args=[theirs.pk])
        assert web.get(url).status_code == 404 and web.post(url).status_code == 404
    assert web.get(reverse("order-cancel", args=[999999999])).status_code == 404
    assert snapshot(theirs) == before


def test_the_confirmation_pages_need_a_login(client, unsent) -> None:
    response = client.get(reverse("order-cancel", args=[unsent.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
