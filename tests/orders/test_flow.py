"""The order state machine (``shop.orders.flow``): its transitions, each a compare-and-set; back-offs, poll intervals, refunds once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from panelapi.types import UpstreamStatus
from shop.models import LedgerEntry, Order, OrderStatus, Wallet
from shop.orders import flow
from shop.orders.flow import (
    ALLOWED,
    UNKNOWN_AFTER_SWEEP,
    TransitionError,
    next_check_at,
    order_cancel_unsent,
    order_claim,
    order_hold,
    order_placed,
    order_refused,
    order_release,
    order_resolve_not_placed,
    order_unknown,
    orders_stale_submissions_flag,
    refund_amount,
    retry_delay,
    subscription_refund,
    transition,
    upstream_target,
)
from shop.orders.models import OrderEvent
from shop.orders.placement import order_place
from tests.factories import ProviderFactory, UserFactory
from tests.helpers import assert_ledger_holds, order_row, race, refunds_of, typed_service

S = OrderStatus
LINK = "https://instagram.com/p/abc"
SUBSCRIBED = {S.SUB_ACTIVE, S.SUB_PAUSED, S.COMPLETED, S.CANCELED, S.EXPIRED}
RUNNING = {S.PENDING, S.IN_PROGRESS, S.PROCESSING, S.PARTIAL} | SUBSCRIBED
# The state machine as the module's docstring draws it, written out independently of ``ALLOWED``.
EXPECTED = {
    S.AWAITING: {S.SUBMITTING, S.CANCELED},
    S.SUBMITTING: {S.AWAITING, S.FAILED, S.NEEDS_ATTENTION} | RUNNING,
    S.PENDING: RUNNING,
    S.IN_PROGRESS: RUNNING,
    S.PROCESSING: RUNNING,
    S.SUB_ACTIVE: SUBSCRIBED,
    S.SUB_PAUSED: SUBSCRIBED,
    S.NEEDS_ATTENTION: {S.PENDING, S.FAILED},
    S.COMPLETED: set(),
    S.PARTIAL: set(),
    S.CANCELED: set(),
    S.FAILED: set(),
    S.EXPIRED: set(),
}
PAIRS = [pytest.param(source, target, id=f"{source}->{target}") for source in S.values for target in S.values]

pytestmark = pytest.mark.django_db


@pytest.fixture
def charged(customer) -> Order:
    """An awaiting order placed and charged on the customer's wallet (0.2000 of 100), never sent anywhere."""
    service = typed_service(ProviderFactory(), "Default")
    return order_place(user=customer, service=service, link=LINK, quantity=100)


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


# The table ------------------------------------------------------------------------------------


def test_every_status_has_a_row_of_the_table() -> None:
    assert set(ALLOWED) == set(S.values)


def test_the_table_is_the_documented_state_machine() -> None:
    assert {source: set(targets) for source, targets in ALLOWED.items()} == EXPECTED


def test_nothing_leaves_a_final_status() -> None:
    assert all(not ALLOWED[status] for status in S.FINAL)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_a_transition_is_made_if_the_table_allows_it_and_refused_otherwise(customer, source: str, target: str) -> None:
    order = order_row(customer, status=source)
    if target in EXPECTED[source]:
        assert transition(order.pk, source=[source], target=target) is True
        assert status_of(order) == target
    else:
        with pytest.raises(TransitionError, match=f"{source} -> {target} is not a transition"):
            transition(order.pk, source=[source], target=target)
        assert status_of(order) == source


def test_one_disallowed_source_refuses_the_whole_transition(customer) -> None:
    order = order_row(customer, status=S.AWAITING)
    with pytest.raises(TransitionError, match="pending -> submitting"):
        transition(order.pk, source=[S.AWAITING, S.PENDING], target=S.SUBMITTING)
    assert status_of(order) == S.AWAITING


def test_a_transition_is_a_compare_and_set_the_second_caller_gets_false(customer) -> None:
    order = order_row(customer, status=S.AWAITING)
    assert transition(order.pk, source=[S.AWAITING], target=S.SUBMITTING, error="first") is True
    assert transition(order.pk, source=[S.AWAITING], target=S.SUBMITTING, error="second") is False
    order.refresh_from_db()
    assert (order.status, order.error) == (S.SUBMITTING, "first")


