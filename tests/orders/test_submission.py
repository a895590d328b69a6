"""Submitting orders upstream exactly once, what each client outcome does to state and money, and which refusals hold an order."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from panelapi.sandbox import Fault
from shop.catalogue.providers import provider_balance_refresh, provider_client
from shop.models import LedgerEntry, Order, OrderStatus, Provider, Wallet
from shop.orders import submission
from shop.orders.flow import TransitionError, order_resolve_not_placed, order_resolve_placed, orders_stale_submissions_flag
from shop.orders.models import OrderEvent
from shop.orders.placement import order_place
from shop.orders.submission import (
    FUNDS_REFUSAL,
    PROVIDER_LOW,
    SubmitOutcome,
    order_retry_countdown,
    order_submit,
    order_upstream_params,
    orders_sweep,
)
from shop.wallet.selectors import ledger_differences
from tests.factories import ProviderFactory, UserFactory
from tests.helpers import order_row, race, typed_service

LINK = "https://instagram.com/p/abc"

# The provider itself lacks funds: nothing was placed, the order waits for the balance.
PROVIDER_FUNDS = [
    "Not enough funds on balance",
    "Not enough funds",
    "not enough funds!",
    "Not enough balance",
    "NOT_ENOUGH_FUNDS",
    "neworder.error.not_enough_funds",
    "Insufficient funds",
    "insufficient balance",
    "Insufficient funds on your account",
    "Your balance is too low",
    "Balance is low",
    "You do not have enough funds",
    "You don't have enough funds to place this order",
]
# Anything else is about the order itself: it fails, and the customer gets the whole charge back.
OTHER_REFUSALS = [
    "Incorrect service ID",
    "Incorrect request",
    "Incorrect order ID",
    "Invalid API key",
    "Quantity less than minimal 50",
    "Quantity more than maximum 10000",
    "Bad link",
    "You have active order with this link. Please wait until order being completed.",
    "neworder.error.link_duplicate",
    "neworder.error.quantity_min",
    "Link is private, balance refunded",
    "Invalid balance type",
    "Your balance request is pending",
    "Service is disabled",
    "Insufficient quantity",
    "Unspecified error",
]


@pytest.mark.parametrize("message", PROVIDER_FUNDS)
def test_the_providers_lack_of_funds_is_a_funds_refusal(message: str) -> None:
    assert FUNDS_REFUSAL.search(message)


@pytest.mark.parametrize("message", OTHER_REFUSALS)
def test_any_other_refusal_is_not_a_funds_refusal(message: str) -> None:
    assert not FUNDS_REFUSAL.search(message)


# Through order_submit against the sandbox panel --------------------------------------------


@pytest.fixture
def order(catalogue, customer) -> Order:
    return order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)


def refunds(order: Order) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND).values_list("amount", flat=True))


def refuse_the_add(sandbox, message: str) -> None:
    """The panel answers the next ``add`` with ``{"error": message}`` and places nothing."""
    sandbox.panel.add_fault(Fault(kind="reply", action="add", body={"error": message}, process=False))


@pytest.mark.django_db
@pytest.mark.parametrize("message", ["neworder.error.not_enough_funds", "You do not have enough funds"])
def test_a_funds_refusal_holds_the_order_without_refund(order, sandbox, message: str) -> None:
    refuse_the_add(sandbox, message)
    assert order_submit(order_id=order.pk) is SubmitOutcome.HELD
    order.refresh_from_db()
    assert (order.status, order.error) == (OrderStatus.AWAITING, PROVIDER_LOW)
    assert refunds(order) == []
    assert Wallet.objects.get(user=order.user).balance == Decimal("100") - order.charge
    assert sandbox.panel.order_count == 0


@pytest.mark.django_db
@pytest.mark.parametrize("message", ["Link is private, balance refunded", "Invalid balance type", "neworder.error.link_duplicate"])
def test_any_other_refusal_fails_the_order_with_a_full_refund(order, sandbox, message: str) -> None:
    refuse_the_add(sandbox, message)
    assert order_submit(order_id=order.pk) is SubmitOutcome.FAILED
    order.refresh_from_db()
    assert (order.status, order.error) == (OrderStatus.FAILED, f"Refused by the provider: {message}")
    assert refunds(order) == [order.charge]
    assert Wallet.objects.get(user=order.user).balance == Decimal("100")
    assert ledger_differences() == []


pytestmark = pytest.mark.django_db


def test_submission_places_the_order_once(order, sandbox) -> None:
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert order.upstream_order_id and order.next_check_at is not None
    assert sandbox.panel.calls["add"] == 1


def test_a_duplicated_or_redelivered_task_does_nothing(order, sandbox) -> None:
    outcomes = [order_submit(order_id=order.pk) for _ in range(3)]
    assert outcomes == [SubmitOutcome.PLACED, SubmitOutcome.SKIPPED, SubmitOutcome.SKIPPED]
    assert sandbox.panel.calls["add"] == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("concurrency", [8, 2])
def test_racing_workers_submit_once(provider, sandbox, concurrency: int) -> None:
    """With slots for all eight the claim decides; with two, the others find the provider busy. Either way one add."""
    from shop.catalogue.retail import services_import
    from shop.catalogue.sync import catalogue_sync
    from shop.wallet.services import wallet_credit

    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10"), kind=LedgerEntry.Kind.DEPOSIT)
    order = order_place(user=user, service=provider.services.get(upstream_id="1").retail_services.get(), link=LINK, quantity=100)
    Provider.objects.filter(pk=provider.pk).update(concurrency=concurrency)
    outcomes = race(8, lambda: order_submit(order_id=order.pk))
    assert outcomes.count(SubmitOutcome.PLACED) == 1
    others = {SubmitOutcome.SKIPPED} if concurrency == 8 else {SubmitOutcome.SKIPPED, SubmitOutcome.BUSY}
    assert set(outcomes) - {SubmitOutcome.PLACED} <= others
    assert sandbox.panel.calls["add"] == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_refused_order_fails_and_is_refunded_in_full(order, sandbox) -> None:
    sandbox.panel.replace_service(1, min=5000)  # the panel now refuses 1000
    assert order_submit(order_id=order.pk) is SubmitOutcome.FAILED
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert order.error == "Refused by the provider: Quantity less than minimal 5000"
    assert refunds(order) == [order.charge]
    assert Wallet.objects.get(user=order.user).balance == Decimal("100")
    assert ledger_differences() == []


def test_never_reached_goes_back_to_awaiting_for_a_retry(order) -> None:
    Provider.objects.filter(pk=order.provider_id).update(api_url="http://127.0.0.1:9/api/v2")
    assert order_submit(order_id=order.pk) is SubmitOutcome.RETRY
    order.refresh_from_db()
    assert (order.status, order.submit_attempts) == (OrderStatus.AWAITING, 1)
    assert "could not connect" in order.error
    assert refunds(order) == []


@pytest.mark.parametrize("kind", ["slow", "drop", "html", "malformed", "error500"])
def test_unknown_outcome_needs_attention_without_refund_or_resubmission(order, sandbox, settings, kind: str) -> None:
    settings.PANEL_READ_TIMEOUT = 0.5
    sandbox.panel.add_fault(Fault(kind=kind, action="add", delay=1.5))
    assert order_submit(order_id=order.pk) is SubmitOutcome.NEEDS_ATTENTION
    assert order_submit(order_id=order.pk) is SubmitOutcome.SKIPPED
    order.refresh_from_db()
    assert order.status == OrderStatus.NEEDS_ATTENTION
    assert refunds(order) == []
    assert sandbox.panel.calls["add"] == 1


def test_admin_records_the_upstream_id_of_an_order_that_needs_attention(order, sandbox, admin_user) -> None:
    sandbox.panel.add_fault(Fault(kind="drop", action="add", process=True))
    order_submit(order_id=order.pk)
    upstream_id = str(sandbox.panel.order_count + 10000)  # the sandbox numbers orders from 10001

    order_resolve_placed(order=order, upstream_order_id=upstream_id, admin=admin_user)

    order.refresh_from_db()
    assert (order.status, order.upstream_order_id) == (OrderStatus.PENDING, upstream_id)
    with pytest.raises(TransitionError):
        order_resolve_not_placed(order=order, admin=admin_user)
    assert refunds(order) == []


def test_admin_declares_not_placed_and_the_customer_is_refunded_once(order, sandbox, admin_user) -> None:
    sandbox.panel.add_fault(Fault(kind="html", action="add"))
    order_submit(order_id=order.pk)

    order_resolve_not_placed(order=order, admin=admin_user)
    with pytest.raises(TransitionError):
        order_resolve_not_placed(order=order, admin=admin_user)

    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert refunds(order) == [order.charge]
    assert ledger_differences() == []


def test_low_provider_balance_holds_orders_until_it_is_back(order, sandbox) -> None:
    provider = order.provider
    provider.balance_threshold = Decimal("5000")
    provider.save()
    provider_balance_refresh(provider=provider)  # the sandbox holds 1000

    assert order_submit(order_id=order.pk) is SubmitOutcome.HELD
    assert sandbox.panel.calls["add"] == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING

    Provider.objects.filter(pk=provider.pk).update(balance_threshold=Decimal("500"))
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED


def test_provider_refusing_for_its_own_funds_holds_the_order(order, sandbox) -> None:
    sandbox.panel.replace_service(1, rate=sandbox.panel.balance * 10)  # the order now costs more than the panel holds
    assert order_submit(order_id=order.pk) is SubmitOutcome.HELD
    order.refresh_from_db()
    assert (order.status, order.error) == (OrderStatus.AWAITING, "Waiting for the provider's balance.")
    assert refunds(order) == []


def test_sweeper_flags_stale_submissions_and_requeues_awaiting_orders(catalogue, customer, settings) -> None:
    stuck = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=100)
    waiting = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=100)
    fresh = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=100)
    long_ago = timezone.now() - timedelta(hours=1)
    Order.objects.filter(pk=stuck.pk).update(status=OrderStatus.SUBMITTING, submitting_since=long_ago)
    Order.objects.filter(pk=waiting.pk).update(next_attempt_at=long_ago)

    result = orders_sweep()

    assert result.flagged == 1
    assert result.requeued == [waiting.pk]
    assert Order.objects.get(pk=stuck.pk).status == OrderStatus.NEEDS_ATTENTION
    assert Order.objects.get(pk=fresh.pk).status == OrderStatus.AWAITING
    assert refunds(stuck) == []


def _backdate(order: Order, *, by: timedelta) -> None:
    """As if placed ``by`` ago (updated_at too: before next_attempt_at, nothing moved it, so the sweeper read the creation time)."""
    then = timezone.now() - by
    Order.objects.filter(pk=order.pk).update(created_at=then, updated_at=then, next_attempt_at=then)


def test_the_sweeper_leaves_an_order_released_for_a_retry_until_its_next_attempt(order, sandbox, settings) -> None:
    _backdate(order, by=timedelta(hours=1))
    sandbox.stop()  # the panel cannot be reached: the order goes back to awaiting, to be retried after a back-off
    assert order_submit(order_id=order.pk) is SubmitOutcome.RETRY
    order.refresh_from_db()
    assert order.next_attempt_at > timezone.now()

    assert orders_sweep().requeued == []  # the task's own retry comes first; the sweep does not double it
    later = order.next_attempt_at + timedelta(seconds=settings.ORDER_REQUEUE_AFTER + 1)
    assert orders_sweep(now=later).requeued == [order.pk]


def test_a_held_order_is_retried_with_a_growing_back_off_not_at_every_sweep(order, provider, sandbox, settings) -> None:
    _backdate(order, by=timedelta(hours=1))
    Provider.objects.filter(pk=provider.pk).update(balance=Decimal("1"), balance_threshold=Decimal("50"))
    waits = []
    for _ in range(4):
        now = timezone.now()
        assert order_submit(order_id=order.pk) is SubmitOutcome.HELD
        order.refresh_from_db()
        waits.append(round((order.next_attempt_at - now).total_seconds()))
        assert orders_sweep(now=now).requeued == []  # not due: the sweep leaves it alone
    assert waits == [15, 30, 60, 120]  # 15 s doubling per attempt, up to 10 min
    assert sandbox.panel.calls["add"] == 0
    assert (order.status, order.error) == (OrderStatus.AWAITING, PROVIDER_LOW)


def order_rows(user, count: int, **fields) -> list[int]:
    """``count`` orders as ``order_row`` writes one, the others in one bulk insert; their ids, lowest first."""
    first = order_row(user, **fields)
    values = {f.attname: getattr(first, f.attname) for f in Order._meta.concrete_fields if not f.primary_key}
    Order.objects.bulk_create([Order(**values) for _ in range(count - 1)])
    return list(Order.objects.filter(pk__gte=first.pk).order_by("pk").values_list("pk", flat=True))


def test_an_awaiting_order_never_given_a_next_attempt_is_requeued_only_once_its_grace_has_passed(customer, settings) -> None:
    settings.ORDER_REQUEUE_AFTER = 60
    old, fresh = order_row(customer, next_attempt_at=None), order_row(customer, next_attempt_at=None)
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(seconds=61))

    assert orders_sweep().requeued == [old.pk]  # the fresh one's own on-commit enqueue comes first
    assert orders_sweep(now=timezone.now() + timedelta(seconds=61)).requeued == [old.pk, fresh.pk]


def test_the_sweep_requeues_awaiting_orders_only(customer) -> None:
    long_ago = timezone.now() - timedelta(days=1)  # a placed order keeps the next attempt its placement set
    for status in set(OrderStatus.values) - {OrderStatus.AWAITING}:
        order_row(customer, status=status, next_attempt_at=long_ago)
    awaiting = order_row(customer, next_attempt_at=long_ago)

    assert orders_sweep().requeued == [awaiting.pk]


def test_the_sweep_requeues_at_most_1000_orders_lowest_ids_first(customer) -> None:
    due = order_rows(customer, 1001, next_attempt_at=timezone.now() - timedelta(hours=1))
    assert orders_sweep().requeued == due[:1000]


# How long a retrying submit task waits (order_retry_countdown) ---------------------------


def test_a_retrying_task_waits_until_the_orders_next_attempt(customer) -> None:
    order = order_row(customer, next_attempt_at=timezone.now() + timedelta(seconds=100))
    assert 99 <= order_retry_countdown(order_id=order.pk) <= 100


@pytest.mark.parametrize("due_in", [timedelta(hours=-1), timedelta(0), timedelta(milliseconds=500)], ids=["past", "now", "half-a-second"])
def test_a_retrying_task_waits_at_least_one_second(customer, due_in: timedelta) -> None:
    order = order_row(customer, next_attempt_at=timezone.now() + due_in)
    assert order_retry_countdown(order_id=order.pk) == 1.0


def test_a_retrying_task_of_an_order_without_a_next_attempt_waits_the_first_back_off_of_15_seconds(customer) -> None:
    order = order_row(customer, next_attempt_at=None)
    countdown = order_retry_countdown(order_id=order.pk)
    assert countdown == 15.0 and isinstance(countdown, float)


def test_a_retrying_task_of_an_order_that_is_gone_waits_the_first_back_off_of_15_seconds(customer) -> None:
    order = order_row(customer)
    Order.objects.filter(pk=order.pk).delete()
    assert order_retry_countdown(order_id=order.pk) == 15.0


def test_a_drip_feed_order_sends_its_runs_and_interval_upstream(customer) -> None:
    order = order_row(customer, runs=3, interval=15)
    params = order_upstream_params(order=Order.objects.select_related("provider_service").get(pk=order.pk))
    assert (params["runs"], params["interval"]) == (3, 15)
    assert "runs" not in order_upstream_params(order=order_row(customer))


# What each outcome of the add does to the order and its history ----------------------------


def events(order: Order) -> list[tuple[str, str, dict]]:
    return list(OrderEvent.objects.filter(order=order).order_by("id").values_list("kind", "status", "detail"))


@pytest.mark.parametrize(
    ("type_", "extra", "sent"),
    [
        pytest.param("Default", {}, {"quantity": 100}, id="default: its quantity"),
        pytest.param("Package", {}, {}, id="package: none, one fixed bundle"),
        pytest.param("Custom Comments", {"comments": "nice\nwow"}, {"comments": "nice\nwow"}, id="counted list: none, the panel counts"),
    ],
)
def test_only_a_type_that_takes_a_quantity_sends_one_upstream(customer, type_: str, extra: dict, sent: dict) -> None:
    order = order_row(customer, service=typed_service(ProviderFactory(), type_), extra=extra)
    assert order_upstream_params(order=order) == {"link": "https://instagram.com/p/row", **sent}


def test_a_task_for_an_order_that_is_gone_does_nothing(customer) -> None:
    order = order_row(customer)
    Order.objects.filter(pk=order.pk).delete()
    assert order_submit(order_id=order.pk) is SubmitOutcome.SKIPPED


def test_submitting_reads_the_order_with_its_provider_and_provider_service_in_one_query(order, sandbox, django_assert_num_queries) -> None:
    # 1 the order with both; 4 the claim and its event in a savepoint; 1 the add's audit record; 7 the placement and its
    # event in the caller's savepoint and its own (reading the creation time for the first check). Neither is read again.
    with django_assert_num_queries(13):
        assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED


def test_a_funds_refusal_records_a_held_event_not_a_retry(order, sandbox) -> None:
    refuse_the_add(sandbox, "Not enough funds on balance")
    assert order_submit(order_id=order.pk) is SubmitOutcome.HELD
    assert events(order)[1:] == [
        (OrderEvent.Kind.CLAIMED, OrderStatus.SUBMITTING, {}),
        (OrderEvent.Kind.HELD, OrderStatus.AWAITING, {"message": PROVIDER_LOW}),
    ]


def test_an_order_that_could_not_be_sent_because_the_provider_is_misconfigured_is_held_with_the_providers_message(order, sandbox) -> None:
    Provider.objects.filter(pk=order.provider_id).update(api_url="ftp://panel.example/api/v2")
    message = "add: the API URL must be an http(s) URL"

    assert order_submit(order_id=order.pk) is SubmitOutcome.HELD

    order.refresh_from_db()
    assert (order.status, order.error, order.submitting_since) == (OrderStatus.AWAITING, message, None)
    assert order.next_attempt_at > timezone.now()
    assert events(order)[1:] == [
        (OrderEvent.Kind.CLAIMED, OrderStatus.SUBMITTING, {}),
        (OrderEvent.Kind.HELD, OrderStatus.AWAITING, {"message": message}),
    ]
    assert refunds(order) == []
    assert sandbox.panel.calls["add"] == 0


def test_an_id_clash_names_the_order_of_the_same_provider_that_already_has_the_id(order, catalogue, customer, sandbox) -> None:
    def elsewhere(**fields) -> Order:
        """An order of another provider."""
        return order_row(customer, service=typed_service(ProviderFactory(), "Default"), status=OrderStatus.PENDING, **fields)

    # Orders that must not be named, on both sides of the one that has the id, whichever way a lookup sorts them:
    # this provider's without the id (the order itself, one placed later), and other providers' with the same id.
    before = elsewhere()
    earlier = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert order_submit(order_id=earlier.pk) is SubmitOutcome.PLACED
    earlier.refresh_from_db()
    Order.objects.filter(pk=before.pk).update(upstream_order_id=earlier.upstream_order_id)
    after, later = elsewhere(upstream_order_id=earlier.upstream_order_id), order_row(customer, service=catalogue["1"])
    assert order.pk < before.pk < earlier.pk < after.pk < later.pk
    sandbox.panel.add_fault(Fault(kind="reply", action="add", body={"order": earlier.upstream_order_id}))

    assert order_submit(order_id=order.pk) is SubmitOutcome.NEEDS_ATTENTION

    message = (
        f"The provider answered with order id {earlier.upstream_order_id}, which order #{earlier.pk} already has; check it at the provider."
    )
    order.refresh_from_db()
    assert (order.status, order.upstream_order_id, order.error) == (OrderStatus.NEEDS_ATTENTION, None, message)
    assert events(order)[-1] == (OrderEvent.Kind.UNKNOWN, OrderStatus.NEEDS_ATTENTION, {"reason": message})
    assert refunds(order) == []


def test_an_add_that_succeeds_after_an_admin_declared_the_order_not_placed_is_left_as_decided_and_logged_for_staff(
    order, sandbox, admin_user, monkeypatch, caplog
) -> None:
    placed_as: list[str] = []

    def slow_client(*, provider: Provider):
        """A client whose add is answered only after the sweep flagged the order and an admin declared it never placed."""
        client = provider_client(provider=provider)
        add = client.add

        def add_meanwhile(**params):
            result = add(**params)
            assert orders_stale_submissions_flag(older_than=timedelta(0)) == 1
            order_resolve_not_placed(order=order, admin=admin_user)
            placed_as.append(result.order_id)
            return result

        client.add = add_meanwhile
        return client

    monkeypatch.setattr(submission, "provider_client", slow_client)
    with caplog.at_level(logging.ERROR, logger=submission.__name__):
        assert order_submit(order_id=order.pk) is SubmitOutcome.NEEDS_ATTENTION

    order.refresh_from_db()
    assert (order.status, order.upstream_order_id) == (OrderStatus.FAILED, None)  # as the admin decided, refunded
    assert refunds(order) == [order.charge]
    (record,) = [record for record in caplog.records if record.name == submission.__name__]
    assert (record.levelno, record.msg, record.args) == (
        logging.ERROR,
        "order %s was placed upstream as %s but was no longer submitting",
        (order.pk, placed_as[0]),
    )
    assert record.getMessage() == f"order {order.pk} was placed upstream as {placed_as[0]} but was no longer submitting"


def test_an_order_whose_provider_is_busy_is_left_awaiting_unclaimed_and_nothing_is_sent(order, sandbox) -> None:
    from shop.catalogue.providers import provider_slot

    provider = order.provider
    provider.concurrency = 1
    provider.save(update_fields=["concurrency"])
    events = OrderEvent.objects.filter(order=order).count()
    with provider_slot(provider=provider):  # another submission to it is under way
        assert order_submit(order_id=order.pk) is SubmitOutcome.BUSY
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING and order.submit_attempts == 0
    assert OrderEvent.objects.filter(order=order).count() == events
    assert sandbox.panel.calls["add"] == 0
    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED  # its turn, once the slot is free
    assert sandbox.panel.calls["add"] == 1


def test_only_one_task_of_an_order_waits_its_turn(order) -> None:
    from shop.orders.submission import order_wait_turn

    now = timezone.now()
    assert order_wait_turn(order_id=order.pk, seconds=4, now=now) is True
    assert Order.objects.get(pk=order.pk).next_attempt_at == now + timedelta(seconds=4)
    assert order_wait_turn(order_id=order.pk, seconds=4, now=now + timedelta(seconds=1)) is False  # a duplicate stops
    assert order_wait_turn(order_id=order.pk, seconds=4, now=now + timedelta(seconds=2)) is True  # the waiting one's turn
    assert Order.objects.get(pk=order.pk).next_attempt_at == now + timedelta(seconds=6)


def test_an_order_no_longer_awaiting_does_not_wait_its_turn(order) -> None:
    from shop.orders.submission import order_wait_turn

    assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    assert order_wait_turn(order_id=order.pk, seconds=4) is False


def test_an_order_waiting_its_turn_is_not_queued_again_by_the_sweep(order, settings) -> None:
    from shop.orders.submission import order_wait_turn

    settings.ORDER_REQUEUE_AFTER = 60
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=1), next_attempt_at=None)
    assert order.pk in orders_sweep().requeued
    order_wait_turn(order_id=order.pk, seconds=3)
    assert order.pk not in orders_sweep().requeued
