"""Storing the provider's readings of active orders (``shop.orders.readings``): figures, finished statuses and their refunds, once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from shop.models import LedgerEntry, Order, OrderStatus, Wallet
from shop.orders.flow import TransitionError, order_claim, order_placed
from shop.orders.models import OrderEvent
from shop.orders.placement import order_place
from shop.orders.readings import (
    NO_POSTS_NOTE,
    POLLED_FIELDS,
    PolledOrder,
    Reading,
    _figures,
    orders_finish,
    orders_postpone,
    orders_store_running,
)
from shop.wallet.selectors import ledger_differences
from shop.wallet.services import wallet_credit
from tests.factories import ProviderFactory
from tests.helpers import assert_ledger_holds, order_finish, place_and_submit, refunds_of, typed_service

pytestmark = pytest.mark.django_db
S = OrderStatus
LINK = "https://instagram.com/p/abc"
Kind = OrderEvent.Kind


@pytest.fixture
def service(db):
    """A Default service at 2.00 per 1000 with no markup: 1000 cost 2.0000."""
    return typed_service(ProviderFactory(), "Default", high=100_000)


def running(customer, service, *, quantity: int = 1000) -> Order:
    """An order placed, charged and taken by the provider (pending there), without any HTTP."""
    order = order_place(user=customer, service=service, link=LINK, quantity=quantity)
    assert order_claim(order_id=order.pk)
    assert order_placed(order_id=order.pk, upstream_order_id=f"up-{order.pk}")
    return Order.objects.get(pk=order.pk)


def polled(order: Order) -> PolledOrder:
    """The order as the poller reads it before asking the provider."""
    return PolledOrder(**Order.objects.values(*POLLED_FIELDS).get(pk=order.pk))


def reading(order: Order, status: str, *, remains: int | None = None, start_count: int | None = 10, raw: str = "") -> Reading:
    return Reading(polled(order), status, raw or status, start_count, remains, Decimal("0.5"))


def status_events(order: Order) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order=order, kind=Kind.STATUS).order_by("id"))


def balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


# A reading -----------------------------------------------------------------------------------------


def test_a_reading_changes_something_when_status_word_or_figures_differ() -> None:
    order = PolledOrder(1, 1, S.IN_PROGRESS, Decimal("1"), 100, timezone.now(), 3, start_count=5, remains=60, upstream_status="In progress")
    same = Reading(order, S.IN_PROGRESS, "In progress", 5, 60, Decimal("9"))  # the provider's cost is not a change
    assert not same.changes_something
    assert Reading(order, S.PROCESSING, "In progress", 5, 60, None).changes_something
    assert Reading(order, S.IN_PROGRESS, "Inprogress", 5, 60, None).changes_something
    assert Reading(order, S.IN_PROGRESS, "In progress", 6, 60, None).changes_something
    assert Reading(order, S.IN_PROGRESS, "In progress", 5, 59, None).changes_something


# Running orders ------------------------------------------------------------------------------------


def test_running_orders_get_their_figures_a_check_and_the_next_check(customer, service, settings) -> None:
    settings.ORDER_POLL_INTERVAL = 30
    order = running(customer, service)
    now = timezone.now()

    assert orders_store_running(readings=[reading(order, S.IN_PROGRESS, remains=400, raw="Inprogress")], now=now) == 1

    order.refresh_from_db()
    assert (order.status, order.upstream_status, order.start_count, order.remains) == (S.IN_PROGRESS, "Inprogress", 10, 400)
    assert (order.upstream_charge, order.checks, order.last_checked_at) == (Decimal("0.5"), 1, now)
    assert order.next_check_at == now + timedelta(seconds=30)
    assert order.finished_at is None and refunds_of(order) == []
    assert [(e.status, e.detail["remains"]) for e in status_events(order)] == [(S.IN_PROGRESS, 400)]


def test_a_stale_running_reading_changes_nothing(customer, service) -> None:
    """Two pollers read the order at one check count: the second to store finds the checks moved on."""
    order = running(customer, service)
    first, late = reading(order, S.IN_PROGRESS, remains=400), reading(order, S.PROCESSING, remains=900)

    assert orders_store_running(readings=[first], now=timezone.now()) == 1
    assert orders_store_running(readings=[late], now=timezone.now()) == 0

    order.refresh_from_db()
    assert (order.status, order.remains, order.checks) == (S.IN_PROGRESS, 400, 1)
    assert len(status_events(order)) == 1


def test_a_running_reading_of_an_order_that_finished_meanwhile_changes_nothing(customer, service) -> None:
    order = running(customer, service)
    late = reading(order, S.IN_PROGRESS, remains=400)
    assert orders_finish(readings=[reading(order, S.COMPLETED, remains=0)], now=timezone.now()) == [order.pk]

    assert orders_store_running(readings=[late], now=timezone.now()) == 0
    order.refresh_from_db()
    assert (order.status, order.remains, order.next_check_at) == (S.COMPLETED, 0, None)


def test_only_active_statuses_are_stored_as_running_and_only_final_ones_as_finished(customer, service) -> None:
    order = running(customer, service)
    with pytest.raises(TransitionError):
        orders_store_running(readings=[reading(order, S.COMPLETED, remains=0)], now=timezone.now())
    with pytest.raises(TransitionError):
        orders_finish(readings=[reading(order, S.IN_PROGRESS, remains=10)], now=timezone.now())
    with pytest.raises(TransitionError):
        orders_finish(readings=[reading(order, S.FAILED)], now=timezone.now())  # only the shop fails an order
    order.refresh_from_db()
    assert (order.status, order.checks) == (S.PENDING, 0)


# Finished orders and their refunds ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "remains", "refund"),
    [
        pytest.param(S.PARTIAL, 250, "0.5000", id="partial: charge x remains / quantity"),
        pytest.param(S.PARTIAL, 1, "0.0020", id="partial: one undelivered"),
        pytest.param(S.PARTIAL, 5000, "2.0000", id="partial: remains above the quantity"),
        pytest.param(S.PARTIAL, 0, "0", id="partial: nothing undelivered"),
        pytest.param(S.CANCELED, 250, "2.0000", id="canceled: the whole charge"),
        pytest.param(S.CANCELED, None, "2.0000", id="canceled: remains unknown"),
        pytest.param(S.COMPLETED, 250, "0", id="completed: none"),
        pytest.param(S.COMPLETED, -5, "0", id="completed: over-delivered"),
    ],
)
def test_a_finished_order_is_refunded_what_the_provider_did_not_deliver(customer, service, status, remains, refund) -> None:
    order = running(customer, service)
    assert order.charge == Decimal("2.0000")
    now = timezone.now()

    assert orders_finish(readings=[reading(order, status, remains=remains)], now=now) == [order.pk]

    order.refresh_from_db()
    assert (order.status, order.remains, order.finished_at, order.next_check_at) == (status, remains, now, None)
    assert order.refunded == Decimal(refund)
    assert refunds_of(order) == ([Decimal(refund)] if Decimal(refund) else [])
    assert balance(customer) == Decimal("98.0000") + Decimal(refund)
    refunded = OrderEvent.objects.filter(order=order, kind=Kind.REFUNDED)
    assert [event.detail for event in refunded] == ([{"amount": refund}] if Decimal(refund) else [])
    assert_ledger_holds(customer)


def test_the_refund_entry_says_why(customer, service) -> None:
    partial, canceled = running(customer, service), running(customer, service)
    orders_finish(readings=[reading(partial, S.PARTIAL, remains=100), reading(canceled, S.CANCELED)], now=timezone.now())
    reasons = dict(LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).values_list("order_id", "reason"))
    assert reasons == {
        partial.pk: f"Order #{partial.pk}: partially delivered",
        canceled.pk: f"Order #{canceled.pk}: canceled by the provider",
    }


def test_a_second_finish_of_the_same_order_refunds_nothing(customer, service) -> None:
    order = running(customer, service)
    same = reading(order, S.PARTIAL, remains=250)
    assert orders_finish(readings=[same], now=timezone.now()) == [order.pk]
    assert orders_finish(readings=[same], now=timezone.now()) == []
    assert orders_finish(readings=[reading(order, S.CANCELED)], now=timezone.now()) == []  # nor a later, different end

    order.refresh_from_db()
    assert (order.status, order.refunded) == (S.PARTIAL, Decimal("0.5000"))
    assert refunds_of(order) == [Decimal("0.5000")]
    assert len(status_events(order)) == 1
    assert_ledger_holds(customer)


def test_only_the_orders_this_call_finished_are_refunded(customer, service) -> None:
    done, fresh = running(customer, service), running(customer, service)
    stale_done = reading(done, S.CANCELED)
    assert orders_finish(readings=[stale_done], now=timezone.now()) == [done.pk]

    finished = orders_finish(readings=[stale_done, reading(fresh, S.CANCELED)], now=timezone.now())

    assert finished == [fresh.pk]
    assert refunds_of(done) == [done.charge] and refunds_of(fresh) == [fresh.charge]
    assert balance(customer) == Decimal("100")
    assert_ledger_holds(customer)


def test_each_finished_order_has_its_status_event_then_its_refund_event(customer, service) -> None:
    """Many orders in one call (on PostgreSQL the events go in with the update): each order's timeline reads in order."""
    wallet_credit(user=customer, amount=Decimal("100"), kind=LedgerEntry.Kind.DEPOSIT)
    orders = [running(customer, service) for _ in range(40)]
    ends = [S.PARTIAL, S.CANCELED, S.COMPLETED, S.PARTIAL]
    readings = [reading(order, ends[index % 4], remains=100) for index, order in enumerate(orders)]
    assert orders_finish(readings=readings[:3], now=timezone.now()) == [order.pk for order in orders[:3]]

    finished = orders_finish(readings=readings, now=timezone.now())

    assert sorted(finished) == [order.pk for order in orders[3:]]
    for index, order in enumerate(orders):
        kinds = list(OrderEvent.objects.filter(order=order).order_by("id").values_list("kind", flat=True))
        refunded = [Kind.REFUNDED] if ends[index % 4] != S.COMPLETED else []
        assert kinds == [Kind.PLACED, Kind.CLAIMED, Kind.SENT, Kind.STATUS, *refunded], order.pk
    assert_ledger_holds(customer)


