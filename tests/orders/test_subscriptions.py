"""Subscriptions orders (``shop.orders.subscriptions``): their fields, the reserve charged, the unused part refunded when they end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from panelapi.sandbox import Fault, SandboxPanel, SandboxServer
from shop.catalogue.retail import services_import
from shop.catalogue.sync import catalogue_sync
from shop.models import LedgerEntry, Order, OrderStatus, Provider, Service
from shop.orders.placement import OrderRejected, order_place
from shop.orders.refresh import orders_refresh
from shop.orders.submission import order_submit, order_upstream_params
from shop.orders.subscriptions import (
    DELAYS,
    MAX_OLD_POSTS,
    MAX_POSTS,
    clean_expiry,
    clean_subscription,
    expiry_date,
    posts_done_words,
    reserve,
)
from shop.orders.types import FieldError, Refusal
from tests.conftest import SANDBOX_KEY
from tests.helpers import assert_ledger_holds, refunds_of, typed_service

pytestmark = pytest.mark.django_db
S = OrderStatus
TODAY = date(2030, 6, 15)
FIELDS = {"username": "shop.owner", "min": "100", "max": "200", "posts": "4"}


def clean(**changes: object) -> dict[str, object]:
    return clean_subscription({**FIELDS, **changes}, low=50, high=5000, today=TODAY)


def refusal(**changes: object) -> tuple[str, str]:
    with pytest.raises(FieldError) as raised:
        clean(**changes)
    return raised.value.field, raised.value.message


# The fields ---------------------------------------------------------------------------------


def test_the_fields_are_cleaned_as_add_sends_them_and_blank_optional_ones_are_left_out() -> None:
    assert clean(old_posts="", delay=None, expiry=" ") == {"username": "shop.owner", "min": 100, "max": 200, "posts": 4}
    full = clean(username=" @shop.owner ", min=" 50", max=5000, posts="1000", old_posts="0", delay="600", expiry="1/7/2030")
    assert full == {"username": "@shop.owner", "min": 50, "max": 5000, "posts": 1000, "old_posts": 0, "delay": 600, "expiry": "01/07/2030"}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": ""}, "username", "Username is required."),
        ({"username": "two words"}, "username", "Username is not valid: letters, digits, '.', '_' or '-'."),
        ({"username": ["shop.owner"]}, "username", "Username must be text."),
        ({"min": ""}, "min", "Min is required: the least to deliver to each post."),
        ({"max": None}, "max", "Max is required: the most to deliver to each post."),
        ({"min": "1.5"}, "min", "Minimum per post must be a whole number."),
        ({"min": "49"}, "min", "Min less than minimal 50"),
        ({"min": "0"}, "min", "Min less than minimal 50"),  # the service's limit, not a number's floor of 1
        ({"max": "0"}, "max", "Max less than minimal 50"),
        ({"max": "5001"}, "max", "Max more than maximum 5000"),
        ({"min": "5001", "max": "5001"}, "min", "Min more than maximum 5000"),
        ({"min": "201"}, "min", "Minimum per post must not be more than the maximum per post."),
        ({"posts": ""}, "posts", "Posts is required: how many new posts to deliver to (the charge reserved is for that many)."),
        ({"posts": "0"}, "posts", "Posts must be at least 1."),
        ({"posts": str(MAX_POSTS + 1)}, "posts", f"Posts must be at most {MAX_POSTS}."),
        ({"old_posts": "-1"}, "old_posts", "Old posts must be at least 0."),
        ({"old_posts": str(MAX_OLD_POSTS + 1)}, "old_posts", f"Old posts must be at most {MAX_OLD_POSTS}."),
        ({"delay": "7"}, "delay", f"Delay must be one of {', '.join(map(str, DELAYS))} minutes."),
        ({"delay": "-5"}, "delay", f"Delay must be one of {', '.join(map(str, DELAYS))} minutes."),
        ({"delay": "soon"}, "delay", "Delay must be a whole number."),
        ({"expiry": ["16/06/2030"]}, "expiry", "Expiry must be text."),
        ({"expiry": "15/06/2030"}, "expiry", "Expiry must be a date after today."),
        ({"expiry": "30/02/2031"}, "expiry", "Expiry: 30/02/2031 is not a date."),
        ({"expiry": "next week"}, "expiry", "Expiry must be a date written day/month/year, e.g. 31/12/2030."),
        ({"expiry": "16/06/2040"}, "expiry", "Expiry must be within ten years."),
    ],
)
def test_a_wrong_field_is_refused_with_a_message_for_people(changes, field: str, message: str) -> None:
    assert refusal(**changes) == (field, message)


def test_min_and_max_name_the_services_limits_for_the_order_forms_wording() -> None:
    with pytest.raises(FieldError) as low:
        clean(min="10")
    with pytest.raises(FieldError) as high:
        clean(max="9000")
    assert (low.value.code, low.value.params, high.value.code, high.value.params) == (
        Refusal.BELOW_MIN,
        {"min": 50},
        Refusal.ABOVE_MAX,
        {"max": 5000},
    )


def test_min_may_equal_max_and_both_may_be_the_services_limits() -> None:
    assert clean(min="50", max="50")["min"] == 50
    assert clean(min="5000", max="5000")["max"] == 5000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16/06/2030", date(2030, 6, 16)),
        ("2030-06-16", date(2030, 6, 16)),  # a browser's date field
        ("3/1/2031", date(2031, 1, 3)),
        (date(2040, 6, 13).strftime("%d/%m/%Y"), date(2040, 6, 13)),  # 3,650 days ahead: within ten years
        ("15/06/2040", date(2040, 6, 15)),  # exactly MAX_EXPIRY_DAYS (3,653) ahead: the last day allowed
        ("", None),
        (None, None),
    ],
)
def test_an_expiry_is_read_day_first_or_as_a_browser_sends_it(text, expected) -> None:
    assert clean_expiry(text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("posts_done", "words"),
    [(None, None), (0, "0 posts done"), (1, "1 post done"), (2, "2 posts done"), (17, "17 posts done")],
)
def test_a_subscriptions_progress_reads_as_posts_done_and_other_orders_have_none(posts_done, words) -> None:
    assert posts_done_words(posts_done) == words


def test_the_expiry_of_a_placed_subscription_reads_back_as_a_date() -> None:
    assert expiry_date({"expiry": "01/07/2030"}) == date(2030, 7, 1)
    assert expiry_date({}) is None and expiry_date({"expiry": ""}) is None


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"max": 200, "posts": 4}, (200, 800)),
        ({"max": 200, "posts": 4, "old_posts": 0}, (200, 800)),
        ({"max": 200, "posts": 4, "old_posts": 3}, (200, 1400)),
        ({"max": 1, "posts": 1}, (1, 1)),
    ],
)
def test_the_reserve_is_max_on_every_post_it_may_serve(extra, expected) -> None:
    assert reserve(extra) == expected


# Placing --------------------------------------------------------------------------------------


@pytest.fixture
def subscription(provider):
    """A Subscriptions service at 3.00 per 1000 (no markup), 50 to 5000 a post."""
    return typed_service(provider, "Subscriptions", rate="3.00", low=50, high=5000)


def test_placing_reserves_the_most_it_can_deliver_and_keeps_its_fields_for_the_provider(subscription, customer) -> None:
    order = order_place(
        user=customer, service=subscription, link="https://ignored.example", quantity="9", **FIELDS, old_posts="1", delay="30"
    )
    order.refresh_from_db()
    assert (order.link, order.quantity, order.total_quantity, order.runs, order.posts_done) == ("", 200, 1000, None, 0)
    assert order.charge == Decimal("3.0000")  # 3.00 x 200 x (4 + 1) / 1000
    assert order.extra == {"username": "shop.owner", "min": 100, "max": 200, "posts": 4, "old_posts": 1, "delay": 30}
    assert LedgerEntry.objects.get(order=order, kind=LedgerEntry.Kind.ORDER_CHARGE).amount == Decimal("-3.0000")
    params = order_upstream_params(order=Order.objects.select_related("provider_service").get(pk=order.pk))
    assert {name: value for name, value in params.items() if value is not None} == {
        "username": "shop.owner",
        "min": 100,
        "max": 200,
        "posts": 4,
        "old_posts": 1,
        "delay": 30,
    }
    assert_ledger_holds(customer)


def test_a_refused_subscription_writes_nothing(subscription, customer) -> None:
    with pytest.raises(OrderRejected) as rejected:
        order_place(user=customer, service=subscription, **{**FIELDS, "posts": ""})
    assert rejected.value.errors == {"posts": "Posts is required: how many new posts to deliver to (the charge reserved is for that many)."}
    with pytest.raises(OrderRejected) as dripfed:
        order_place(user=customer, service=subscription, runs="2", interval="10", **FIELDS)
    assert dripfed.value.errors == {"runs": "Drip-feed is not available for this service."}
    assert not Order.objects.exists() and LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ORDER_CHARGE).count() == 0


def test_a_reserve_beyond_the_balance_is_not_enough_funds(subscription, customer) -> None:
    with pytest.raises(OrderRejected) as rejected:  # 3.00 x 5000 x 1000 / 1000 = 15,000 on a balance of 100
        order_place(user=customer, service=subscription, **{**FIELDS, "max": "5000", "posts": "1000"})
    assert rejected.value.code == Refusal.SHORT_OF_FUNDS and rejected.value.params["charge"] == Decimal("15000.0000")


# End to end through the sandbox panel, over real HTTP ----------------------------------------------


def refresh(sandbox, provider, seconds: float) -> None:
    sandbox.panel.advance(seconds)
    Order.objects.update(next_check_at=timezone.now())
    orders_refresh(provider=provider)


def test_a_subscription_runs_at_the_provider_and_gives_back_the_unused_reserve_once(sandbox, provider, catalogue, customer) -> None:
    order = order_place(user=customer, service=catalogue["26"], username="shop.owner", min="100", max="200", posts="3", old_posts="1")
    assert order.charge == Decimal("0.5200")  # 0.50 x 1.30 = 0.65 per 1000, x 200 x 4 / 1000
    order_submit(order_id=order.pk)
    refresh(sandbox, provider, 0)
    order.refresh_from_db()
    assert (order.status, order.upstream_status, order.posts_done, order.remains) == (S.SUB_ACTIVE, "Active", 0, None)
    refresh(sandbox, provider, 25)  # one post a stage of 10 s
    order.refresh_from_db()
    assert (order.status, order.posts_done, refunds_of(order)) == (S.SUB_ACTIVE, 2, [])
    refresh(sandbox, provider, 20)
    order.refresh_from_db()
    assert (order.status, order.upstream_status, order.posts_done) == (S.COMPLETED, "Completed", 4)
    # The 4 posts served can have cost 4 x 200 at the shop's rate: the whole reserve; nothing comes back.
    assert refunds_of(order) == [] and order.refunded == 0
    refresh(sandbox, provider, 100)  # finished orders are not asked about again
    assert refunds_of(order) == []
    assert_ledger_holds(customer)


def test_a_canceled_subscription_is_refunded_the_part_its_served_posts_did_not_use(sandbox, provider, catalogue, customer) -> None:
    order = order_place(user=customer, service=catalogue["26"], username="shop.owner", min="100", max="200", posts="10")
    assert order.charge == Decimal("1.3000")  # 0.65 x 200 x 10 / 1000
    order_submit(order_id=order.pk)
    refresh(sandbox, provider, 35)
    order.refresh_from_db()
    assert sandbox.panel.handle({"key": SANDBOX_KEY, "action": "cancel", "orders": order.upstream_order_id})[1][0]["cancel"] == 1
    refresh(sandbox, provider, 1)
    order.refresh_from_db()
    assert (order.status, order.posts_done) == (S.CANCELED, 3)
    # 3 posts x 200 x 0.65 / 1000 = 0.39 used: 0.91 back, once.
    assert refunds_of(order) == [Decimal("0.9100")] and order.refunded == Decimal("0.9100")
    refresh(sandbox, provider, 100)
    assert refunds_of(order) == [Decimal("0.9100")]
    entry = LedgerEntry.objects.get(order=order, kind=LedgerEntry.Kind.REFUND)
    assert entry.reason == f"Order #{order.pk}: subscription canceled: the reserve not used (3 posts served)"
    assert_ledger_holds(customer)


def test_a_paused_then_expired_subscription_reads_the_providers_words(sandbox, provider, catalogue, customer) -> None:
    order = order_place(user=customer, service=catalogue["26"], username="shop.owner", min="50", max="100", posts="5")
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    upstream = order.upstream_order_id
    sandbox.panel.add_fault(Fault(kind="reply", action="status", body={upstream: {"status": "Paused", "posts": "1"}}, times=1))
    refresh(sandbox, provider, 0)
    order.refresh_from_db()
    assert (order.status, order.posts_done, order.finished_at) == (S.SUB_PAUSED, 1, None)
    # A reply without posts keeps the count the shop has.
    sandbox.panel.add_fault(Fault(kind="reply", action="status", body={upstream: {"status": "Active"}}, times=1))
    refresh(sandbox, provider, 0)
    order.refresh_from_db()
    assert (order.status, order.posts_done) == (S.SUB_ACTIVE, 1)
    sandbox.panel.add_fault(
        Fault(kind="reply", action="status", body={upstream: {"status": "Expired", "posts": "2", "orders": [1, 2]}}, times=1)
    )
    refresh(sandbox, provider, 0)
    order.refresh_from_db()
    assert (order.status, order.posts_done) == (S.EXPIRED, 2)
    assert order.finished_at is not None and order.next_check_at is None
    # Reserved 0.65 x 100 x 5 / 1000 = 0.325 -> 0.3250; used 2 x 100 x 0.65 / 1000 = 0.13.
    assert refunds_of(order) == [Decimal("0.1950")]
    assert_ledger_holds(customer)


@pytest.fixture
def slow_sandbox(db) -> Iterator[tuple[SandboxServer, Provider, Service]]:
    """A sandbox panel serving one post an hour, its provider, and its subscription service offered in the shop."""
    panel = SandboxPanel(SANDBOX_KEY, seed=7, stage_seconds=3600.0)
    with SandboxServer(panel) as server:
        provider = Provider.objects.create(name="Hourly sandbox", api_url=server.url, api_key=SANDBOX_KEY)
        catalogue_sync(provider=provider)
        services_import(provider_services=provider.services.filter(upstream_id="26"))
        yield server, provider, Service.objects.get(provider_service__provider=provider, provider_service__upstream_id="26")


def test_a_subscription_that_expires_is_charged_once_and_refunded_once_the_unused_part(slow_sandbox, customer) -> None:
    server, provider, service = slow_sandbox
    expiry = timezone.now().astimezone(UTC).date() + timedelta(days=2)  # the sandbox ends it at 00:00 UTC that day
    order = order_place(user=customer, service=service, username="shop.owner", min="100", max="100", posts="100", expiry=expiry.isoformat())
    assert order.charge == Decimal("6.5000")  # 0.65 x 100 x 100 / 1000
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    for _ in range(4):  # 100 hours: the expiry, 24 to 48 hours away, comes before the 100th post
        refresh(server, provider, 25 * 3600)
    order.refresh_from_db()
    upstream = server.panel.handle({"key": SANDBOX_KEY, "action": "status", "order": order.upstream_order_id})[1]
    assert (order.status, order.upstream_status, upstream["status"]) == (S.EXPIRED, "Expired", "Expired")
    assert 24 <= order.posts_done == int(upstream["posts"]) < 49
    unused = order.charge - Decimal(order.posts_done) * 100 * Decimal("0.65") / 1000
    entries = list(LedgerEntry.objects.filter(order=order).order_by("pk").values_list("kind", "amount"))
    assert entries == [(LedgerEntry.Kind.ORDER_CHARGE, -order.charge), (LedgerEntry.Kind.REFUND, unused)]
    assert order.refunded == unused
    refresh(server, provider, 3600)
    assert LedgerEntry.objects.filter(order=order).count() == 2
    assert_ledger_holds(customer)


def test_an_expiry_date_goes_to_the_provider_as_day_month_year(sandbox, provider, catalogue, customer) -> None:
    tomorrow = timezone.localdate() + timedelta(days=1)
    order = order_place(user=customer, service=catalogue["26"], expiry=tomorrow.isoformat(), **FIELDS)
    assert order.extra["expiry"] == tomorrow.strftime("%d/%m/%Y")
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == S.PENDING and order.upstream_order_id
