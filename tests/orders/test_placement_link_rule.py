"""The link rule (``ShopSettings.one_order_per_link``): one unfinished order per link and service, as panels refuse a second."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.models import LedgerEntry, Order, OrderStatus, ShopSettings
from shop.orders import mass
from shop.orders.mass import NothingToPlace, PreviewChanged, mass_place, mass_preview
from shop.orders.placement import LINK_BUSY, OrderRejected, order_place, order_prepare
from shop.orders.selectors import order_live_with_link
from shop.wallet.selectors import balance_of
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory
from tests.helpers import assert_ledger_holds, order_row, race, typed_service

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/busy"
MESSAGE = "You have an active order with this link. Please wait until order being completed."


@pytest.fixture
def rule_on(db) -> None:
    ShopSettings.objects.update_or_create(pk=1, defaults={"one_order_per_link": True})


def place(customer, service, link: str = LINK) -> Order:
    return order_place(user=customer, service=service, link=link, quantity=1000)


def test_the_message_is_the_panels_own() -> None:
    assert LINK_BUSY == MESSAGE


def test_off_by_default_a_link_may_have_several_orders(catalogue, customer) -> None:
    assert ShopSettings.load().one_order_per_link is False
    first, second = place(customer, catalogue["1"]), place(customer, catalogue["1"])
    assert first.pk != second.pk and first.status == second.status == OrderStatus.AWAITING


@pytest.mark.parametrize("status", OrderStatus.LIVE)
def test_an_unfinished_order_of_the_service_refuses_another_for_its_link(rule_on, catalogue, customer, status) -> None:
    order_row(customer, service=catalogue["1"], status=status, link=LINK)
    with pytest.raises(OrderRejected) as refused:
        place(customer, catalogue["1"])
    assert refused.value.errors == {"link": MESSAGE}
    assert Order.objects.count() == 1
    assert balance_of(user=customer) == Decimal("100")  # nothing charged


@pytest.mark.parametrize("status", sorted(set(OrderStatus.values) - set(OrderStatus.LIVE)))
def test_a_finished_order_does_not_block_its_link(rule_on, catalogue, customer, status) -> None:
    order_row(customer, service=catalogue["1"], status=status, link=LINK)
    assert place(customer, catalogue["1"]).link == LINK


def test_an_order_of_another_service_or_another_link_does_not_block(rule_on, catalogue, customer) -> None:
    order_row(customer, service=catalogue["2"], status=OrderStatus.PENDING, link=LINK)
    order_row(customer, service=catalogue["1"], status=OrderStatus.PENDING, link=LINK + "/other")
    order_row(customer, service=catalogue["1"], status=OrderStatus.PENDING, link=LINK.upper())  # links compare exactly
    assert place(customer, catalogue["1"]).link == LINK


def test_another_customers_unfinished_order_blocks_the_link_too(rule_on, catalogue, customer) -> None:
    """The provider refuses a second order for a link it is still working on, whoever sends it."""
    order_row(UserFactory(), service=catalogue["1"], status=OrderStatus.IN_PROGRESS, link=LINK)
    with pytest.raises(OrderRejected, match=MESSAGE):
        place(customer, catalogue["1"])


def test_the_link_is_compared_as_stored_stripped(rule_on, catalogue, customer) -> None:
    place(customer, catalogue["1"])
    with pytest.raises(OrderRejected, match=MESSAGE):
        place(customer, catalogue["1"], link=f"  {LINK}\n")


def test_the_second_order_is_refused_once_the_first_is_placed_and_allowed_once_it_ends(rule_on, catalogue, customer) -> None:
    first = place(customer, catalogue["1"])
    with pytest.raises(OrderRejected, match=MESSAGE):
        place(customer, catalogue["1"])
    Order.objects.filter(pk=first.pk).update(status=OrderStatus.COMPLETED)
    assert place(customer, catalogue["1"]).pk != first.pk


def test_a_wrong_quantity_is_reported_before_the_link_rule(rule_on, catalogue, customer) -> None:
    order_row(customer, service=catalogue["1"], status=OrderStatus.PENDING, link=LINK)
    with pytest.raises(OrderRejected) as refused:
        order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1)
    assert refused.value.errors == {"quantity": "Quantity less than minimal 50"}


def test_the_rule_costs_its_check_and_lock_when_on_and_nothing_when_off(catalogue, customer) -> None:
    def placing() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            place(customer, catalogue["1"], link=f"{LINK}/{uuid4()}")
        return [query["sql"] for query in queries.captured_queries]

    ShopSettings.load()
    off = placing()
    assert not any("advisory" in sql for sql in off)
    ShopSettings.objects.filter(pk=1).update(one_order_per_link=True)
    on = placing()
    # The check, under the link's lock on PostgreSQL, in a transaction of its own: a savepoint here, inside the test's.
    locks = 1 if connection.vendor == "postgresql" else 0
    assert len(on) == len(off) + 1 + locks + 2
    assert sum("pg_advisory_xact_lock" in sql for sql in on) == locks
    savepoints = sum(sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) for sql in off)
    assert sum(sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) for sql in on) == savepoints + 2


def test_the_web_form_says_the_same_next_to_the_link(rule_on, web, catalogue, customer) -> None:
    order_row(customer, service=catalogue["1"], status=OrderStatus.PENDING, link=LINK)
    data = {"service": catalogue["1"].pk, "link": LINK, "quantity": "1000", "form_token": uuid4()}
    response = web.post(reverse("order-new"), data)
    assert response.status_code == 400
    assert response.context["form"].errors == {"link": [MESSAGE]}
    assert Order.objects.count() == 1


def test_the_api_says_the_same(rule_on, call, catalogue, customer) -> None:
    order_row(customer, service=catalogue["1"], status=OrderStatus.PROCESSING, link=LINK)
    assert call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000") == {"error": MESSAGE}
    assert Order.objects.count() == 1
    assert balance_of(user=customer) == Decimal("100")


def test_the_selector_reads_only_unfinished_orders_of_the_service(catalogue, customer) -> None:
    order_row(customer, service=catalogue["1"], status=OrderStatus.COMPLETED, link=LINK)
    assert not order_live_with_link(service_id=catalogue["1"].pk, link=LINK)
    order_row(customer, service=catalogue["1"], status=OrderStatus.AWAITING, link=LINK)
    assert order_live_with_link(service_id=catalogue["1"].pk, link=LINK)
    assert not order_live_with_link(service_id=catalogue["2"].pk, link=LINK)
    assert not order_live_with_link(service_id=catalogue["1"].pk, link=LINK + "x")


def test_orders_without_a_link_are_not_held_by_the_rule(rule_on, provider, customer) -> None:
    """Subscriptions orders name a username, not a link: the rule has nothing to compare (their link is blank)."""
    service = typed_service(provider, "Subscriptions", rate="1.00", low=10, high=1000)
    fields = {"username": "someone", "min": "10", "max": "20", "posts": "2"}
    first = order_place(user=customer, service=service, **fields)
    second = order_place(user=customer, service=service, **fields)
    assert first.link == second.link == "" and first.status == second.status == OrderStatus.AWAITING


def test_an_order_of_the_link_placed_while_waiting_for_its_lock_refuses_this_one(rule_on, catalogue, customer, monkeypatch) -> None:
    """The check that decides runs after the lock is taken (another order committed meanwhile: the lock was its)."""
    from shop.orders import placement

    taken = []

    def lock_taken_after_another_order(*, links) -> None:
        taken.extend(links)
        order_row(UserFactory(), service=catalogue["1"], status=OrderStatus.AWAITING, link=LINK)

    monkeypatch.setattr(placement, "order_links_lock", lock_taken_after_another_order)
    with pytest.raises(OrderRejected) as refused:
        place(customer, catalogue["1"])
    assert refused.value.errors == {"link": MESSAGE} and taken == [(catalogue["1"].pk, LINK)]
    assert not Order.objects.filter(user=customer).exists() and balance_of(user=customer) == Decimal("100")


def test_a_mass_order_whose_link_was_taken_while_waiting_for_the_locks_places_nothing(rule_on, catalogue, customer, monkeypatch) -> None:
    monkeypatch.setattr(mass, "_enqueue_submit", lambda order_id: None)
    one, two = catalogue["1"], catalogue["4"]
    text = f"{two.pk} | {LINK} | 1000\n{one.pk} | {LINK} | 1000\n{one.pk} | {LINK}/2 | 1000"
    digest = mass_preview(user=customer, text=text).digest
    taken = []

    def locks_taken_after_another_order(*, links) -> None:
        taken.extend(links)
        order_row(UserFactory(), service=one, status=OrderStatus.PENDING, link=f"{LINK}/2")

    monkeypatch.setattr(mass, "order_links_lock", locks_taken_after_another_order)
    with pytest.raises(PreviewChanged):
        mass_place(user=customer, text=text, batch=uuid4(), confirmed=digest)
    assert taken == sorted([(one.pk, LINK), (one.pk, f"{LINK}/2"), (two.pk, LINK)])  # each once, in one order for every batch
    assert not Order.objects.filter(user=customer).exists() and balance_of(user=customer) == Decimal("100")


def test_preparing_an_order_checks_the_rule_itself_unless_the_caller_will_under_the_lock(rule_on, catalogue, customer) -> None:
    """``order_prepare`` (the mass preview's check) refuses a link with an unfinished order of the same service only."""
    one, two = catalogue["1"], catalogue["4"]
    order_row(UserFactory(), service=one, status=OrderStatus.PENDING, link=LINK)
    with pytest.raises(OrderRejected) as refused:
        order_prepare(user=customer, service=one.pk, link=LINK, quantity=1000)
    assert refused.value.errors == {"link": MESSAGE}
    assert order_prepare(user=customer, service=one.pk, link=LINK, quantity=1000, link_rule_later=True).link == LINK
    assert order_prepare(user=customer, service=two.pk, link=LINK, quantity=1000).link == LINK
    assert order_prepare(user=customer, service=one.pk, link=f"{LINK}/2", quantity=1000).link == f"{LINK}/2"

    text = f"{one.pk} | {LINK} | 1000\n{two.pk} | {LINK} | 1000\n{one.pk} | {LINK}/2 | 1000"
    preview = mass_preview(user=customer, text=text)
    assert {result.line.number: result.rejected.errors for result in preview.lines if result.rejected} == {1: {"link": MESSAGE}}


def test_the_lock_key_is_the_same_in_every_process_and_differs_by_service_and_link() -> None:
    from shop.orders.queries import _link_key

    key = _link_key(7, LINK)
    assert key == 3873966097219278040  # SHA-256 of "order-link", 7 and the link, NUL-separated, to 8 bytes: not the salted hash()
    assert len({key, _link_key(8, LINK), _link_key(7, LINK + "x"), _link_key(77, LINK[1:])}) == 4


def _advisory_keys_held() -> set[int]:
    """The bigint advisory locks this connection holds, as the signed keys they were taken with."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT classid::bigint, objid::bigint FROM pg_locks"
            " WHERE locktype = 'advisory' AND objsubid = 1 AND pid = pg_backend_pid() AND granted"
        )
        keys = {high << 32 | low for high, low in cursor.fetchall()}
    return {key - (1 << 64) if key >= 1 << 63 else key for key in keys}


@pytest.mark.postgres
def test_the_lock_is_held_on_each_service_and_link_once_until_the_transaction_ends() -> None:
    from shop.orders.queries import _link_key, order_links_lock

    links = [(7, LINK), (8, LINK), (7, LINK + "/other"), (7, LINK)]
    assert _advisory_keys_held() == set()
    order_links_lock(links=links)
    assert _advisory_keys_held() == {_link_key(7, LINK), _link_key(8, LINK), _link_key(7, LINK + "/other")}


def test_no_links_take_no_lock_and_send_no_statement(django_assert_num_queries) -> None:
    from shop.orders.queries import order_links_lock

    with django_assert_num_queries(0):
        order_links_lock(links=[])


# Orders at once ---------------------------------------------------------------------------------------------------------
# The check and the insert run under a lock of the (service, link) taken in the placing transaction:
# without it, every one of N requests sent at once finds no order for the link and places one.


def _customers(count: int) -> list:
    users = [UserFactory() for _ in range(count)]
    for user in users:
        wallet_credit(user=user, amount=Decimal("100"), kind=LedgerEntry.Kind.DEPOSIT)
    return users


def _one_placed(outcomes: list, refusals: tuple[type[Exception], ...]) -> None:
    placed = [outcome for outcome in outcomes if not isinstance(outcome, Exception)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, refusals)]
    assert (len(placed), len(refused)) == (1, len(outcomes) - 1), outcomes
    for outcome in refused:
        assert not isinstance(outcome, OrderRejected) or outcome.errors == {"link": MESSAGE}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [2, 8])
def test_orders_for_one_link_sent_at_once_place_exactly_one(catalogue, threads) -> None:
    ShopSettings.objects.update_or_create(pk=1, defaults={"one_order_per_link": True})
    users = _customers(threads)  # customers of their own: the provider refuses the link whoever sends it
    service_id = catalogue["1"].pk
    for round_ in range(3):
        link = f"{LINK}/{threads}/{round_}"
        turns = iter(users)
        outcomes = race(threads, lambda link=link, turns=turns: place(next(turns), service_id, link))
        _one_placed(outcomes, (OrderRejected,))
        assert Order.objects.filter(service_id=service_id, link=link).count() == 1
    for user in users:
        assert_ledger_holds(user)
    charged = sum(Decimal("100") - balance_of(user=user) for user in users)
    assert charged == sum(Order.objects.values_list("charge", flat=True))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [2, 8])
def test_mass_orders_and_single_orders_for_one_link_at_once_place_exactly_one(catalogue, monkeypatch, threads) -> None:
    monkeypatch.setattr(mass, "_enqueue_submit", lambda order_id: None)
    ShopSettings.objects.update_or_create(pk=1, defaults={"one_order_per_link": True})
    users = _customers(threads)
    one, two = catalogue["1"], catalogue["4"]
    for round_ in range(3):
        link = f"{LINK}/mass/{threads}/{round_}"
        # Two links in each batch, written in either order, so two batches lock the same pair the other way round.
        texts = [f"{one.pk} | {link} | 1000\n{two.pk} | {link}/2 | 1000", f"{two.pk} | {link}/2 | 1000\n{one.pk} | {link} | 1000"]
        plans = []
        for number, user in enumerate(users):
            if number % 3 == 2:  # a single order among the batches
                plans.append(lambda user=user, link=link: place(user, one.pk, link))
            else:
                text = texts[number % 2]
                digest = mass_preview(user=user, text=text).digest
                plans.append(lambda user=user, text=text, digest=digest: mass_place(user=user, text=text, batch=uuid4(), confirmed=digest))
        turns = iter(plans)
        outcomes = race(threads, lambda turns=turns: next(turns)())
        errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        assert all(isinstance(error, (OrderRejected, PreviewChanged, NothingToPlace)) for error in errors), errors
        assert Order.objects.filter(service_id=one.pk, link=link).count() == 1, outcomes
        assert Order.objects.filter(service_id=two.pk, link=f"{link}/2").count() <= 1, outcomes
    for user in users:
        assert_ledger_holds(user)
