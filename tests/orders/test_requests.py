"""A customer's refill or cancellation of one order (``shop.orders.requests``): who may ask, and what one request records and queues."""

from __future__ import annotations

import time
from datetime import timedelta
from itertools import product

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from panelapi.sandbox import Fault
from shop.models import Order, OrderStatus, ProviderService, Refill
from shop.orders.flow import order_claim
from shop.orders.models import OrderEvent
from shop.orders.placement import order_place
from shop.orders.requests import (
    NOT_CANCELLABLE,
    NOT_REFILLABLE,
    REFILL_UNDER_WAY,
    RequestRefused,
    order_can_cancel,
    order_can_refill,
    order_cancel,
    order_refill,
    refill_refusal,
    refill_status_store,
    refill_status_word,
)
from shop.orders.requests_many import orders_cancel_send, refills_send
from shop.orders.selectors import RefillHistory
from shop.orders.submission import SubmitOutcome, order_submit
from tests.helpers import assert_ledger_holds, order_finish, order_row, race, refunds_of, slow_panel

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
    running = status in {S.PENDING, S.IN_PROGRESS, S.PROCESSING, S.SUB_ACTIVE, S.SUB_PAUSED}
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


# When a refill may be asked again ------------------------------------------------------------------

NOW = timezone.now().replace(microsecond=0)
DONE = unsaved(S.COMPLETED)


def test_an_order_without_refills_or_with_only_rejected_ones_may_have_a_refill(settings) -> None:
    settings.REFILL_COOLDOWN = 24 * 3600
    assert refill_refusal(order=DONE, history=None, now=NOW) is None  # refill_history leaves out rejected refills


def test_a_refill_under_way_blocks_another(settings) -> None:
    settings.REFILL_COOLDOWN = 0
    assert (
        refill_refusal(order=DONE, history=RefillHistory(under_way=True, last_asked=NOW - timedelta(days=9)), now=NOW) == REFILL_UNDER_WAY
    )


def test_a_refill_waits_for_the_cooldown_and_says_until_when(settings) -> None:
    settings.REFILL_COOLDOWN = 24 * 3600
    asked = NOW.replace(hour=10, minute=20, second=30) - timedelta(days=1)
    history = RefillHistory(under_way=False, last_asked=asked)

    until = (asked + timedelta(days=1, minutes=1)).strftime("%Y-%m-%d %H:%M")  # rounded up to the minute: never too early
    expected = f"A refill of this order was asked for recently; you may ask again after {until} UTC."
    assert refill_refusal(order=DONE, history=history, now=asked + timedelta(hours=23, minutes=59)) == expected
    assert refill_refusal(order=DONE, history=history, now=asked + timedelta(days=1)) is None
    settings.REFILL_COOLDOWN = 0  # no cooldown
    assert refill_refusal(order=DONE, history=history, now=asked + timedelta(seconds=1)) is None


def test_an_order_that_cannot_be_refilled_says_so_first() -> None:
    history = RefillHistory(under_way=True, last_asked=NOW)
    assert refill_refusal(order=unsaved(S.PENDING), history=history, now=NOW) == NOT_REFILLABLE


def test_the_database_holds_one_open_refill_per_order(customer) -> None:
    order = order_row(customer, status=S.COMPLETED, upstream_order_id="10001")
    for final in Refill.Status.final():
        Refill.objects.create(order=order, status=final)
    Refill.objects.create(order=order)
    for status in (Refill.Status.PENDING, Refill.Status.IN_PROGRESS):
        with pytest.raises(IntegrityError), transaction.atomic():
            Refill.objects.create(order=order, status=status)
    assert Refill.objects.filter(order=order).count() == len(Refill.Status.final()) + 1


# One request, against the sandbox panel -------------------------------------------------------------


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


