"""A customer's refill or cancellation of one order (``shop.orders.requests``): who may ask, and what one request does upstream."""

from __future__ import annotations

from itertools import product

import pytest
from django.utils import timezone

from panelapi.sandbox import Fault
from shop.models import Order, OrderStatus, ProviderService, Refill
from shop.orders.flow import order_claim
from shop.orders.models import OrderEvent
from shop.orders.placement import order_place
from shop.orders.requests import (
    NOT_CANCELLABLE,
    NOT_REFILLABLE,
    UNREACHABLE,
    RequestRefused,
    order_can_cancel,
    order_can_refill,
    order_cancel,
    order_refill,
    refill_status_refresh,
    refill_status_store,
    refill_status_word,
)
from shop.orders.submission import SubmitOutcome, order_submit
from tests.helpers import assert_ledger_holds, order_finish, order_row, refunds_of

pytestmark = pytest.mark.django_db
S = OrderStatus
LINK = "https://instagram.com/p/abc"
Kind = OrderEvent.Kind


def unsaved(status: str, *, refill: bool = True, cancel: bool = True, upstream: bool = True, asked: bool = False) -> Order:
    """An order in memory only: what the two rules read."""
    return Order(
        status=status,
        provider_service=ProviderService(refill=refill, cancel=cancel),
        upstream_order_id="10001" if upstream else None,
        cancel_requested_at=timezone.now() if asked else None,
    )


# Who may ask ---------------------------------------------------------------------------------------

REFILL_CASES = list(product(S.values, [True, False], [True, False]))


@pytest.mark.parametrize(("status", "offered", "upstream"), REFILL_CASES)
def test_a_refill_is_for_a_finished_delivery_of_a_refill_service_known_upstream(status: str, offered: bool, upstream: bool) -> None:
    may = status in {S.COMPLETED, S.PARTIAL} and offered and upstream
    assert order_can_refill(order=unsaved(status, refill=offered, upstream=upstream)) is may


CANCEL_CASES = list(product(S.values, [True, False], [True, False], [True, False]))


@pytest.mark.parametrize(("status", "offered", "upstream", "asked"), CANCEL_CASES)
def test_a_cancel_is_for_an_unsent_order_or_a_running_one_at_a_provider_that_cancels(
    status: str, offered: bool, upstream: bool, asked: bool
) -> None:
    running = status in {S.PENDING, S.IN_PROGRESS, S.PROCESSING}
    may = status == S.AWAITING or (running and offered and upstream and not asked)
    assert order_can_cancel(order=unsaved(status, cancel=offered, upstream=upstream, asked=asked)) is may


def test_neither_is_possible_once_an_order_is_failed_or_in_an_admins_hands() -> None:
    for status in (S.SUBMITTING, S.NEEDS_ATTENTION, S.FAILED):
        assert not order_can_refill(order=unsaved(status)) and not order_can_cancel(order=unsaved(status))


# The provider's refill status words ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("Pending", Refill.Status.PENDING),
        ("pending", Refill.Status.PENDING),
        ("In progress", Refill.Status.IN_PROGRESS),
        ("IN PROGRESS", Refill.Status.IN_PROGRESS),
        ("In Progress", Refill.Status.IN_PROGRESS),
        (" Completed\n", Refill.Status.COMPLETED),
        ("Rejected", Refill.Status.REJECTED),
        ("error", Refill.Status.ERROR),
        ("Canceled", Refill.Status.CANCELED),
        ("Cancelled", Refill.Status.CANCELED),
        ("CANCELLED", Refill.Status.CANCELED),
        ("Refunded", None),
        ("Inprogress", None),
        ("", None),
        ("Awaiting", None),
    ],
)
def test_a_refill_status_word_is_read_in_any_case_and_either_spelling(word: str, status: str | None) -> None:
    assert refill_status_word(word) == status


def test_a_refill_status_change_is_stored_once_with_one_event(customer) -> None:
    order = order_row(customer, status=S.COMPLETED, upstream_order_id="10001")
    refill = Refill.objects.create(order=order, upstream_refill_id="7")
    earlier = Refill.objects.get(pk=refill.pk)  # another worker's copy, read before the change

    assert refill_status_store(refill=refill, word="In Progress") is True
    assert refill.status == Refill.Status.IN_PROGRESS
    assert refill_status_store(refill=refill, word="in progress") is False  # no change
    assert refill_status_store(refill=earlier, word="In progress") is False  # the change is made already
    assert refill_status_store(refill=refill, word="Awaiting moderation") is False  # not a status: kept as it was

    assert Refill.objects.get(pk=refill.pk).status == Refill.Status.IN_PROGRESS
    (event,) = OrderEvent.objects.filter(order=order, kind=Kind.REFILL_STATUS)
    assert event.detail == {"refill": refill.pk, "refill_status": "In progress", "word": "In Progress"}


# One request against the sandbox panel ----------------------------------------------------------------


@pytest.fixture
def placed(catalogue, customer, sandbox) -> Order:
    """An order of service 1 (refills and cancels) sent to the sandbox panel, pending there."""
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    return Order.objects.select_related("provider", "provider_service").get(pk=order.pk)


