"""The API's many forms (``orders=``, ``refills=``): answered at once with no upstream call, then sent in one call per provider."""

from __future__ import annotations

import time

import pytest

from panelapi.sandbox import Fault
from shop.catalogue.models import UpstreamCall
from shop.models import Order, OrderStatus, Refill
from shop.orders.models import OrderEvent
from shop.orders.placement import order_place
from shop.orders.requests_many import orders_cancel_send, refills_send
from shop.orders.submission import SubmitOutcome, order_submit
from tests.conftest import SANDBOX_KEY
from tests.helpers import order_finish

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


def slow_panel(sandbox) -> None:
    """Every call to the panel now takes 5 s (until the faults are cleared)."""
    sandbox.panel.add_fault(Fault(kind="slow", delay=5.0, times=0))


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


def test_refill_status_of_many_refills_asks_the_provider_once(call, catalogue, customer, sandbox) -> None:
    orders = placed_orders(customer, catalogue["1"], 12)
    sandbox.panel.advance(10_000)
    for order in orders:
        order_finish(order_id=order.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    orders = [order for order in orders if sandbox_outcome(sandbox, order) in {"Completed", "Partial"}]
    assert len(orders) >= 5
    call(action="refill", orders=ids(orders))
    refills = list(Refill.objects.filter(order__in=orders).order_by("pk"))
    assert refills_send(refill_ids=[refill.pk for refill in refills]) == len(refills)
    sandbox.panel.advance(15)  # the panel's refills are under way now (stage_seconds is 10)

    reply = call(action="refill_status", refills=",".join(str(refill.pk) for refill in refills))

    assert sandbox.panel.calls["refill_status"] == 1 and upstream_calls("refill_status") == 1
    assert reply == [{"refill": refill.pk, "status": "In progress"} for refill in refills]
    assert set(Refill.objects.filter(pk__in=[r.pk for r in refills]).values_list("status", flat=True)) == {Refill.Status.IN_PROGRESS}
    assert OrderEvent.objects.filter(kind=Kind.REFILL_STATUS, detail__refill_status="In progress").count() == len(refills)

    call(action="refill_status", refills=",".join(str(refill.pk) for refill in refills))
    assert sandbox.panel.calls["refill_status"] == 2  # again one call for all of them
    assert OrderEvent.objects.filter(kind=Kind.REFILL_STATUS).count() == len(refills)  # nothing changed: no new events


def test_a_redelivered_cancel_task_neither_asks_again_nor_undoes_an_accepted_cancellation(call, catalogue, customer, sandbox) -> None:
    orders = placed_orders(customer, catalogue["1"], 3)
    call(action="cancel", orders=ids(orders))
    assert orders_cancel_send(order_ids=[order.pk for order in orders]) == 3

    orders_cancel_send(order_ids=[order.pk for order in orders])  # the same task again (acks late: redelivered after a lost worker)

    assert sandbox.panel.calls["cancel"] == 1
    assert Order.objects.filter(pk__in=[o.pk for o in orders], cancel_requested_at__isnull=False).count() == 3
    assert not OrderEvent.objects.filter(kind=Kind.CANCEL_REQUESTED, detail__has_key="refused").exists()
