"""Every change of an order leaves exactly the right history events: kind, actor (and who), status and detail."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from panelapi.sandbox import Fault
from shop.models import ApiKey, LedgerEntry, Order, OrderStatus, Provider, Refill
from shop.orders.flow import UNKNOWN_AFTER_SWEEP, order_claim, order_resolve_not_placed, order_resolve_placed
from shop.orders.models import OrderEvent
from shop.orders.placement import order_place
from shop.orders.readings import POLLED_FIELDS, PolledOrder, Reading, orders_store_running
from shop.orders.refresh import orders_refresh
from shop.orders.requests_many import orders_cancel_send
from shop.orders.submission import PROVIDER_LOW, SubmitOutcome, order_submit, orders_sweep
from tests.helpers import order_finish

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/abc"
Kind = OrderEvent.Kind
Actor = OrderEvent.Actor
S = OrderStatus


def events(order: Order) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order_id=order.pk).order_by("id"))


def kinds(order: Order) -> list[str]:
    return [entry.kind for entry in events(order)]


def last(order: Order) -> OrderEvent:
    return events(order)[-1]


def who(entry: OrderEvent) -> tuple[str, int | None, str]:
    return entry.actor, entry.actor_user_id, entry.key_prefix


def seconds_ahead(moment: datetime, *, before: datetime, after: datetime) -> tuple[float, float]:
    """How far ``moment`` lies after a call that ran between ``before`` and ``after`` (lowest and highest)."""
    return (moment - after).total_seconds(), (moment - before).total_seconds()


@pytest.fixture
def order(catalogue, customer) -> Order:
    return order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)


@pytest.fixture
def placed(order, sandbox) -> Order:
    """The order, sent to the sandbox panel (pending there)."""
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    order.refresh_from_db()
    return order


@pytest.fixture
def needs_attention(order, sandbox) -> Order:
    """The order, sent but the panel's answer lost (it did place it)."""
    sandbox.panel.add_fault(Fault(kind="drop", action="add", process=True))
    assert order_submit(order_id=order.pk) is SubmitOutcome.NEEDS_ATTENTION
    order.refresh_from_db()
    return order