def test_a_transition_of_an_order_in_another_status_changes_nothing(customer) -> None:
    order = order_row(customer, status=S.PENDING)
    assert transition(order.pk, source=[S.AWAITING], target=S.CANCELED, error="canceled") is False
    order.refresh_from_db()
    assert (order.status, order.error) == (S.PENDING, "")


def test_a_transition_stamps_updated_at_and_writes_the_changes_given(customer) -> None:
    order = order_row(customer, status=S.SUBMITTING)
    long_ago = timezone.now() - timedelta(days=3)
    Order.objects.filter(pk=order.pk).update(updated_at=long_ago)
    before = timezone.now()
    assert transition(order.pk, source=[S.SUBMITTING], target=S.PENDING, upstream_order_id="u-1")
    order.refresh_from_db()
    assert order.updated_at >= before and order.upstream_order_id == "u-1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_eight_racing_transitions_exactly_one_is_made() -> None:
    order = order_row(UserFactory(), status=S.AWAITING)
    outcomes = race(8, lambda: transition(order.pk, source=[S.AWAITING], target=S.SUBMITTING))
    assert sorted(outcomes) == [False] * 7 + [True]
    assert status_of(order) == S.SUBMITTING


# Back-off and poll intervals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 15), (1, 15), (2, 30), (3, 60), (4, 120), (5, 240), (6, 480), (7, 600), (8, 600), (100, 600)],
)
def test_retry_delay_doubles_from_15_seconds_up_to_10_minutes(attempts: int, seconds: int) -> None:
    assert retry_delay(attempts=attempts) == timedelta(seconds=seconds)


JUST_UNDER = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("age", "intervals"),
    [
        pytest.param(timedelta(seconds=-30), 1, id="created-in-the-future"),
        pytest.param(timedelta(0), 1, id="new"),
        pytest.param(timedelta(hours=1) - JUST_UNDER, 1, id="just-under-1h"),
        pytest.param(timedelta(hours=1), 5, id="1h"),
        pytest.param(timedelta(hours=6) - JUST_UNDER, 5, id="just-under-6h"),
        pytest.param(timedelta(hours=6), 15, id="6h"),
        pytest.param(timedelta(days=1) - JUST_UNDER, 15, id="just-under-1d"),
        pytest.param(timedelta(days=1), 60, id="1d"),
        pytest.param(timedelta(days=90), 60, id="90d"),
    ],
)
def test_next_check_comes_less_often_as_the_order_ages(settings, age: timedelta, intervals: int) -> None:
    settings.ORDER_POLL_INTERVAL = 7
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    assert next_check_at(created_at=now - age, now=now) == now + timedelta(seconds=7 * intervals)


# Refund amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remains", "expected"),
    [(-2, "0"), (0, "0"), (1, "0.0117"), (500, "5.8500"), (1000, "11.7000"), (5000, "11.7000"), (None, "0")],
)
def test_partial_refund_is_the_undelivered_share_within_the_charge(remains, expected) -> None:
    assert refund_amount(charge=Decimal("11.7000"), total_quantity=1000, remains=remains) == Decimal(expected)


@pytest.mark.parametrize(
    ("charge", "total", "remains", "expected"),
    [
        ("0.0005", 2, 1, "0.0003"),  # 0.00025: half-up, where half-even would give 0.0002
        ("1.0000", 3, 1, "0.3333"),
        ("1.0000", 3, 2, "0.6667"),
        ("0.0001", 3, 1, "0.0000"),
        ("0.0001", 3, 2, "0.0001"),
    ],
)
def test_a_refund_is_rounded_half_up_to_four_places(charge: str, total: int, remains: int, expected: str) -> None:
    refund = refund_amount(charge=Decimal(charge), total_quantity=total, remains=remains)
    assert refund == Decimal(expected) and refund.as_tuple().exponent == -4