def test_a_refill_is_recorded_at_once_and_a_task_sends_it(delivered, sandbox, queued) -> None:
    slow_panel(sandbox)
    started = time.monotonic()
    with queued:
        refill = order_refill(order=delivered)
    assert time.monotonic() - started < 1.0, "the request waited for the panel"

    assert sandbox.panel.calls["refill"] == 0
    assert (refill.order_id, refill.upstream_refill_id, refill.status) == (delivered.pk, "", Refill.Status.PENDING)
    assert queued.sent == [("refills_send_task", [refill.pk])]  # the same task as the many form's
    event = OrderEvent.objects.filter(order=delivered).latest("id")
    assert (event.kind, event.status, event.detail) == (Kind.REFILL_REQUESTED, S.COMPLETED, {"refill": refill.pk})

    sandbox.panel.clear_faults()
    assert refills_send(refill_ids=[refill.pk]) == 1
    refill.refresh_from_db()
    assert sandbox.panel.calls["refill"] == 1 and refill.upstream_refill_id == "1" and refill.status == Refill.Status.PENDING


def test_a_refill_of_a_running_order_is_refused_without_asking_the_provider(placed, sandbox, queued) -> None:
    with pytest.raises(RequestRefused) as refused, queued:
        order_refill(order=placed)
    assert str(refused.value) == NOT_REFILLABLE
    assert sandbox.panel.calls["refill"] == 0 and not Refill.objects.exists() and queued.sent == []


def test_a_second_refill_while_one_is_under_way_is_refused(delivered, sandbox, settings) -> None:
    settings.REFILL_COOLDOWN = 0
    first = order_refill(order=delivered)
    with pytest.raises(RequestRefused) as refused:
        order_refill(order=delivered)
    assert str(refused.value) == REFILL_UNDER_WAY == "A refill of this order is already under way."
    refills_send(refill_ids=[first.pk])
    with pytest.raises(RequestRefused):
        order_refill(order=delivered)  # sent, still under way at the provider
    Refill.objects.filter(pk=first.pk).update(status=Refill.Status.COMPLETED)
    assert order_refill(order=delivered).pk != first.pk  # finished, and no cooldown: a new one may start
    assert Refill.objects.filter(order=delivered).count() == 2


def test_a_refill_after_a_finished_one_waits_for_the_cooldown(delivered, sandbox, settings) -> None:
    settings.REFILL_COOLDOWN = 24 * 3600
    first = order_refill(order=delivered)
    Refill.objects.filter(pk=first.pk).update(status=Refill.Status.COMPLETED, created_at=timezone.now() - timedelta(hours=23))
    with pytest.raises(RequestRefused) as refused:
        order_refill(order=delivered)
    assert str(refused.value).startswith("A refill of this order was asked for recently; you may ask again after ")
    assert str(refused.value).endswith(" UTC.")

    Refill.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    assert order_refill(order=delivered).status == Refill.Status.PENDING


def test_a_refill_the_provider_refuses_says_why_in_the_providers_words_and_may_be_asked_again(delivered, sandbox, settings) -> None:
    settings.REFILL_COOLDOWN = 24 * 3600
    refill = order_refill(order=delivered)
    refused = [{"order": delivered.upstream_order_id, "refill": {"error": "Refill is not available yet"}}]
    sandbox.panel.add_fault(Fault(kind="reply", action="refill", body=refused, process=False))
    assert refills_send(refill_ids=[refill.pk]) == 0

    refill.refresh_from_db()
    assert (refill.status, refill.error) == (Refill.Status.REJECTED, "Refill is not available yet")
    # Rejected: the provider did nothing, so neither the one-open rule nor the cooldown holds the customer back.
    assert order_refill(order=delivered).status == Refill.Status.PENDING