@pytest.fixture
def delivered(placed, sandbox) -> Order:
    """The order, completed here and at the sandbox panel."""
    sandbox.panel.advance(10_000)
    assert order_finish(order_id=placed.pk, status=S.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    return Order.objects.select_related("provider", "provider_service").get(pk=placed.pk)


def test_a_refill_is_asked_of_the_provider_and_recorded_with_its_id(delivered, sandbox) -> None:
    refill = order_refill(order=delivered)

    assert sandbox.panel.calls["refill"] == 1
    assert refill.order_id == delivered.pk and refill.upstream_refill_id == "1" and refill.status == Refill.Status.PENDING
    event = OrderEvent.objects.filter(order=delivered).latest("id")
    assert (event.kind, event.status) == (Kind.REFILL_REQUESTED, S.COMPLETED)
    assert event.detail == {"refill": refill.pk, "upstream_refill_id": "1"}


def test_a_refill_of_a_running_order_is_refused_without_asking_the_provider(placed, sandbox) -> None:
    with pytest.raises(RequestRefused) as refused:
        order_refill(order=placed)
    assert str(refused.value) == NOT_REFILLABLE
    assert sandbox.panel.calls["refill"] == 0 and not Refill.objects.exists()


def test_a_refill_the_provider_refuses_says_why_in_the_providers_words(delivered, sandbox) -> None:
    sandbox.panel.add_fault(Fault(kind="reply", action="refill", body={"error": "Refill is not available yet"}, process=False))
    with pytest.raises(RequestRefused) as refused:
        order_refill(order=delivered)
    assert str(refused.value) == "Refill is not available yet"
    assert not Refill.objects.exists()


@pytest.mark.parametrize("kind", ["html", "drop"])
def test_a_refill_the_provider_never_answered_is_not_recorded(delivered, sandbox, kind: str) -> None:
    sandbox.panel.add_fault(Fault(kind=kind, action="refill", process=False))
    with pytest.raises(RequestRefused) as refused:
        order_refill(order=delivered)
    assert str(refused.value) == UNREACHABLE
    assert not Refill.objects.exists()


def test_a_refills_status_is_asked_until_it_is_final(delivered, sandbox) -> None:
    refill = order_refill(order=delivered)
    sandbox.panel.advance(15)  # under way at the panel (stage_seconds is 10)

    assert refill_status_refresh(refill=refill).status == Refill.Status.IN_PROGRESS
    sandbox.panel.add_fault(Fault(kind="html", action="refill_status"))
    assert refill_status_refresh(refill=refill).status == Refill.Status.IN_PROGRESS  # no answer: the last known status stays
    Refill.objects.filter(pk=refill.pk).update(status=Refill.Status.COMPLETED)
    refill.refresh_from_db()
    calls = sandbox.panel.calls["refill_status"]
    assert refill_status_refresh(refill=refill).status == Refill.Status.COMPLETED
    assert sandbox.panel.calls["refill_status"] == calls  # final: the provider is not asked again


def test_an_unsent_order_is_canceled_here_with_a_full_refund(catalogue, customer, sandbox) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    canceled = order_cancel(order=order)
    assert (canceled.status, canceled.refunded) == (S.CANCELED, order.charge)
    assert refunds_of(order) == [order.charge]
    assert sandbox.panel.calls["cancel"] == 0
    assert_ledger_holds(customer)


def test_an_order_sent_out_meanwhile_is_not_canceled_here(catalogue, customer, sandbox) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)  # read as awaiting ...
    assert order_claim(order_id=order.pk)  # ... while a worker takes it
    with pytest.raises(RequestRefused) as refused:
        order_cancel(order=order)
    assert str(refused.value) == NOT_CANCELLABLE
    assert order.status == S.SUBMITTING and refunds_of(order) == []


def test_a_placed_order_is_asked_of_the_provider_once(placed, sandbox) -> None:
    asked = order_cancel(order=placed)

    assert sandbox.panel.calls["cancel"] == 1
    assert asked.status == S.PENDING and asked.cancel_requested_at is not None  # the refund follows the provider's Canceled
    assert refunds_of(placed) == []
    event = OrderEvent.objects.filter(order=placed).latest("id")
    assert (event.kind, event.detail) == (Kind.CANCEL_REQUESTED, {"sent": True})
    with pytest.raises(RequestRefused) as refused:
        order_cancel(order=asked)
    assert str(refused.value) == NOT_CANCELLABLE
    assert sandbox.panel.calls["cancel"] == 1


def test_a_cancel_the_provider_refuses_leaves_the_order_unmarked(placed, sandbox) -> None:
    Order.objects.filter(pk=placed.pk).update(upstream_order_id="7730021")  # no order of the panel's
    placed.refresh_from_db()
    with pytest.raises(RequestRefused) as refused:
        order_cancel(order=placed)
    assert str(refused.value) == "Incorrect order ID"
    placed.refresh_from_db()
    assert placed.cancel_requested_at is None
    assert not OrderEvent.objects.filter(order=placed, kind=Kind.CANCEL_REQUESTED).exists()


def test_a_cancel_the_provider_never_answered_leaves_the_order_unmarked(placed, sandbox) -> None:
    sandbox.panel.add_fault(Fault(kind="html", action="cancel"))
    with pytest.raises(RequestRefused) as refused:
        order_cancel(order=placed)
    assert str(refused.value) == "The provider could not take the cancellation now."
    placed.refresh_from_db()
    assert placed.cancel_requested_at is None


def test_a_service_without_cancels_is_never_asked(catalogue, customer, sandbox) -> None:
    order = order_place(user=customer, service=catalogue["2"], link=LINK, quantity=100)  # service 2: no cancel
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    order.refresh_from_db()
    with pytest.raises(RequestRefused) as refused:
        order_cancel(order=order)
    assert str(refused.value) == NOT_CANCELLABLE
    assert sandbox.panel.calls["cancel"] == 0