def test_a_refund_is_never_more_than_the_charge_even_where_rounding_would_make_it() -> None:
    # A charge finer than the ledger's 4 places would round up past itself: the charge is the ceiling.
    assert refund_amount(charge=Decimal("0.00005"), total_quantity=1, remains=1) == Decimal("0.00005")
    assert refund_amount(charge=Decimal("2.5000"), total_quantity=10, remains=10**9) == Decimal("2.5000")


def test_a_subscription_is_never_partial_and_an_ordinary_order_is_never_active_paused_or_expired() -> None:
    for source in (S.SUB_ACTIVE, S.SUB_PAUSED):
        assert S.PARTIAL not in ALLOWED[source] and S.PENDING not in ALLOWED[source]
    assert {S.SUB_ACTIVE, S.SUB_PAUSED} <= ALLOWED[S.SUB_ACTIVE] & ALLOWED[S.SUB_PAUSED]


U = UpstreamStatus


@pytest.mark.parametrize(
    ("word", "ordinary", "subscription"),
    [
        (U.PENDING, S.PENDING, S.PENDING),
        (U.IN_PROGRESS, S.IN_PROGRESS, S.IN_PROGRESS),
        (U.PROCESSING, S.PROCESSING, S.PROCESSING),
        (U.ACTIVE, S.IN_PROGRESS, S.SUB_ACTIVE),  # a drip-feed parent still running
        (U.PAUSED, None, S.SUB_PAUSED),
        (U.COMPLETED, S.COMPLETED, S.COMPLETED),
        (U.PARTIAL, S.PARTIAL, S.COMPLETED),
        (U.CANCELED, S.CANCELED, S.CANCELED),
        (U.EXPIRED, None, S.EXPIRED),
        (U.UNKNOWN, None, None),
    ],
)
def test_the_providers_word_is_read_by_the_kind_of_order(word, ordinary, subscription) -> None:
    assert upstream_target(word, subscription=False) == ordinary
    assert upstream_target(word, subscription=True) == subscription


@pytest.mark.parametrize(
    ("posts_done", "expected"),
    [
        (-3, "3.0000"),
        (0, "3.0000"),
        (1, "2.4000"),  # 200 per post at 3.00 per 1000: 0.60 a post
        (4, "0.6000"),
        (5, "0"),  # every post served: nothing back
        (6, "0"),  # more than ordered: never below nothing
    ],
)
def test_a_subscription_gives_back_the_reserve_its_served_posts_did_not_use(posts_done, expected) -> None:
    for status in (S.COMPLETED, S.EXPIRED, S.CANCELED):  # a reported figure decides, whatever the end
        refund = subscription_refund(status=status, charge=Decimal("3.0000"), rate=Decimal("3"), per_post=200, posts_done=posts_done)
        assert refund == Decimal(expected)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.CANCELED, "3.0000"),  # panels refund a canceled order in full
        (S.COMPLETED, "0"),  # the panel says it delivered, how much is unknown: nothing back automatically
        (S.EXPIRED, "0"),
    ],
)
def test_a_subscription_whose_posts_were_never_reported_is_refunded_only_when_canceled(status, expected) -> None:
    refund = subscription_refund(status=status, charge=Decimal("3.0000"), rate=Decimal("3"), per_post=200, posts_done=None)
    assert refund == Decimal(expected)
    # Reported as none served is a figure: the whole reserve back, at any end.
    assert subscription_refund(status=status, charge=Decimal("3.0000"), rate=Decimal("3"), per_post=200, posts_done=0) == Decimal("3.0000")


def test_a_subscriptions_used_part_is_rounded_half_up_like_a_charge() -> None:
    # 1 post x 5 x 0.00001 / 1000 = 0.00000005: rounds to nothing used; 3 x 50 x 0.001 / 1000 = 0.00015 rounds up to 0.0002.
    cent = {"status": S.COMPLETED, "charge": Decimal("0.0100")}
    assert subscription_refund(**cent, rate=Decimal("0.00001"), per_post=5, posts_done=1) == Decimal("0.0100")
    assert subscription_refund(**cent, rate=Decimal("0.001"), per_post=50, posts_done=3) == Decimal("0.0098")
    assert subscription_refund(**cent, rate=Decimal("0.001"), per_post=150, posts_done=1) == Decimal("0.0098")