@pytest.mark.parametrize("kind", ["html", "drop"])
def test_a_refill_whose_send_has_an_unknown_outcome_stays_claimed_until_stale_then_is_sent_again(
    delivered, sandbox, settings, kind: str
) -> None:
    """The provider may have made it: not rejected (the customer would ask again at once), not resent while the claim is fresh."""
    refill = order_refill(order=delivered)
    sandbox.panel.add_fault(Fault(kind=kind, action="refill", process=False))
    assert refills_send(refill_ids=[refill.pk]) == 0
    refill.refresh_from_db()
    assert (refill.status, refill.upstream_refill_id) == (Refill.Status.PENDING, "") and refill.sending_at is not None
    sandbox.panel.clear_faults()
    assert refills_send(refill_ids=[refill.pk]) == 0 and sandbox.panel.calls["refill"] == 1  # claimed: a second sender leaves it
    Refill.objects.filter(pk=refill.pk).update(sending_at=timezone.now() - timedelta(seconds=settings.ORDER_SUBMIT_TIMEOUT + 1))
    assert refills_send(refill_ids=[refill.pk]) == 1
    refill.refresh_from_db()
    assert refill.upstream_refill_id and refill.status == Refill.Status.PENDING


def test_a_refill_that_never_reached_the_provider_gives_its_claim_back_for_the_sweep(delivered, sandbox) -> None:
    refill = order_refill(order=delivered)
    sandbox.stop()  # connection refused: the provider never saw the call
    assert refills_send(refill_ids=[refill.pk]) == 0
    refill.refresh_from_db()
    assert (refill.status, refill.sending_at) == (Refill.Status.PENDING, None)


def test_a_refill_the_provider_refuses_is_rejected_with_its_message(delivered, sandbox) -> None:
    refill = order_refill(order=delivered)
    sandbox.panel.add_fault(Fault(kind="reply", action="refill", body={"error": "Refill is disabled for this service"}, process=False))
    assert refills_send(refill_ids=[refill.pk]) == 0
    refill.refresh_from_db()
    assert (refill.status, refill.upstream_refill_id) == (Refill.Status.REJECTED, "")
    assert refill.error == "Refill is disabled for this service"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_a_refill_and_a_cancel_once(catalogue, customer, sandbox) -> None:
    """The task and the sweep (or a redelivery) overlapping: one upstream call each, and an accepted cancel keeps its mark."""
    refillable = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert order_submit(order_id=refillable.pk) is SubmitOutcome.PLACED
    sandbox.panel.advance(10_000)
    order_finish(order_id=refillable.pk, status=S.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    running = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert order_submit(order_id=running.pk) is SubmitOutcome.PLACED
    refill = order_refill(order=Order.objects.select_related("provider_service").get(pk=refillable.pk))
    order_cancel(order=Order.objects.select_related("provider_service").get(pk=running.pk))
    sandbox.panel.add_fault(Fault(kind="slow", delay=1.0, times=0))

    assert sorted(race(2, lambda: refills_send(refill_ids=[refill.pk]))) == [0, 1]
    assert sorted(race(2, lambda: orders_cancel_send(order_ids=[running.pk]))) == [0, 1]
    assert (sandbox.panel.calls["refill"], sandbox.panel.calls["cancel"]) == (1, 1)
    assert Order.objects.get(pk=running.pk).cancel_requested_at is not None
    refused = OrderEvent.objects.filter(order_id=running.pk, kind=OrderEvent.Kind.CANCEL_REQUESTED, detail__has_key="refused")
    assert not refused.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_refills_of_one_order_asked_at_the_same_instant_make_one_row(catalogue, customer, sandbox, settings) -> None:
    settings.REFILL_COOLDOWN = 0
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    order_finish(order_id=order.pk, status=S.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")

    outcomes = race(8, lambda: order_refill(order=Order.objects.select_related("provider_service").get(pk=order.pk)))

    refills = [outcome for outcome in outcomes if isinstance(outcome, Refill)]
    refusals = [str(outcome) for outcome in outcomes if not isinstance(outcome, Refill)]
    assert len(refills) == 1 and refusals == [REFILL_UNDER_WAY] * 7
    assert Refill.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, kind=Kind.REFILL_REQUESTED).count() == 1


def test_an_unsent_order_is_canceled_here_with_a_full_refund(catalogue, customer, sandbox, queued) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    with queued:
        canceled = order_cancel(order=order)
    assert (canceled.status, canceled.refunded) == (S.CANCELED, order.charge)
    assert refunds_of(order) == [order.charge]
    assert sandbox.panel.calls["cancel"] == 0 and queued.sent == []
    assert_ledger_holds(customer)


def test_an_order_sent_out_meanwhile_is_not_canceled_here(catalogue, customer, sandbox) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)  # read as awaiting ...
    assert order_claim(order_id=order.pk)  # ... while a worker takes it
    with pytest.raises(RequestRefused) as refused:
        order_cancel(order=order)
    assert str(refused.value) == NOT_CANCELLABLE
    assert order.status == S.SUBMITTING and refunds_of(order) == []