def completed(order: Order, sandbox) -> Order:
    order_finish(order_id=order.pk, status=S.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    sandbox.panel.advance(10_000)  # the sandbox's own copy finishes too
    order.refresh_from_db()
    return order


def polled(order: Order) -> PolledOrder:
    """The order as the poller reads it from the database."""
    return PolledOrder(**Order.objects.values(*POLLED_FIELDS).get(pk=order.pk))


# Placing ------------------------------------------------------------------------------------


def test_web_placement_records_placed_by_the_customer_with_the_charge(web, catalogue, customer) -> None:
    response = web.post(reverse("order-new"), {"service": catalogue["1"].pk, "link": LINK, "quantity": "1000"})
    order = Order.objects.get(user=customer)
    assert response.status_code == 302

    (entry,) = events(order)
    assert (entry.kind, entry.status) == (Kind.PLACED, S.AWAITING)
    assert who(entry) == (Actor.CUSTOMER, customer.pk, "")
    assert entry.detail == {"charge": str(order.charge)} == {"charge": "1.1700"}


def test_api_placement_records_the_api_and_the_keys_prefix_never_the_key(call, key, catalogue, customer) -> None:
    reply = call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")
    order = Order.objects.get(pk=reply["order"])

    (entry,) = events(order)
    assert (entry.kind, entry.status, entry.detail) == (Kind.PLACED, S.AWAITING, {"charge": "1.1700"})
    assert who(entry) == (Actor.API, customer.pk, key[:10])
    assert entry.key_prefix == ApiKey.objects.get(user=customer).prefix
    assert len(key) > 10
    stored = OrderEvent.objects.filter(pk=entry.pk).values().get()
    assert key not in json.dumps(stored, default=str)


# Submitting --------------------------------------------------------------------------------


def test_submission_claims_then_sends_with_the_upstream_id(placed) -> None:
    placed_event, claimed, sent = events(placed)
    assert placed_event.kind == Kind.PLACED
    assert (claimed.kind, claimed.status, claimed.detail) == (Kind.CLAIMED, S.SUBMITTING, {})
    assert (sent.kind, sent.status) == (Kind.SENT, S.PENDING)
    assert sent.detail == {"upstream_order_id": placed.upstream_order_id} and placed.upstream_order_id
    assert who(claimed) == who(sent) == (Actor.SYSTEM, None, "")


def test_a_refused_add_records_claimed_refused_and_the_full_refund(order, sandbox) -> None:
    sandbox.panel.add_fault(Fault(kind="reply", action="add", body={"error": "Incorrect service ID"}, process=False))
    assert order_submit(order_id=order.pk) is SubmitOutcome.FAILED
    order.refresh_from_db()

    assert kinds(order) == [Kind.PLACED, Kind.CLAIMED, Kind.REFUSED, Kind.REFUNDED]
    _, _, refused, refunded = events(order)
    assert (refused.status, refused.detail) == (S.FAILED, {"message": "Refused by the provider: Incorrect service ID"})
    assert (refunded.status, refunded.detail) == (S.FAILED, {"amount": str(order.charge)})
    assert who(refused) == who(refunded) == (Actor.SYSTEM, None, "")
    assert LedgerEntry.objects.get(order=order, kind=LedgerEntry.Kind.REFUND).amount == order.charge


@pytest.mark.parametrize("kind", ["slow", "error500"])
def test_a_lost_answer_records_unknown_with_its_reason(order, sandbox, settings, kind: str) -> None:
    settings.PANEL_READ_TIMEOUT = 0.5
    sandbox.panel.add_fault(Fault(kind=kind, action="add", delay=1.5))
    assert order_submit(order_id=order.pk) is SubmitOutcome.NEEDS_ATTENTION
    order.refresh_from_db()

    assert kinds(order) == [Kind.PLACED, Kind.CLAIMED, Kind.UNKNOWN]
    unknown = last(order)
    assert (unknown.status, who(unknown)) == (S.NEEDS_ATTENTION, (Actor.SYSTEM, None, ""))
    assert set(unknown.detail) == {"reason"}
    assert unknown.detail["reason"] == order.error and unknown.detail["reason"].startswith("add: ")


def test_an_unreachable_provider_records_retry_and_waits_15_seconds(order) -> None:
    Provider.objects.filter(pk=order.provider_id).update(api_url="http://127.0.0.1:9/api/v2")
    before = timezone.now()
    assert order_submit(order_id=order.pk) is SubmitOutcome.RETRY
    after = timezone.now()
    order.refresh_from_db()

    assert kinds(order) == [Kind.PLACED, Kind.CLAIMED, Kind.RETRY]
    retry = last(order)
    assert (retry.status, who(retry)) == (S.AWAITING, (Actor.SYSTEM, None, ""))
    assert "could not connect" in retry.detail["message"]
    low, high = seconds_ahead(order.next_attempt_at, before=before, after=after)
    assert low <= 15 <= high


def test_a_provider_low_on_funds_holds_with_one_event_and_a_growing_back_off(order, sandbox) -> None:
    Provider.objects.filter(pk=order.provider_id).update(balance=Decimal("100"), balance_threshold=Decimal("5000"))
    for attempt, delay in [(1, 15), (2, 30), (3, 60), (4, 120)]:
        before = timezone.now()
        assert order_submit(order_id=order.pk) is SubmitOutcome.HELD
        after = timezone.now()
        order.refresh_from_db()
        assert (order.status, order.submit_attempts) == (S.AWAITING, attempt)
        low, high = seconds_ahead(order.next_attempt_at, before=before, after=after)
        assert low <= delay <= high, f"attempt {attempt}: next attempt in {low:.1f}..{high:.1f} s, not {delay} s"

    assert kinds(order) == [Kind.PLACED, Kind.HELD]
    held = last(order)
    assert (held.status, held.detail, who(held)) == (S.AWAITING, {"message": PROVIDER_LOW}, (Actor.SYSTEM, None, ""))
    assert sandbox.panel.calls["add"] == 0


# Admins resolving an order that needs attention ------------------------------------------


def test_admin_resolving_placed_records_resolved_by_that_admin(needs_attention, admin_user) -> None:
    order_resolve_placed(order=needs_attention, upstream_order_id=" 10001 ", admin=admin_user)

    assert kinds(needs_attention) == [Kind.PLACED, Kind.CLAIMED, Kind.UNKNOWN, Kind.RESOLVED]
    resolved = last(needs_attention)
    assert (resolved.status, who(resolved)) == (S.PENDING, (Actor.ADMIN, admin_user.pk, ""))
    assert resolved.detail == {"outcome": "placed", "upstream_order_id": "10001"}


def test_admin_resolving_not_placed_records_resolved_and_a_refund_by_that_admin(needs_attention, admin_user) -> None:
    order_resolve_not_placed(order=needs_attention, admin=admin_user)

    assert kinds(needs_attention) == [Kind.PLACED, Kind.CLAIMED, Kind.UNKNOWN, Kind.RESOLVED, Kind.REFUNDED]
    resolved, refunded = events(needs_attention)[-2:]
    assert (resolved.status, resolved.detail, who(resolved)) == (S.FAILED, {"outcome": "not placed"}, (Actor.ADMIN, admin_user.pk, ""))
    assert (refunded.status, refunded.detail) == (S.FAILED, {"amount": str(needs_attention.charge)})
    assert who(refunded) == (Actor.ADMIN, admin_user.pk, "")
    refund = LedgerEntry.objects.get(order=needs_attention, kind=LedgerEntry.Kind.REFUND)
    assert (refund.amount, refund.created_by) == (needs_attention.charge, admin_user)


# Status readings -----------------------------------------------------------------------------


def test_a_reading_from_the_panel_records_the_raw_word_and_figures_once(placed, sandbox) -> None:
    reply = {placed.upstream_order_id: {"status": "Inprogress", "start_count": "5", "remains": "600", "charge": "0.9", "currency": "USD"}}
    for _ in range(2):  # the panel answers the same twice
        sandbox.panel.add_fault(Fault(kind="reply", action="status", body=reply))
        Order.objects.filter(pk=placed.pk).update(next_check_at=timezone.now())
        assert orders_refresh(provider=placed.provider).calls == 1

    assert kinds(placed) == [Kind.PLACED, Kind.CLAIMED, Kind.SENT, Kind.STATUS]
    status = last(placed)
    assert (status.status, who(status)) == (S.IN_PROGRESS, (Actor.SYSTEM, None, ""))
    assert status.detail["upstream_status"] == "Inprogress"
    assert (status.detail["start_count"], status.detail["remains"]) == (5, 600)
    assert Order.objects.get(pk=placed.pk).checks == 2


def test_storing_a_reading_records_status_only_when_it_changes_something(placed) -> None:
    def store(raw: str, remains: int) -> int:
        reading = Reading(polled(placed), S.IN_PROGRESS, raw, 5, remains, Decimal("0.9"))
        return orders_store_running(readings=[reading], now=timezone.now())

    assert store("In progress", 600) == 1
    assert store("In progress", 600) == 1  # stored again (checked), but nothing changed
    assert store("In progress", 400) == 1
    assert store("In progress", 400) == 1

    readings = [entry for entry in events(placed) if entry.kind == Kind.STATUS]
    assert [(entry.status, entry.detail["remains"]) for entry in readings] == [(S.IN_PROGRESS, 600), (S.IN_PROGRESS, 400)]
    assert readings[0].detail == {"upstream_status": "In progress", "start_count": 5, "remains": 600, "upstream_charge": "0.9"}


def test_two_pollers_storing_the_same_reading_record_it_once(placed) -> None:
    """Both read the order before either stored: the second store changes nothing and must add no event."""
    reading = Reading(polled(placed), S.IN_PROGRESS, "In progress", 5, 600, None)
    orders_store_running(readings=[reading], now=timezone.now())
    orders_store_running(readings=[reading], now=timezone.now())

    assert kinds(placed).count(Kind.STATUS) == 1


def test_a_partial_finish_records_the_status_and_the_refund_of_the_undelivered_share(placed) -> None:
    assert order_finish(order_id=placed.pk, status=S.PARTIAL, remains=250, start_count=77, upstream_charge=None, raw="Partial")
    assert not order_finish(order_id=placed.pk, status=S.PARTIAL, remains=250, start_count=77, upstream_charge=None, raw="Partial")

    assert kinds(placed) == [Kind.PLACED, Kind.CLAIMED, Kind.SENT, Kind.STATUS, Kind.REFUNDED]
    status, refunded = events(placed)[-2:]
    assert (status.status, status.detail) == (S.PARTIAL, {"upstream_status": "Partial", "start_count": 77, "remains": 250})
    assert (refunded.status, refunded.detail) == (S.PARTIAL, {"amount": "0.2925"})  # 1.1700 x 250 / 1000
    assert who(status) == who(refunded) == (Actor.SYSTEM, None, "")
    assert LedgerEntry.objects.get(order=placed, kind=LedgerEntry.Kind.REFUND).amount == Decimal("0.2925")


def test_a_completed_finish_records_the_status_and_no_refund(placed) -> None:
    order_finish(order_id=placed.pk, status=S.COMPLETED, remains=-2, start_count=10, upstream_charge=Decimal("0.9"), raw="Completed")

    assert kinds(placed)[-1:] == [Kind.STATUS]
    assert last(placed).detail == {"upstream_status": "Completed", "start_count": 10, "remains": -2, "upstream_charge": "0.9"}
    assert not LedgerEntry.objects.filter(order=placed, kind=LedgerEntry.Kind.REFUND).exists()


# The sweeper ----------------------------------------------------------------------------------


def test_the_sweeper_records_unknown_for_a_stale_submission_and_leaves_one_in_flight(catalogue, customer, settings) -> None:
    settings.ORDER_SUBMIT_TIMEOUT = 600
    stale = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=100)
    in_flight = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=100)
    for order, seconds in [(stale, 601), (in_flight, 590)]:
        assert order_claim(order_id=order.pk)
        Order.objects.filter(pk=order.pk).update(submitting_since=timezone.now() - timedelta(seconds=seconds))

    assert orders_sweep().flagged == 1

    assert kinds(stale) == [Kind.PLACED, Kind.CLAIMED, Kind.UNKNOWN]
    unknown = last(stale)
    assert (unknown.status, unknown.detail, who(unknown)) == (S.NEEDS_ATTENTION, {"reason": UNKNOWN_AFTER_SWEEP}, (Actor.SYSTEM, None, ""))
    assert kinds(in_flight) == [Kind.PLACED, Kind.CLAIMED]
    assert Order.objects.get(pk=in_flight.pk).status == S.SUBMITTING


