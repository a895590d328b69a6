"""The reseller API: every action and error in the upstream document's shapes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from panelapi.sandbox import Fault
from shop.models import ApiKey, LedgerEntry, Order, OrderStatus, Refill
from shop.orders.requests_many import orders_cancel_send, refills_send
from shop.orders.submission import order_submit
from shop.reseller_api.keys import api_key_issue
from tests.factories import UserFactory
from tests.helpers import order_finish

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/abc"


@pytest.mark.parametrize("key", ["", "nope", "smm_" + "x" * 43, "smm_" + "y" * 200])
def test_invalid_key(client, key: str) -> None:
    assert client.post("/api/v2", {"key": key, "action": "balance"}).json() == {"error": "Invalid API key"}


@pytest.mark.parametrize("params", [{}, {"action": ""}, {"action": "explode"}, {"action": "status"}, {"action": "refill"}])
def test_incorrect_request(call, params) -> None:
    assert call(**params) == {"error": "Incorrect request"}


def test_services_at_this_customers_prices(call, catalogue) -> None:
    services = call(action="services")
    first = next(s for s in services if s["service"] == catalogue["1"].pk)
    assert first == {
        "service": catalogue["1"].pk,
        "name": "Instagram Followers [Real, Refill 30D]",
        "type": "Default",
        "category": "Instagram Followers",
        "rate": "1.17",
        "min": "50",
        "max": "10000",
        "refill": True,
        "cancel": True,
        "dripfeed": False,
        "desc": "Start 0-1 h, 5-10K/day.",
        "average_time": None,
    }


def test_services_say_dripfeed_only_where_runs_are_taken(call, catalogue) -> None:
    from shop.models import ProviderService

    ProviderService.objects.filter(upstream_id__in=["3", "26"]).update(dripfeed=True)
    dripfeed = {s["service"]: s["dripfeed"] for s in call(action="services")}
    assert (dripfeed[catalogue["3"].pk], dripfeed[catalogue["26"].pk]) == (True, False)  # a Subscriptions service takes no runs


def test_add_places_an_order_on_the_same_money_path(call, catalogue, customer) -> None:
    reply = call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")
    order = Order.objects.get(user=customer)
    assert reply == {"order": order.pk}
    assert order.charge == Decimal("1.1700")
    assert LedgerEntry.objects.get(order=order).amount == Decimal("-1.1700")


def test_add_custom_comments_through_the_api(call, catalogue, customer) -> None:
    comments = "\r\n".join(f"nice {i}" for i in range(10))
    reply = call(action="add", service=str(catalogue["7"].pk), link=LINK, comments=comments)
    assert Order.objects.get(pk=reply["order"]).quantity == 10


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"service": "999999", "quantity": "100"}, "Incorrect service ID"),
        ({"service": "abc", "quantity": "100"}, "Incorrect service ID"),
        ({"quantity": "100"}, "Incorrect service ID"),
        ({"service": "SERVICE", "quantity": "10"}, "Quantity less than minimal 50"),
        ({"service": "SERVICE", "quantity": "10001"}, "Quantity more than maximum 10000"),
        ({"service": "SERVICE", "quantity": "100", "link": "javascript:alert(1)"}, "Bad link"),
        ({"service": "SERVICE", "quantity": "9000000"}, "Quantity more than maximum 10000"),
    ],
)
def test_add_errors(call, catalogue, customer, params, error) -> None:
    params = {"link": LINK, **params}
    if params.get("service") == "SERVICE":
        params["service"] = str(catalogue["1"].pk)
    assert call(action="add", **params) == {"error": error}
    assert not Order.objects.exists()


def test_not_enough_funds(client, catalogue) -> None:
    poor = UserFactory()
    key = api_key_issue(user=poor)
    reply = client.post("/api/v2", {"key": key, "action": "add", "service": catalogue["1"].pk, "link": LINK, "quantity": "1000"}).json()
    assert reply == {"error": "Not enough funds on balance"}


def test_status_single_and_many_with_unknown_and_foreign_ids(call, catalogue, customer) -> None:
    mine = Order.objects.get(pk=call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"])
    other = UserFactory()
    from shop.orders.placement import order_place
    from shop.wallet.services import wallet_credit

    wallet_credit(user=other, amount=Decimal("5"), kind=LedgerEntry.Kind.DEPOSIT)
    theirs = order_place(user=other, service=catalogue["1"], link=LINK, quantity=100)
    expected = {"charge": "1.1700", "start_count": "0", "status": "Pending", "remains": "1000", "currency": "USD"}
    assert call(action="status", order=str(mine.pk)) == expected
    assert call(action="status", order=str(theirs.pk)) == {"error": "Incorrect order ID"}
    assert call(action="status", order="abc") == {"error": "Incorrect order ID"}
    # Digits of other scripts are not order numbers, although int() would read Arabic-Indic digits.
    assert call(action="status", order=str(mine.pk).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))) == {"error": "Incorrect order ID"}
    assert call(action="status", orders=f"{mine.pk},{theirs.pk},x") == {
        str(mine.pk): expected,
        str(theirs.pk): {"error": "Incorrect order ID"},
        "x": {"error": "Incorrect order ID"},
    }
    assert call(action="status", orders=",".join(str(i) for i in range(101))) == {"error": "Incorrect request"}


def test_partial_order_status_shows_the_net_charge(call, catalogue, customer) -> None:
    order = Order.objects.get(pk=call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"])
    order_submit(order_id=order.pk)
    order_finish(order_id=order.pk, status=OrderStatus.PARTIAL, remains=250, start_count=77, upstream_charge=None, raw="Partial")
    assert call(action="status", order=str(order.pk)) == {
        "charge": "0.8775",
        "start_count": "77",
        "status": "Partial",
        "remains": "250",
        "currency": "USD",
    }


def test_balance(call) -> None:
    assert call(action="balance") == {"balance": "100.0000", "currency": "USD"}


def test_refill_answers_at_once_and_refill_status_answers_from_the_database(call, catalogue, customer, sandbox, queued) -> None:
    order = Order.objects.get(pk=call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"])
    assert call(action="refill", order=str(order.pk)) == {"error": "Order not eligible for refill."}
    order_submit(order_id=order.pk)
    order_finish(order_id=order.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    sandbox.panel.advance(10_000)  # the sandbox's own copy finishes too

    with queued:
        reply = call(action="refill", order=str(order.pk))
    refill = Refill.objects.get(order=order)
    assert reply == {"refill": str(refill.pk)} and refill.upstream_refill_id == ""
    assert queued.sent == [("refills_send_task", [refill.pk])] and sandbox.panel.calls["refill"] == 0
    assert call(action="refill_status", refill=str(refill.pk)) == {"status": "Pending"}
    assert call(action="refill_status", refills=f"{refill.pk},999") == [
        {"refill": refill.pk, "status": "Pending"},
        {"refill": 999, "status": {"error": "Refill not found"}},
    ]
    assert sandbox.panel.calls["refill_status"] == 0

    assert refills_send(refill_ids=[refill.pk]) == 1 and sandbox.panel.calls["refill"] == 1  # the task
    Refill.objects.filter(pk=refill.pk).update(status=Refill.Status.COMPLETED)  # as the sweep would store it
    assert call(action="refill_status", refill=str(refill.pk)) == {"status": "Completed"}
    many = call(action="refill", orders=f"{order.pk},424242")
    assert many[1] == {"order": 424242, "refill": {"error": "Incorrect order ID"}}
    assert many[0]["refill"]["error"].startswith(  # a day has not passed since the last refill
        "A refill of this order was asked for recently; you may ask again after "
    )


def test_cancel_unsent_order_refunds_here_and_placed_one_asks_the_provider(call, catalogue, customer, sandbox) -> None:
    unsent = Order.objects.get(pk=call(action="add", service=str(catalogue["17"].pk), link=LINK, quantity="100")["order"])
    assert call(action="cancel", order=str(unsent.pk)) == {"cancel": 1}
    unsent.refresh_from_db()
    assert unsent.status == OrderStatus.CANCELED and unsent.refunded == unsent.charge

    placed = Order.objects.get(pk=call(action="add", service=str(catalogue["17"].pk), link=LINK, quantity="100")["order"])
    order_submit(order_id=placed.pk)
    assert call(action="cancel", orders=f"{placed.pk},424242") == [
        {"order": placed.pk, "cancel": 1},
        {"order": 424242, "cancel": {"error": "Incorrect order ID"}},
    ]
    placed.refresh_from_db()
    # The many form answers at once: the order is marked here, and a task asks the provider (called directly in tests).
    assert placed.cancel_requested_at is not None and sandbox.panel.calls["cancel"] == 0
    assert orders_cancel_send(order_ids=[placed.pk]) == 1 and sandbox.panel.calls["cancel"] == 1
    assert call(action="cancel", order=str(placed.pk)) == {"error": "Order not eligible for cancel."}

    no_cancel = Order.objects.get(pk=call(action="add", service=str(catalogue["2"].pk), link=LINK, quantity="100")["order"])
    order_submit(order_id=no_cancel.pk)
    assert call(action="cancel", order=str(no_cancel.pk)) == {"error": "Order not eligible for cancel."}


def test_json_bodies_are_accepted(client, key, catalogue) -> None:
    reply = client.post("/api/v2", {"key": key, "action": "balance"}, content_type="application/json").json()
    assert reply == {"balance": "100.0000", "currency": "USD"}
    bad = client.post("/api/v2", "[1, 2", content_type="application/json")
    assert bad.status_code == 200 and bad.json() == {"error": "Incorrect request"}
    assert client.post("/api/v2", [1, 2], content_type="application/json").json() == {"error": "Incorrect request"}


@pytest.mark.postgres
def test_status_and_add_read_what_they_need_with_the_key_in_one_statement(call, catalogue, customer, django_assert_num_queries) -> None:
    """A round trip costs the database more than these statements do: the key comes with the orders or the service."""
    from shop.models import CustomerPrice

    first = call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"]  # the key's last use is now
    CustomerPrice.objects.create(user=customer, service=catalogue["1"], fixed_rate=Decimal("0.5"))
    with django_assert_num_queries(1):
        assert call(action="status", order=str(first))["charge"] == "1.1700"
    with django_assert_num_queries(1):
        assert list(call(action="status", orders=f"{first},x")) == [str(first), "x"]
    with django_assert_num_queries(2):  # the key with the service and the customer's prices; the order charged
        second = call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"]
    assert Order.objects.get(pk=second).charge == Decimal("0.5000")  # at the price read with the key
    with django_assert_num_queries(2):  # no such service: the key, then the service looked for again as placing does
        assert call(action="add", service="999999", link=LINK, quantity="1000") == {"error": "Incorrect service ID"}


@pytest.mark.parametrize("failure", ["inactive", "revoked"])
def test_what_was_read_with_a_key_that_fails_its_checks_is_not_used(client, catalogue, customer, failure) -> None:
    from shop.reseller_api.keys import api_key_revoke
    from shop.reseller_api.models import Revocation
    from shop.wallet.selectors import balance_of

    key = api_key_issue(user=customer)
    post = {"key": key, "action": "add", "service": str(catalogue["1"].pk), "link": LINK, "quantity": "1000"}
    order = client.post("/api/v2", post).json()["order"]
    if failure == "inactive":
        type(customer).objects.filter(pk=customer.pk).update(is_active=False)
    else:
        api_key_revoke(user=customer, reason=Revocation.PASSWORD_CHANGED)
    before = balance_of(user=customer)
    for params in ({"action": "status", "order": str(order)}, {"action": "status", "orders": str(order)}, post):
        assert client.post("/api/v2", {**params, "key": key}).json() == {"error": "Invalid API key"}
    assert Order.objects.filter(user=customer).count() == 1 and balance_of(user=customer) == before


def test_status_and_add_are_limited_although_their_data_comes_with_the_key(client, key, catalogue, settings) -> None:
    settings.API_RATE_LIMIT = 2
    add = {"key": key, "action": "add", "service": str(catalogue["1"].pk), "link": LINK, "quantity": "100"}
    order = client.post("/api/v2", add).json()["order"]
    assert client.post("/api/v2", {"key": key, "action": "status", "order": str(order)}).status_code == 200
    for params in ({"action": "status", "order": str(order)}, {"action": "status", "orders": str(order)}, add):
        refused = client.post("/api/v2", {**params, "key": key})
        assert (refused.status_code, refused.json()) == (429, {"error": "Too many requests, slow down"})
    assert Order.objects.count() == 1


def test_get_is_refused_in_json(client) -> None:
    response = client.get("/api/v2", {"key": "x", "action": "balance"})
    assert response.status_code == 405 and response.json() == {"error": "Incorrect request"}


def test_rate_limits(client, key, settings) -> None:
    settings.API_RATE_LIMIT = 3
    replies = [client.post("/api/v2", {"key": key, "action": "balance"}) for _ in range(4)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    assert replies[-1].json() == {"error": "Too many requests, slow down"}


def test_add_has_its_own_limit(call, catalogue, settings) -> None:
    settings.API_ADD_RATE_LIMIT = 1
    assert "order" in call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="100")
    assert call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="100") == {"error": "Too many requests, slow down"}


def test_the_ids_a_call_names_count_against_their_own_limit(client, key, settings) -> None:
    settings.API_IDS_RATE_LIMIT = 150

    def status(**ids: str):
        return client.post("/api/v2", {"key": key, "action": "status", **ids})

    hundred = ",".join(str(number) for number in range(1, 101))
    assert status(orders=hundred).status_code == 200  # 100 ids
    assert status(orders=",".join(["7"] * 100)).status_code == 200  # one id, named 100 times: 101
    for number in range(49):
        assert status(order=str(number)).status_code == 200  # one each: 150
    refused = client.post("/api/v2", {"key": key, "action": "refill", "orders": "1,2"})
    assert (refused.status_code, refused.json()) == (429, {"error": "Too many requests, slow down"})
    assert client.post("/api/v2", {"key": key, "action": "balance"}).status_code == 200  # no ids: only the calls limit


def test_repeated_invalid_keys_from_one_address_are_refused(client, key, settings) -> None:
    settings.API_BAD_KEY_LIMIT = 3
    codes = [client.post("/api/v2", {"key": f"smm_guess{i}", "action": "balance"}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.post("/api/v2", {"key": "smm_guess9", "action": "balance"}).status_code == 429  # still cooling off
    # A valid key proves no guessing: its owner is answered even from that address.
    assert client.post("/api/v2", {"key": key, "action": "balance"}).status_code == 200


def test_the_key_is_shown_once_and_the_page_documents_every_action(client, customer) -> None:
    client.force_login(customer)
    page = client.get(reverse("api-page")).content.decode()
    assert "You have no API key yet." in page
    issued = client.post(reverse("api-key-new"), {"confirm": "yes"}, follow=True).content.decode()
    prefix = ApiKey.objects.get(user=customer).prefix
    assert prefix in issued and "shown only once" in issued
    later = client.get(reverse("api-page")).content.decode()
    assert f"{prefix}…" in later and "shown only once" not in later
    from shop.reseller_api.actions import ACTIONS

    for definition in ACTIONS:
        assert str(definition.title) in later
    assert "curl -X POST" in later and "import requests" in later and "curl_init" in later


def test_upstream_fault_never_reaches_the_reseller_as_html(call, catalogue, customer, sandbox) -> None:
    order = Order.objects.get(pk=call(action="add", service=str(catalogue["17"].pk), link=LINK, quantity="100")["order"])
    order_submit(order_id=order.pk)
    sandbox.panel.add_fault(Fault(kind="html", action="cancel"))
    assert call(action="cancel", order=str(order.pk)) == {"cancel": 1}  # answered at once; the task meets the HTML page
    assert orders_cancel_send(order_ids=[order.pk]) == 0
    # The provider may have taken it: the mark stays (asked again once the claim is stale), and the reseller is told so.
    assert Order.objects.get(pk=order.pk).cancel_requested_at is not None
    assert call(action="cancel", order=str(order.pk)) == {"error": "Order not eligible for cancel."}


# Subscriptions ------------------------------------------------------------------------------------


def test_add_a_subscription_takes_its_fields_and_reserves_its_most(call, catalogue, customer) -> None:
    expiry = (timezone.localdate() + timedelta(days=30)).strftime("%d/%m/%Y")
    fields = {"username": "shop.owner", "min": "100", "max": "200", "posts": "3", "old_posts": "1", "delay": "30", "expiry": expiry}
    reply = call(action="add", service=str(catalogue["26"].pk), **fields)
    order = Order.objects.get(user=customer)
    assert reply == {"order": order.pk}
    assert (order.link, order.quantity, order.total_quantity, order.charge) == ("", 200, 800, Decimal("0.5200"))  # 0.65 x 200 x 4 / 1000
    assert order.extra == {"username": "shop.owner", "min": 100, "max": 200, "posts": 3, "old_posts": 1, "delay": 30, "expiry": expiry}
    assert LedgerEntry.objects.get(order=order).amount == Decimal("-0.5200")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"min": "10"}, "Min less than minimal 50"),
        ({"max": "5001"}, "Max more than maximum 5000"),
        ({"posts": ""}, "Posts is required: how many new posts to deliver to (the charge reserved is for that many)."),
        (
            {"delay": "7"},
            "Delay must be one of 0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600 minutes.",
        ),
        ({"expiry": "1/1/2001"}, "Expiry must be a date after today."),
    ],
)
def test_add_a_subscription_refuses_bad_fields_and_writes_nothing(call, catalogue, params, error) -> None:
    fields = {"username": "shop.owner", "min": "100", "max": "200", "posts": "3", **params}
    assert call(action="add", service=str(catalogue["26"].pk), **fields) == {"error": error}
    assert not Order.objects.exists()


def test_a_subscriptions_status_has_its_posts_and_net_charge_as_panels_answer(call, catalogue, customer) -> None:
    fields = {"username": "shop.owner", "min": "100", "max": "200", "posts": "10"}
    order = Order.objects.get(pk=call(action="add", service=str(catalogue["26"].pk), **fields)["order"])
    pending = {"charge": "1.3000", "status": "Pending", "posts": "0", "currency": "USD"}
    assert call(action="status", order=str(order.pk)) == pending
    order_submit(order_id=order.pk)
    finished = {"remains": None, "start_count": None, "upstream_charge": None, "raw": "Expired"}
    order_finish(order_id=order.pk, status=OrderStatus.EXPIRED, posts=3, **finished)
    ordinary = call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="1000")["order"]
    # 3 posts of 200 at 0.65 per 1000 used 0.39 of the 1.30 reserved: the rest came back.
    expired = {"charge": "0.3900", "status": "Expired", "posts": "3", "currency": "USD"}
    assert call(action="status", order=str(order.pk)) == expired
    many = call(action="status", orders=f"{order.pk},{ordinary}")
    assert many[str(order.pk)] == expired and set(many[str(ordinary)]) == {"charge", "start_count", "status", "remains", "currency"}