def test_a_placed_order_is_marked_at_once_and_a_task_asks_the_provider_once(placed, sandbox, queued) -> None:
    slow_panel(sandbox)
    started = time.monotonic()
    with queued:
        asked = order_cancel(order=placed)
    assert time.monotonic() - started < 1.0, "the request waited for the panel"

    assert sandbox.panel.calls["cancel"] == 0 and queued.sent == [("orders_cancel_send_task", [placed.pk])]
    assert asked.status == S.PENDING and asked.cancel_requested_at is not None  # the refund follows the provider's Canceled
    event = OrderEvent.objects.filter(order=placed).latest("id")
    assert (event.kind, event.detail) == (Kind.CANCEL_REQUESTED, {"sent": False})
    with pytest.raises(RequestRefused) as refused:
        order_cancel(order=asked)
    assert str(refused.value) == NOT_CANCELLABLE

    sandbox.panel.clear_faults()
    assert orders_cancel_send(order_ids=[placed.pk]) == 1
    assert sandbox.panel.calls["cancel"] == 1 and refunds_of(placed) == []
    assert OrderEvent.objects.filter(order=placed).latest("id").detail == {"sent": True}


def test_a_cancel_the_provider_refuses_lifts_the_mark(placed, sandbox) -> None:
    Order.objects.filter(pk=placed.pk).update(upstream_order_id="7730021")  # no order of the panel's
    placed.refresh_from_db()
    order_cancel(order=placed)
    assert orders_cancel_send(order_ids=[placed.pk]) == 0
    placed.refresh_from_db()
    assert placed.cancel_requested_at is None  # the customer may ask again
    assert OrderEvent.objects.filter(order=placed).latest("id").detail == {"sent": False, "refused": "Incorrect order ID"}


def test_a_cancel_with_an_unknown_outcome_keeps_the_mark_and_is_asked_again_once_stale(placed, sandbox, settings) -> None:
    order_cancel(order=placed)
    sandbox.panel.add_fault(Fault(kind="html", action="cancel"))
    assert orders_cancel_send(order_ids=[placed.pk]) == 0
    placed.refresh_from_db()
    assert placed.cancel_requested_at is not None and placed.cancel_sent_at is not None
    sandbox.panel.clear_faults()
    assert orders_cancel_send(order_ids=[placed.pk]) == 0 and sandbox.panel.calls["cancel"] == 1
    Order.objects.filter(pk=placed.pk).update(cancel_sent_at=timezone.now() - timedelta(seconds=settings.ORDER_SUBMIT_TIMEOUT + 1))
    assert orders_cancel_send(order_ids=[placed.pk]) == 1


def test_a_cancel_the_provider_refuses_lifts_the_mark_so_the_customer_may_ask_again(placed, sandbox) -> None:
    order_cancel(order=placed)
    sandbox.panel.add_fault(
        Fault(kind="reply", action="cancel", body=[{"order": placed.upstream_order_id, "cancel": {"error": "Too late"}}])
    )
    assert orders_cancel_send(order_ids=[placed.pk]) == 0
    placed.refresh_from_db()
    assert (placed.cancel_requested_at, placed.cancel_sent_at) == (None, None)


def test_a_service_without_cancels_is_never_asked(catalogue, customer, sandbox) -> None:
    order = order_place(user=customer, service=catalogue["2"], link=LINK, quantity=100)  # service 2: no cancel
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    order.refresh_from_db()
    with pytest.raises(RequestRefused) as refused:
        order_cancel(order=order)
    assert str(refused.value) == NOT_CANCELLABLE
    assert sandbox.panel.calls["cancel"] == 0