def test_one_order_finished_by_its_id(customer, service) -> None:
    order = running(customer, service)
    args = {"order_id": order.pk, "remains": 500, "start_count": 3, "upstream_charge": Decimal("0.9"), "raw": "Partial"}
    assert order_finish(status=S.PARTIAL, **args) is True
    assert order_finish(status=S.PARTIAL, **args) is False
    order.refresh_from_db()
    assert (order.status, order.upstream_status, order.start_count, order.upstream_charge) == (S.PARTIAL, "Partial", 3, Decimal("0.9"))
    assert refunds_of(order) == [Decimal("1.0000")]


def test_the_same_final_status_read_again_never_refunds_twice(catalogue, customer) -> None:
    (order,) = place_and_submit(catalogue, customer, 1, quantity=1000)
    args = {"order_id": order.pk, "start_count": 5, "upstream_charge": None, "raw": "Partial"}
    assert order_finish(status=OrderStatus.PARTIAL, remains=250, **args) is True
    assert order_finish(status=OrderStatus.PARTIAL, remains=250, **args) is False
    assert order_finish(status=OrderStatus.CANCELED, remains=1000, **args) is False  # Partial turning Canceled later
    order.refresh_from_db()
    assert refunds_of(order) == [Decimal("0.0041")]  # 0.01625 x 250 / 1000, half-up
    assert order.status == OrderStatus.PARTIAL
    assert ledger_differences() == []