# Submission --------------------------------------------------------------------------------------


def test_a_claim_records_when_submission_began_and_counts_the_attempt(customer) -> None:
    order = order_row(customer)
    before = timezone.now()
    assert order_claim(order_id=order.pk) is True
    after = timezone.now()
    order.refresh_from_db()
    assert order.status == S.SUBMITTING and order.submit_attempts == 1
    assert before <= order.submitting_since <= after

    assert order_claim(order_id=order.pk) is False  # claimed already: no second attempt counted
    order.refresh_from_db()
    assert order.submit_attempts == 1

    assert order_release(order_id=order.pk, error="could not connect")
    assert order_claim(order_id=order.pk) is True
    order.refresh_from_db()
    assert order.submit_attempts == 2


def test_a_released_order_waits_the_back_off_of_its_attempts(customer) -> None:
    order = order_row(customer, status=S.SUBMITTING, submit_attempts=3, submitting_since=timezone.now())
    before = timezone.now()
    assert order_release(order_id=order.pk, error="could not connect") is True
    after = timezone.now()
    order.refresh_from_db()
    assert (order.status, order.submitting_since, order.error) == (S.AWAITING, None, "could not connect")
    assert before + timedelta(seconds=60) <= order.next_attempt_at <= after + timedelta(seconds=60)
    assert order_release(order_id=order.pk, error="again") is False  # not submitting any more


def test_a_hold_counts_an_attempt_of_an_awaiting_order_only(customer) -> None:
    awaiting = order_row(customer, submit_attempts=1)
    submitting = order_row(customer, status=S.SUBMITTING)
    assert order_hold(order_id=awaiting.pk, error="low") is True
    assert order_hold(order_id=submitting.pk, error="low") is False
    awaiting.refresh_from_db()
    assert (awaiting.status, awaiting.submit_attempts, awaiting.error) == (S.AWAITING, 2, "low")
    assert awaiting.next_attempt_at > timezone.now() + timedelta(seconds=25)  # 30 s after the second attempt


def test_an_unknown_outcome_clears_submitting_since_and_refunds_nothing(charged) -> None:
    assert order_claim(order_id=charged.pk)
    assert order_unknown(order_id=charged.pk, message="add: did not answer in time") is True
    assert order_unknown(order_id=charged.pk, message="again") is False
    charged.refresh_from_db()
    assert (charged.status, charged.submitting_since, charged.error) == (S.NEEDS_ATTENTION, None, "add: did not answer in time")
    assert refunds_of(charged) == []


def test_a_placed_order_clears_submitting_since_and_is_due_one_poll_interval_later(customer, settings) -> None:
    settings.ORDER_POLL_INTERVAL = 45
    order = order_row(customer, error="an earlier failure")
    assert order_claim(order_id=order.pk)
    before = timezone.now()
    assert order_placed(order_id=order.pk, upstream_order_id="10001") is True
    after = timezone.now()
    order.refresh_from_db()
    assert (order.status, order.upstream_order_id, order.submitting_since, order.error) == (S.PENDING, "10001", None, "")
    assert before + timedelta(seconds=45) <= order.next_check_at <= after + timedelta(seconds=45)


def test_a_late_answer_places_an_order_the_sweep_flagged_but_not_an_awaiting_one(customer) -> None:
    flagged = order_row(customer, status=S.NEEDS_ATTENTION, error=UNKNOWN_AFTER_SWEEP)
    awaiting = order_row(customer)
    assert order_placed(order_id=flagged.pk, upstream_order_id="10001") is True
    assert order_placed(order_id=awaiting.pk, upstream_order_id="10002") is False
    flagged.refresh_from_db()
    awaiting.refresh_from_db()
    assert (flagged.status, flagged.upstream_order_id, flagged.error) == (S.PENDING, "10001", "")
    assert (awaiting.status, awaiting.upstream_order_id) == (S.AWAITING, None)