# Refills and cancellations ----------------------------------------------------------------


def test_a_refill_from_the_order_page_is_recorded_as_the_customers(web, placed, sandbox, customer) -> None:
    completed(placed, sandbox)
    web.post(reverse("order-refill", args=[placed.pk]))
    refill = Refill.objects.get(order=placed)

    entry = last(placed)
    assert (entry.kind, entry.status, who(entry)) == (Kind.REFILL_REQUESTED, S.COMPLETED, (Actor.CUSTOMER, customer.pk, ""))
    assert entry.detail == {"refill": refill.pk}  # not sent yet: the task sends it


def test_canceling_an_unsent_order_from_the_order_page_records_canceled_and_the_refund(web, order, customer) -> None:
    web.post(reverse("order-cancel", args=[order.pk]))

    assert kinds(order) == [Kind.PLACED, Kind.CANCELED, Kind.REFUNDED]
    canceled, refunded = events(order)[1:]
    assert (canceled.status, canceled.detail, who(canceled)) == (S.CANCELED, {}, (Actor.CUSTOMER, customer.pk, ""))
    assert (refunded.status, refunded.detail) == (S.CANCELED, {"amount": str(order.charge)})


def test_canceling_a_placed_order_from_the_order_page_records_cancel_requested_then_the_sending(web, placed, sandbox, customer) -> None:
    web.post(reverse("order-cancel", args=[placed.pk]))

    assert sandbox.panel.calls["cancel"] == 0
    entry = last(placed)
    assert (entry.kind, entry.status, entry.detail) == (Kind.CANCEL_REQUESTED, S.PENDING, {"sent": False})
    assert who(entry) == (Actor.CUSTOMER, customer.pk, "")

    assert orders_cancel_send(order_ids=[placed.pk]) == 1  # the task
    sent = last(placed)
    assert (sent.kind, sent.detail, who(sent)) == (Kind.CANCEL_REQUESTED, {"sent": True}, (Actor.SYSTEM, None, ""))