# Postponed orders ------------------------------------------------------------------------------------


def test_an_order_without_a_usable_answer_keeps_its_status_and_notes_why(customer, service, settings) -> None:
    settings.ORDER_POLL_INTERVAL = 30
    order = running(customer, service)
    orders_store_running(readings=[reading(order, S.IN_PROGRESS, remains=400)], now=timezone.now())
    now = timezone.now()

    assert orders_postpone(failures=[(polled(order), "Provider: Incorrect order ID")], now=now) == 1

    order.refresh_from_db()
    assert (order.status, order.remains, order.checks) == (S.IN_PROGRESS, 400, 1)  # as it was, and not counted as a check
    assert (order.error, order.last_checked_at, order.next_check_at) == ("Provider: Incorrect order ID", now, now + timedelta(seconds=30))
    assert len(status_events(order)) == 1


def test_postponing_leaves_a_finished_order_alone(customer, service) -> None:
    order = running(customer, service)
    before = polled(order)
    orders_finish(readings=[reading(order, S.COMPLETED, remains=0)], now=timezone.now())

    assert orders_postpone(failures=[(before, "HTTP 502 from the panel")], now=timezone.now()) == 0
    order.refresh_from_db()
    assert (order.status, order.error, order.next_check_at) == (S.COMPLETED, "", None)