def test_the_stale_flag_leaves_a_submission_in_flight_alone_and_flags_an_older_one(customer) -> None:
    in_flight, stale = order_row(customer), order_row(customer)
    now = timezone.now()
    for order, age in [(in_flight, 590), (stale, 610)]:
        assert order_claim(order_id=order.pk)
        Order.objects.filter(pk=order.pk).update(submitting_since=now - timedelta(seconds=age))

    assert orders_stale_submissions_flag(older_than=timedelta(seconds=600)) == 1
    assert orders_stale_submissions_flag(older_than=timedelta(seconds=600)) == 0  # flagged once

    stale.refresh_from_db()
    in_flight.refresh_from_db()
    assert (stale.status, stale.error, stale.submitting_since) == (S.NEEDS_ATTENTION, UNKNOWN_AFTER_SWEEP, None)
    assert in_flight.status == S.SUBMITTING and in_flight.submitting_since is not None


def test_the_stale_flag_looks_at_submitting_orders_only(customer) -> None:
    long_ago = timezone.now() - timedelta(days=1)
    others = [order_row(customer, status=status, submitting_since=long_ago) for status in (S.AWAITING, S.PENDING, S.FAILED)]
    assert orders_stale_submissions_flag(older_than=timedelta(seconds=600)) == 0
    assert [status_of(order) for order in others] == [S.AWAITING, S.PENDING, S.FAILED]


def order_rows(user, count: int, **fields) -> list[int]:
    """``count`` orders as ``order_row`` writes one, the others in one bulk insert; their ids, lowest first."""
    first = order_row(user, **fields)
    values = {f.attname: getattr(first, f.attname) for f in Order._meta.concrete_fields if not f.primary_key}
    Order.objects.bulk_create([Order(**values) for _ in range(count - 1)])
    return list(Order.objects.filter(pk__gte=first.pk).order_by("pk").values_list("pk", flat=True))


def test_orders_in_another_status_do_not_crowd_a_stuck_submission_out_of_the_flags_batch(customer) -> None:
    long_ago = timezone.now() - timedelta(days=1)
    order_rows(customer, 1000, status=S.PENDING, submitting_since=long_ago)  # lower ids, a stale time left on them
    stuck = order_row(customer, status=S.SUBMITTING, submitting_since=long_ago)

    assert orders_stale_submissions_flag(older_than=timedelta(seconds=600)) == 1
    assert status_of(stuck) == S.NEEDS_ATTENTION


def test_the_stale_flag_takes_at_most_1000_submissions_per_sweep_lowest_ids_first(customer, monkeypatch) -> None:
    stuck = order_rows(customer, 1001, status=S.SUBMITTING, submitting_since=timezone.now() - timedelta(days=1))
    flagged: list[tuple[int, str]] = []

    def unknown(*, order_id: int, message: str) -> bool:  # records the batch; 1000 real ones would take seconds
        flagged.append((order_id, message))
        return True

    monkeypatch.setattr(flow, "order_unknown", unknown)
    assert orders_stale_submissions_flag(older_than=timedelta(seconds=600)) == 1000
    assert flagged == [(order_id, UNKNOWN_AFTER_SWEEP) for order_id in stuck[:1000]]  # the last one is the next sweep's


# Refunds happen once ---------------------------------------------------------------------------


def test_a_refused_order_is_refunded_in_full_once(charged, customer) -> None:
    assert order_claim(order_id=charged.pk)
    assert order_refused(order_id=charged.pk, message="Refused by the provider: Bad link") is True
    assert order_refused(order_id=charged.pk, message="Refused by the provider: Bad link") is False

    charged.refresh_from_db()
    assert (charged.status, charged.refunded, charged.submitting_since) == (S.FAILED, charged.charge, None)
    assert charged.finished_at is not None
    assert refunds_of(charged) == [Decimal("0.2000")]
    assert Wallet.objects.get(user=customer).balance == Decimal("100")
    assert_ledger_holds(customer)


def test_a_second_refund_of_the_same_order_is_refused_by_the_ledger(charged, customer) -> None:
    assert order_cancel_unsent(order_id=charged.pk) is True
    with pytest.raises(IntegrityError), transaction.atomic():
        flow._refund(charged.pk, reason="once more")
    assert refunds_of(charged) == [charged.charge]
    assert Wallet.objects.get(user=customer).balance == Decimal("100")
    assert_ledger_holds(customer)


