"""The API's many forms (``orders=``, ``refills=``): answered at once with no upstream call, then sent in one call per provider;
and the periodic sweep that sends what was left unsent and asks about refills under way."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from panelapi.sandbox import Fault
from shop.catalogue.models import UpstreamCall
from shop.models import Order, OrderStatus, Refill
from shop.orders.models import OrderEvent
from shop.orders.placement import order_place
from shop.orders.requests import REFILL_UNDER_WAY
from shop.orders.requests_many import orders_cancel_send, refills_give_up, refills_send, requests_sweep
from shop.orders.submission import SubmitOutcome, order_submit
from tests.conftest import SANDBOX_KEY
from tests.helpers import order_finish, slow_panel

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/abc"
Kind = OrderEvent.Kind
REFUSED_UPSTREAM_ID = "7730021"  # no order of the sandbox panel: it refuses to cancel or refill it


def placed_orders(customer, service, count: int) -> list[Order]:
    """``count`` orders of ``service`` sent to the sandbox panel."""
    orders = [order_place(user=customer, service=service, link=LINK, quantity=50) for _ in range(count)]
    for order in orders:
        assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    return list(Order.objects.filter(pk__in=[order.pk for order in orders]).order_by("pk"))


def ids(orders) -> str:
    return ",".join(str(order.pk) for order in orders)


def timed(call, **params: str) -> tuple[object, float]:
    started = time.monotonic()
    reply = call(**params)
    return reply, time.monotonic() - started


def upstream_calls(action: str) -> int:
    return UpstreamCall.objects.filter(action=action).count()


def sandbox_outcome(sandbox, order: Order) -> str:
    """What the sandbox panel reports of the order now (without counting as a refill or cancel call)."""
    status, reply = sandbox.panel.handle({"key": SANDBOX_KEY, "action": "status", "order": order.upstream_order_id})
    assert status == 200
    return reply["status"]


def test_cancel_of_100_orders_answers_at_once_and_sends_one_call(call, catalogue, customer, sandbox) -> None:
    orders = placed_orders(customer, catalogue["1"], 100)
    refused = orders[37]
    Order.objects.filter(pk=refused.pk).update(upstream_order_id=REFUSED_UPSTREAM_ID)
    slow_panel(sandbox)

    reply, seconds = timed(call, action="cancel", orders=ids(orders))

    assert seconds < 1.0, f"the many form took {seconds:.2f} s: it waited for the panel"
    assert reply == [{"order": order.pk, "cancel": 1} for order in orders]
    assert sandbox.panel.calls["cancel"] == 0 and upstream_calls("cancel") == 0
    assert Order.objects.filter(pk__in=[o.pk for o in orders], cancel_requested_at__isnull=False).count() == 100
    assert OrderEvent.objects.filter(kind=Kind.CANCEL_REQUESTED, detail__sent=False).count() == 100

    sandbox.panel.clear_faults()
    assert orders_cancel_send(order_ids=[order.pk for order in orders]) == 99

    assert sandbox.panel.calls["cancel"] == 1 and upstream_calls("cancel") == 1
    others = [order.pk for order in orders if order.pk != refused.pk]
    assert {sandbox_outcome(sandbox, order) for order in orders if order.pk != refused.pk} == {"Canceled"}  # all in that one call
    assert Order.objects.filter(pk__in=others, cancel_requested_at__isnull=False).count() == 99
    assert OrderEvent.objects.filter(order_id__in=others, kind=Kind.CANCEL_REQUESTED, detail__sent=True).count() == 99

    refused.refresh_from_db()
    assert refused.cancel_requested_at is None  # the customer may ask again
    last = OrderEvent.objects.filter(order=refused).latest("id")
    assert (last.kind, last.actor) == (Kind.CANCEL_REQUESTED, OrderEvent.Actor.SYSTEM)
    assert last.detail == {"sent": False, "refused": "Incorrect order ID"}


def test_cancel_send_groups_ids_per_provider_and_sends_only_marked_orders(call, catalogue, customer, sandbox) -> None:
    marked = placed_orders(customer, catalogue["1"], 3)
    unmarked = placed_orders(customer, catalogue["1"], 1)
    call(action="cancel", orders=ids(marked))

    assert orders_cancel_send(order_ids=[order.pk for order in [*marked, *unmarked]]) == 3

    (sent,) = UpstreamCall.objects.filter(action="cancel")
    assert sorted(sent.params["orders"].split(",")) == sorted(order.upstream_order_id for order in marked)
    assert Order.objects.get(pk=unmarked[0].pk).cancel_requested_at is None


def test_refill_of_many_orders_answers_at_once_then_sends_one_call_and_stores_the_ids(call, catalogue, customer, sandbox) -> None:
    orders = placed_orders(customer, catalogue["1"], 30)
    sandbox.panel.advance(10_000)  # the panel's copies are finished
    for order in orders:
        order_finish(order_id=order.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    refused = orders[5]
    Order.objects.filter(pk=refused.pk).update(upstream_order_id=REFUSED_UPSTREAM_ID)
    orders = list(Order.objects.filter(pk__in=[order.pk for order in orders]).order_by("pk"))
    refillable = {order.pk for order in orders if order.pk != refused.pk and sandbox_outcome(sandbox, order) in {"Completed", "Partial"}}
    assert len(refillable) >= 20  # the seed completes most orders
    slow_panel(sandbox)

    reply, seconds = timed(call, action="refill", orders=ids(orders))

    assert seconds < 1.0, f"the many form took {seconds:.2f} s: it waited for the panel"
    refills = {refill.order_id: refill for refill in Refill.objects.filter(order__in=orders)}
    assert reply == [{"order": order.pk, "refill": refills[order.pk].pk} for order in orders]
    assert {(refill.status, refill.upstream_refill_id) for refill in refills.values()} == {(Refill.Status.PENDING, "")}
    assert sandbox.panel.calls["refill"] == 0 and upstream_calls("refill") == 0

    sandbox.panel.clear_faults()
    assert refills_send(refill_ids=[refill.pk for refill in refills.values()]) == len(refillable)

    assert sandbox.panel.calls["refill"] == 1 and upstream_calls("refill") == 1
    stored = {refill.order_id: refill for refill in Refill.objects.filter(order__in=orders)}
    assert {pk for pk, refill in stored.items() if refill.upstream_refill_id} == refillable
    assert len({refill.upstream_refill_id for pk, refill in stored.items() if pk in refillable}) == len(refillable)
    assert all(stored[pk].status == Refill.Status.REJECTED for pk in stored if pk not in refillable)
    rejected = OrderEvent.objects.filter(order=refused, kind=Kind.REFILL_STATUS).get()
    assert rejected.detail == {"refill": stored[refused.pk].pk, "refill_status": "Rejected", "word": "Incorrect order ID"}

    assert refills_send(refill_ids=[refill.pk for refill in refills.values()]) == 0  # sent once: a redelivered task sends nothing
    assert sandbox.panel.calls["refill"] == 1


def completed_orders(sandbox, customer, service, count: int) -> list[Order]:
    """``count`` orders finished here, of which the ones the sandbox panel finished too (so it takes their refills)."""
    orders = placed_orders(customer, service, count)
    sandbox.panel.advance(10_000)
    for order in orders:
        order_finish(order_id=order.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    return [order for order in orders if sandbox_outcome(sandbox, order) in {"Completed", "Partial"}]


def test_the_same_id_a_hundred_times_makes_one_refill_and_one_task(call, catalogue, customer, sandbox, queued, settings) -> None:
    settings.REFILL_COOLDOWN = 0
    (order,) = completed_orders(sandbox, customer, catalogue["1"], 1)
    slow_panel(sandbox)

    with queued:
        reply, seconds = timed(call, action="refill", orders=",".join([str(order.pk)] * 100))

    assert seconds < 1.0, f"the many form took {seconds:.2f} s: it waited for the panel"
    refill = Refill.objects.get(order=order)
    assert reply == [{"order": order.pk, "refill": refill.pk}] * 100
    assert OrderEvent.objects.filter(order=order, kind=Kind.REFILL_REQUESTED).count() == 1
    assert queued.sent == [("refills_send_task", [refill.pk])] and sandbox.panel.calls["refill"] == 0

    again = call(action="refill", orders=f"{order.pk},{order.pk}")  # one refill under way: no second one
    assert again == [{"order": order.pk, "refill": {"error": REFILL_UNDER_WAY}}] * 2
    assert call(action="refill", order=str(order.pk)) == {"error": REFILL_UNDER_WAY}
    assert Refill.objects.filter(order=order).count() == 1


def test_refill_status_answers_from_the_database_and_the_sweep_asks_the_provider_once(call, catalogue, customer, sandbox) -> None:
    orders = completed_orders(sandbox, customer, catalogue["1"], 12)
    assert len(orders) >= 5
    call(action="refill", orders=ids(orders))
    refills = list(Refill.objects.filter(order__in=orders).order_by("pk"))
    assert refills_send(refill_ids=[refill.pk for refill in refills]) == len(refills)
    sandbox.panel.advance(15)  # the panel's refills are under way now (stage_seconds is 10)
    asked = ",".join(str(refill.pk) for refill in refills)

    assert call(action="refill_status", refills=asked) == [{"refill": refill.pk, "status": "Pending"} for refill in refills]
    assert call(action="refill_status", refill=str(refills[0].pk)) == {"status": "Pending"}
    assert sandbox.panel.calls["refill_status"] == 0 and upstream_calls("refill_status") == 0  # nothing upstream in the request

    result = requests_sweep(provider=orders[0].provider)

    assert (result.calls, result.refills_asked) == (1, len(refills))
    assert sandbox.panel.calls["refill_status"] == 1 and upstream_calls("refill_status") == 1
    assert call(action="refill_status", refills=asked) == [{"refill": refill.pk, "status": "In progress"} for refill in refills]
    assert OrderEvent.objects.filter(kind=Kind.REFILL_STATUS, detail__refill_status="In progress").count() == len(refills)

    requests_sweep(provider=orders[0].provider)
    assert sandbox.panel.calls["refill_status"] == 2  # again one call for all of them
    assert OrderEvent.objects.filter(kind=Kind.REFILL_STATUS).count() == len(refills)  # nothing changed: no new events
    Refill.objects.filter(pk__in=[refill.pk for refill in refills]).update(status=Refill.Status.COMPLETED)
    assert requests_sweep(provider=orders[0].provider).calls == 0  # final: the provider is not asked again
    assert sandbox.panel.calls["refill_status"] == 2


def test_the_sweep_asks_about_refills_under_way_100_per_call(catalogue, customer, sandbox) -> None:
    orders = placed_orders(customer, catalogue["1"], 150)
    Order.objects.filter(pk__in=[order.pk for order in orders]).update(status=OrderStatus.COMPLETED)
    Refill.objects.bulk_create(Refill(order=order, upstream_refill_id=str(900 + number)) for number, order in enumerate(orders))

    result = requests_sweep(provider=orders[0].provider)

    assert (result.calls, result.refills_asked) == (2, 150)
    assert sandbox.panel.calls["refill_status"] == 2


def test_the_sweep_sends_refills_and_cancels_whose_task_was_lost(call, catalogue, customer, sandbox, settings) -> None:
    settings.ORDER_REQUEUE_AFTER = 60
    to_refill = completed_orders(sandbox, customer, catalogue["1"], 4)[:2]
    to_cancel = placed_orders(customer, catalogue["1"], 2)
    call(action="refill", orders=ids(to_refill))  # the on-commit tasks go nowhere in tests: as if the broker lost them
    call(action="cancel", orders=ids(to_cancel))
    provider = to_cancel[0].provider

    fresh = requests_sweep(provider=provider)  # too young: their own task may still come
    assert (fresh.refills_sent, fresh.cancels_sent) == (0, 0)
    assert sandbox.panel.calls["refill"] == 0 and sandbox.panel.calls["cancel"] == 0

    long_ago = timezone.now() - timedelta(seconds=61)
    Refill.objects.filter(order__in=to_refill).update(created_at=long_ago)
    Order.objects.filter(pk__in=[order.pk for order in to_cancel]).update(cancel_requested_at=long_ago)
    result = requests_sweep(provider=provider)

    assert (result.refills_sent, result.cancels_sent) == (2, 2)
    assert sandbox.panel.calls["refill"] == 1 and sandbox.panel.calls["cancel"] == 1
    assert not Refill.objects.filter(order__in=to_refill, upstream_refill_id="").exists()
    assert {sandbox_outcome(sandbox, order) for order in to_cancel} == {"Canceled"}

    again = requests_sweep(provider=provider)  # sent once: nothing is sent twice
    assert (again.refills_sent, again.cancels_sent) == (0, 0)
    assert sandbox.panel.calls["refill"] == 1 and sandbox.panel.calls["cancel"] == 1


def test_a_redelivered_cancel_task_neither_asks_again_nor_undoes_an_accepted_cancellation(call, catalogue, customer, sandbox) -> None:
    orders = placed_orders(customer, catalogue["1"], 3)
    call(action="cancel", orders=ids(orders))
    assert orders_cancel_send(order_ids=[order.pk for order in orders]) == 3

    orders_cancel_send(order_ids=[order.pk for order in orders])  # the same task again (acks late: redelivered after a lost worker)

    assert sandbox.panel.calls["cancel"] == 1
    assert Order.objects.filter(pk__in=[o.pk for o in orders], cancel_requested_at__isnull=False).count() == 3
    assert not OrderEvent.objects.filter(kind=Kind.CANCEL_REQUESTED, detail__has_key="refused").exists()


def test_a_refill_the_provider_answers_with_an_error_is_closed_so_the_order_may_be_refilled_again(catalogue, customer, sandbox) -> None:
    """ "Refill not found" will never turn into a status: left Pending, it would block the order's refills for good."""
    (order,) = placed_orders(customer, catalogue["1"], 1)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.COMPLETED)
    refill = Refill.objects.create(order=order, upstream_refill_id="123456")
    sandbox.panel.add_fault(
        Fault(kind="reply", action="refill_status", body=[{"refill": "123456", "status": {"error": "Refill not found"}}])
    )

    requests_sweep(provider=order.provider)

    refill.refresh_from_db()
    assert (refill.status, refill.error) == (Refill.Status.ERROR, "Refill not found")
    event = OrderEvent.objects.get(order=order, kind=Kind.REFILL_STATUS)
    assert (event.detail["refill_status"], event.detail["word"]) == ("Error", "Refill not found")