# What is written besides the status --------------------------------------------------------------------


def test_a_status_event_keeps_the_providers_word_and_figures(customer, service) -> None:
    running_order, finished_order = running(customer, service), running(customer, service)
    orders_store_running(readings=[reading(running_order, S.IN_PROGRESS, remains=400, start_count=7, raw="Inprogress")], now=timezone.now())
    orders_finish(readings=[reading(finished_order, S.PARTIAL, remains=250, start_count=3, raw="Partial")], now=timezone.now())

    assert [event.detail for event in status_events(running_order)] == [
        {"upstream_status": "Inprogress", "start_count": 7, "remains": 400, "upstream_charge": "0.5"}
    ]
    assert [event.detail for event in status_events(finished_order)] == [
        {"upstream_status": "Partial", "start_count": 3, "remains": 250, "upstream_charge": "0.5"}
    ]


@pytest.mark.parametrize(
    ("store", "status"),
    [
        pytest.param(orders_store_running, S.COMPLETED, id="final as running"),
        pytest.param(orders_finish, S.IN_PROGRESS, id="running as final"),
        pytest.param(orders_finish, S.FAILED, id="failed as final"),
    ],
)
def test_a_reading_of_the_wrong_kind_is_refused_naming_its_status(customer, service, store, status) -> None:
    order = running(customer, service)
    with pytest.raises(TransitionError) as refused:
        store(readings=[reading(order, status, remains=0)], now=timezone.now())
    assert str(refused.value) == f"active -> [{status!r}] is not a transition of this kind"


def test_a_reading_note_is_stored_cut_to_the_500_characters_of_the_error(customer, service) -> None:
    """On PostgreSQL the column's cast cuts it too; on SQLite only the code does."""
    running_order, finished_order = running(customer, service), running(customer, service)
    note = "Provider: unknown status '" + "x" * 600 + "'"

    orders_store_running(readings=[replace(reading(running_order, S.IN_PROGRESS, remains=400), note=note)], now=timezone.now())
    orders_finish(readings=[replace(reading(finished_order, S.COMPLETED, remains=0), note=note)], now=timezone.now())

    assert list(Order.objects.filter(pk__in=[running_order.pk, finished_order.pk]).values_list("error", flat=True)) == [note[:500]] * 2


def test_a_status_event_keeps_the_note_on_the_providers_reading(customer, service) -> None:
    order = running(customer, service)
    note = "Provider: unknown status 'Awaiting moderation'; the order stays as it was and is checked again later."
    unknown_word = replace(reading(order, S.PENDING, raw="Awaiting moderation"), note=note)  # as orders_refresh reads one

    assert orders_store_running(readings=[unknown_word], now=timezone.now()) == 1

    assert [event.detail for event in status_events(order)] == [
        {"upstream_status": "Awaiting moderation", "start_count": 10, "upstream_charge": "0.5", "note": note}
    ]


def test_the_raw_status_word_is_stored_cut_to_64_characters_on_the_order_and_in_its_status_event(customer, service) -> None:
    """On PostgreSQL the column's cast cuts the order's copy too (on SQLite only the code does); the event's JSON only the code."""
    running_order, finished_order = running(customer, service), running(customer, service)
    raw = "In progress " + "x" * 60

    orders_store_running(readings=[reading(running_order, S.IN_PROGRESS, remains=400, raw=raw)], now=timezone.now())
    orders_finish(readings=[reading(finished_order, S.COMPLETED, remains=0, raw=raw)], now=timezone.now())

    orders = [Order.objects.get(pk=running_order.pk), Order.objects.get(pk=finished_order.pk)]
    assert [order.upstream_status for order in orders] == [raw[:64]] * 2
    assert [event.detail["upstream_status"] for event in status_events(running_order) + status_events(finished_order)] == [raw[:64]] * 2


def test_the_figures_for_the_order_row_are_cut_to_its_columns_by_the_code_itself(customer, service) -> None:
    """The cuts above, checked where they are made: PostgreSQL's cast would hide a longer value, SQLite would store it."""
    long_reading = replace(reading(running(customer, service), S.IN_PROGRESS, remains=400, raw="w" * 70), note="n" * 600)

    figures = _figures(long_reading, timezone.now())

    assert (figures["upstream_status"], figures["error"]) == ("w" * 64, "n" * 500)