def test_refill_and_cancel_through_the_api_are_recorded_with_the_keys_prefix(call, key, catalogue, customer, sandbox) -> None:
    api = (Actor.API, customer.pk, key[:10])
    to_refill = Order.objects.get(pk=call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"])
    to_cancel = Order.objects.get(pk=call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"])
    unsent = Order.objects.get(pk=call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"])
    for order in (to_refill, to_cancel):
        assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED

    assert call(action="cancel", order=str(unsent.pk)) == {"cancel": 1}
    assert [(e.kind, e.status, who(e)) for e in events(unsent)[1:]] == [
        (Kind.CANCELED, S.CANCELED, api),
        (Kind.REFUNDED, S.CANCELED, (Actor.SYSTEM, None, "")),
    ]

    assert call(action="cancel", order=str(to_cancel.pk)) == {"cancel": 1}
    entry = last(to_cancel)
    assert (entry.kind, entry.status, entry.detail, who(entry)) == (Kind.CANCEL_REQUESTED, S.PENDING, {"sent": False}, api)

    completed(to_refill, sandbox)
    reply = call(action="refill", order=str(to_refill.pk))
    refill = Refill.objects.get(pk=reply["refill"])
    entry = last(to_refill)
    assert (entry.kind, entry.status, who(entry)) == (Kind.REFILL_REQUESTED, S.COMPLETED, api)
    assert entry.detail == {"refill": refill.pk}


def test_the_apis_many_forms_record_the_request_then_the_sending(call, key, catalogue, customer, sandbox) -> None:
    api = (Actor.API, customer.pk, key[:10])
    order = Order.objects.get(pk=call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"])
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED

    assert call(action="cancel", orders=str(order.pk)) == [{"order": order.pk, "cancel": 1}]
    asked = last(order)
    assert (asked.kind, asked.status, asked.detail, who(asked)) == (Kind.CANCEL_REQUESTED, S.PENDING, {"sent": False}, api)

    assert orders_cancel_send(order_ids=[order.pk]) == 1
    sent = last(order)
    assert (sent.kind, sent.detail, who(sent)) == (Kind.CANCEL_REQUESTED, {"sent": True}, (Actor.SYSTEM, None, ""))

    done = Order.objects.get(pk=call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"])
    order_submit(order_id=done.pk)
    completed(done, sandbox)
    (reply,) = call(action="refill", orders=str(done.pk))
    entry = last(done)
    assert (entry.kind, entry.status, entry.detail, who(entry)) == (Kind.REFILL_REQUESTED, S.COMPLETED, {"refill": reply["refill"]}, api)


# The history itself ----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("change", ["update", "delete"])
def test_events_cannot_be_updated_or_deleted_on_postgres(order, change: str) -> None:
    rows = OrderEvent.objects.filter(order=order)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        rows.update(detail={"charge": "0.0001"}) if change == "update" else rows.delete()
    assert list(rows.values_list("kind", "detail")) == [(Kind.PLACED, {"charge": str(order.charge)})]


def test_events_cannot_be_updated(order) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        OrderEvent.objects.filter(order=order).update(actor=Actor.ADMIN)