def test_a_refund_reads_the_customer_with_the_order_not_in_a_query_of_its_own(charged, customer) -> None:
    users = connection.ops.quote_name(get_user_model()._meta.db_table)
    with CaptureQueriesContext(connection) as queries:
        flow._refund(charged.pk, reason="canceled before it was sent")
    assert refunds_of(charged) == [charged.charge]
    assert [query["sql"] for query in queries.captured_queries if f"FROM {users}" in query["sql"]] == []


def test_an_unsent_order_is_canceled_and_refunded_once_and_never_after_it_was_claimed(charged, customer) -> None:
    claimed = order_place(user=customer, service=charged.service_id, link=LINK, quantity=100)
    assert order_claim(order_id=claimed.pk)

    assert order_cancel_unsent(order_id=charged.pk) is True
    assert order_cancel_unsent(order_id=charged.pk) is False
    assert order_cancel_unsent(order_id=claimed.pk) is False  # on its way to the provider: not canceled here

    assert refunds_of(charged) == [charged.charge] and refunds_of(claimed) == []
    assert (status_of(charged), status_of(claimed)) == (S.CANCELED, S.SUBMITTING)
    assert Order.objects.get(pk=charged.pk).next_attempt_at is None
    assert LedgerEntry.objects.filter(wallet__user=customer, kind=LedgerEntry.Kind.REFUND).count() == 1
    assert_ledger_holds(customer)


def test_a_refund_marks_its_own_order_refunded_and_no_other(charged, customer) -> None:
    other = order_place(user=customer, service=charged.service_id, link=LINK, quantity=100)
    assert order_cancel_unsent(order_id=charged.pk) is True
    assert Order.objects.get(pk=charged.pk).refunded == charged.charge
    assert Order.objects.get(pk=other.pk).refunded == Decimal("0")


def test_a_refund_never_overwrites_a_refunded_figure_already_recorded(customer) -> None:
    order = order_row(customer, charge="1.0000", refunded=Decimal("0.4000"))
    assert order_cancel_unsent(order_id=order.pk) is True
    assert Order.objects.get(pk=order.pk).refunded == Decimal("0.4000")


def refund_by_system_refusal(order: Order, admin) -> tuple[str, object, str, str]:
    assert order_claim(order_id=order.pk)
    assert order_refused(order_id=order.pk, message="Refused by the provider: Bad link")
    return "refused by the provider", None, OrderEvent.Actor.SYSTEM, S.FAILED


def refund_by_customer_cancel(order: Order, admin) -> tuple[str, object, str, str]:
    assert order_cancel_unsent(order_id=order.pk)
    return "canceled before it was sent", None, OrderEvent.Actor.SYSTEM, S.CANCELED


def refund_by_admin_not_placed(order: Order, admin) -> tuple[str, object, str, str]:
    assert order_claim(order_id=order.pk)
    assert order_unknown(order_id=order.pk, message="add: did not answer in time")
    order_resolve_not_placed(order=order, admin=admin)
    return f"not placed upstream (checked by {admin})", admin, OrderEvent.Actor.ADMIN, S.FAILED


@pytest.mark.parametrize("refund", [refund_by_system_refusal, refund_by_customer_cancel, refund_by_admin_not_placed])
def test_a_refund_says_why_on_its_entry_and_its_event_names_who_decided_it_and_the_amount(charged, admin_user, refund) -> None:
    reason, created_by, actor, status = refund(charged, admin_user)

    entry = LedgerEntry.objects.get(order=charged, kind=LedgerEntry.Kind.REFUND)
    assert (entry.amount, entry.reason, entry.created_by) == (Decimal("0.2000"), f"Order #{charged.pk}: {reason}", created_by)
    event = OrderEvent.objects.get(order_id=charged.pk, kind=OrderEvent.Kind.REFUNDED)
    assert (event.actor, event.actor_user_id, event.status, event.detail) == (
        actor,
        created_by.pk if created_by else None,
        status,
        {"amount": "0.2000"},
    )