def test_refills_no_one_answers_about_are_given_up_after_the_limit_whatever_the_provider(catalogue, customer, sandbox, settings) -> None:
    settings.REFILL_GIVE_UP_AFTER = 3 * 86400
    orders = placed_orders(customer, catalogue["1"], 3)
    Order.objects.filter(pk__in=[order.pk for order in orders]).update(status=OrderStatus.COMPLETED)
    old, young, done = (Refill.objects.create(order=order, upstream_refill_id=str(700 + n)) for n, order in enumerate(orders))
    Refill.objects.filter(pk__in=[old.pk, done.pk]).update(created_at=timezone.now() - timedelta(days=3, seconds=1))
    Refill.objects.filter(pk=done.pk).update(status=Refill.Status.COMPLETED)
    orders[0].provider.__class__.objects.filter(pk=orders[0].provider_id).update(is_active=False)  # switched off: never swept

    assert refills_give_up() == 1

    statuses = dict(Refill.objects.values_list("pk", "status"))
    assert (statuses[old.pk], statuses[young.pk], statuses[done.pk]) == ("Error", "Pending", "Completed")
    assert Refill.objects.get(pk=old.pk).error == "No final answer from the provider within 3 days."
    assert OrderEvent.objects.filter(kind=Kind.REFILL_STATUS, detail__refill_status="Error").count() == 1
    assert refills_give_up() == 0  # closed once