# Subscriptions ---------------------------------------------------------------------------------------


@pytest.fixture
def subscribed(customer) -> Order:
    """A Subscriptions order at 3.00 per 1000, 200 a post on 5 posts: 3.0000 reserved, taken by the provider."""
    service = typed_service(ProviderFactory(), "Subscriptions", rate="3.00", low=50, high=5000)
    order = order_place(user=customer, service=service, username="shop.owner", min="100", max="200", posts="5")
    assert order_claim(order_id=order.pk)
    assert order_placed(order_id=order.pk, upstream_order_id=f"up-{order.pk}")
    return Order.objects.get(pk=order.pk)


def sub_reading(order: Order, status: str, posts: int | None, raw: str = "") -> Reading:
    return Reading(polled(order), status, raw or status, None, None, None, posts=posts)


def test_only_a_subscription_is_polled_as_one_and_takes_the_providers_posts(subscribed, customer, service) -> None:
    ordinary = polled(running(customer, service))
    assert (ordinary.subscription, polled(subscribed).subscription) == (False, True)
    assert (polled(subscribed).quantity, polled(subscribed).rate, polled(subscribed).posts_done) == (200, Decimal("3.000000"), 0)
    assert Reading(ordinary, S.IN_PROGRESS, "Active", None, None, None, posts=3).posts_done is None
    assert sub_reading(subscribed, S.SUB_ACTIVE, 3).posts_done == 3
    assert sub_reading(subscribed, S.SUB_ACTIVE, None).posts_done == 0  # no count sent: the shop's is kept


def test_a_subscriptions_posts_never_go_down_and_only_a_figure_ever_sent_counts_as_reported() -> None:
    def sub(before: int, posts: int | None) -> Reading:
        order = PolledOrder(1, 1, S.SUB_ACTIVE, Decimal("3"), 1000, timezone.now(), 3, upstream_status="Active", posts_done=before)
        return Reading(order, S.COMPLETED, "Completed", None, None, None, posts=posts)

    assert [sub(3, posts).posts_done for posts in (None, 0, 2, 3, 4)] == [3, 3, 3, 3, 4]
    assert [sub(3, posts).posts_served for posts in (None, 0, 2, 4)] == [3, 3, 3, 4]
    assert [sub(0, posts).posts_served for posts in (None, 0, 1)] == [None, 0, 1]
    assert sub(1, None).posts_served == 1


def test_a_subscription_reading_changes_something_when_its_posts_do() -> None:
    order = PolledOrder(1, 1, S.SUB_ACTIVE, Decimal("1"), 100, timezone.now(), 3, upstream_status="Active", posts_done=2)
    assert not Reading(order, S.SUB_ACTIVE, "Active", None, None, None, posts=2).changes_something
    assert not Reading(order, S.SUB_ACTIVE, "Active", None, None, None).changes_something
    assert Reading(order, S.SUB_ACTIVE, "Active", None, None, None, posts=3).changes_something
    assert Reading(order, S.SUB_PAUSED, "Paused", None, None, None, posts=2).changes_something


def test_a_running_subscription_stores_its_posts_and_their_event(subscribed) -> None:
    assert orders_store_running(readings=[sub_reading(subscribed, S.SUB_ACTIVE, 2, raw="Active")], now=timezone.now()) == 1
    subscribed.refresh_from_db()
    assert (subscribed.status, subscribed.upstream_status, subscribed.posts_done, subscribed.remains) == (S.SUB_ACTIVE, "Active", 2, None)
    assert [(e.status, e.detail.get("posts")) for e in status_events(subscribed)] == [(S.SUB_ACTIVE, 2)]
    assert orders_store_running(readings=[sub_reading(subscribed, S.SUB_PAUSED, None)], now=timezone.now()) == 1
    subscribed.refresh_from_db()
    assert (subscribed.status, subscribed.posts_done) == (S.SUB_PAUSED, 2)
    assert refunds_of(subscribed) == []


def test_an_ordinary_orders_event_has_no_posts(customer, service) -> None:
    order = running(customer, service)
    orders_store_running(readings=[Reading(polled(order), S.IN_PROGRESS, "Active", 1, 5, None, posts=4)], now=timezone.now())
    order.refresh_from_db()
    assert order.posts_done is None and "posts" not in status_events(order)[0].detail


@pytest.mark.parametrize(
    ("status", "posts", "refund", "reason"),
    [
        (S.COMPLETED, 5, None, ""),  # every post served: the whole reserve used
        (S.COMPLETED, 4, "0.6000", "subscription completed: the reserve not used (4 posts served)"),
        (S.EXPIRED, 2, "1.8000", "subscription expired: the reserve not used (2 posts served)"),
        (S.CANCELED, 0, "3.0000", "subscription canceled: the reserve not used (0 posts served)"),
        (S.CANCELED, None, "3.0000", "subscription canceled: the reserve not used (no posts reported)"),
        (S.COMPLETED, 0, "3.0000", "subscription completed: the reserve not used (0 posts served)"),
    ],
)
def test_a_finished_subscription_gives_back_its_unused_reserve_once(subscribed, customer, status, posts, refund, reason) -> None:
    before = balance(customer)
    assert orders_finish(readings=[sub_reading(subscribed, status, posts)], now=timezone.now()) == [subscribed.pk]
    assert orders_finish(readings=[sub_reading(subscribed, status, posts)], now=timezone.now()) == []
    subscribed.refresh_from_db()
    assert (subscribed.status, subscribed.posts_done) == (status, posts or 0)
    expected = Decimal(refund or "0")
    assert refunds_of(subscribed) == ([expected] if refund else [])
    assert subscribed.refunded == expected and balance(customer) == before + expected
    if refund:
        entry = LedgerEntry.objects.get(order=subscribed, kind=LedgerEntry.Kind.REFUND)
        assert entry.reason == f"Order #{subscribed.pk}: {reason}"
        assert OrderEvent.objects.get(order=subscribed, kind=Kind.REFUNDED).detail["amount"] == refund
    assert_ledger_holds(customer)


@pytest.mark.parametrize("status", [S.COMPLETED, S.EXPIRED])
def test_a_subscription_ending_without_any_posts_reported_is_not_refunded_and_says_so_to_staff(subscribed, customer, status) -> None:
    before = balance(customer)
    assert orders_finish(readings=[sub_reading(subscribed, status, None)], now=timezone.now()) == [subscribed.pk]
    subscribed.refresh_from_db()
    assert (subscribed.status, subscribed.posts_done, subscribed.refunded) == (status, 0, Decimal("0"))
    assert refunds_of(subscribed) == [] and balance(customer) == before
    assert subscribed.error == NO_POSTS_NOTE
    assert status_events(subscribed)[-1].detail["note"] == NO_POSTS_NOTE
    assert not OrderEvent.objects.filter(order=subscribed, kind=Kind.REFUNDED).exists()
    assert_ledger_holds(customer)


def test_a_subscription_ending_without_a_figure_is_refunded_by_the_posts_reported_earlier(subscribed, customer) -> None:
    orders_store_running(readings=[sub_reading(subscribed, S.SUB_ACTIVE, 4, raw="Active")], now=timezone.now())
    # A later, lower or missing count never lowers what was served.
    orders_store_running(readings=[sub_reading(subscribed, S.SUB_ACTIVE, 1, raw="Active")], now=timezone.now())
    before = balance(customer)
    assert orders_finish(readings=[sub_reading(subscribed, S.EXPIRED, None)], now=timezone.now()) == [subscribed.pk]
    subscribed.refresh_from_db()
    assert (subscribed.posts_done, subscribed.refunded, subscribed.error) == (4, Decimal("0.6000"), "")
    assert balance(customer) == before + Decimal("0.6000")
    entry = LedgerEntry.objects.get(order=subscribed, kind=LedgerEntry.Kind.REFUND)
    assert entry.reason == f"Order #{subscribed.pk}: subscription expired: the reserve not used (4 posts served)"


def test_a_subscription_whose_final_count_is_lower_is_refunded_by_the_highest(subscribed, customer) -> None:
    orders_store_running(readings=[sub_reading(subscribed, S.SUB_ACTIVE, 3, raw="Active")], now=timezone.now())
    assert orders_finish(readings=[sub_reading(subscribed, S.COMPLETED, 2)], now=timezone.now()) == [subscribed.pk]
    subscribed.refresh_from_db()
    assert (subscribed.posts_done, subscribed.refunded) == (3, Decimal("1.2000"))
