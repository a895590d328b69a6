"""One test per quirk of real panels (shared/api-v2-notes.md), each on a crafted reply."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import responses

from panelapi.client import PanelClient
from panelapi.exceptions import PanelBadResponse, PanelRateLimited, PanelRefused
from panelapi.types import CancelResult, ItemError, RefillResult, RefillStatus, UpstreamStatus

URL = "https://panel.example/api/v2"


@pytest.fixture
def client() -> PanelClient:
    return PanelClient(URL, "quirk-key", connect_timeout=1, read_timeout=1)


def reply(data: object, *, status: int = 200) -> None:
    body = data if isinstance(data, str) else json.dumps(data)
    responses.add(responses.POST, URL, body=body, status=status, content_type="application/json")


def sent(call_index: int = -1) -> dict[str, list[str]]:
    return parse_qs(responses.calls[call_index].request.body)


STATUS = {"charge": "0.5", "start_count": "10", "status": "Pending", "remains": "5", "currency": "USD"}


@pytest.mark.parametrize(
    ("charge", "expected"),
    [("0.27819", "0.27819"), (0.27819, "0.27819"), (3, "3"), ("2,5", "2.5"), ("1,234.50", "1234.50"), (" 7 ", "7")],
)
@responses.activate
def test_numbers_as_strings_numbers_or_with_a_decimal_comma(client: PanelClient, charge: object, expected: str) -> None:
    reply({**STATUS, "charge": charge})
    assert client.status(1).charge == Decimal(expected)


@responses.activate
def test_money_never_goes_through_float(client: PanelClient) -> None:
    reply('{"balance": 0.1000000000000000055511151231257827, "currency": "USD"}')
    assert client.balance().amount == Decimal("0.1000000000000000055511151231257827")


@responses.activate
def test_currency_missing_from_status_and_balance(client: PanelClient) -> None:
    reply({key: value for key, value in STATUS.items() if key != "currency"})
    reply({"balance": "12.5"})
    assert client.status(1).currency is None
    assert client.balance().currency is None


@responses.activate
def test_negative_remains_are_kept_as_sent(client: PanelClient) -> None:
    reply({**STATUS, "status": "Completed", "remains": "-2"})
    assert client.status(1).remains == -2


@pytest.mark.parametrize(("start_count", "expected"), [("", None), (None, None), ("0", 0), (0, 0), ("3572", 3572)])
@responses.activate
def test_start_count_empty_null_or_zero_before_start(client: PanelClient, start_count: object, expected: int | None) -> None:
    reply({**STATUS, "start_count": start_count})
    assert client.status(1).start_count == expected


@pytest.mark.parametrize("order_id", [23501, "23501", " 23501 "])
@responses.activate
def test_order_id_as_integer_or_string(client: PanelClient, order_id: object) -> None:
    reply({"order": order_id})
    assert client.add(service=1, link="https://x.example", quantity=10).order_id == "23501"


@responses.activate
def test_multi_status_keys_are_strings_and_unasked_ids_are_ignored(client: PanelClient) -> None:
    reply({"5": STATUS, "6": {"error": "Incorrect order ID"}, "999": STATUS})
    results = client.status_many([5, "6"])
    assert set(results) == {"5", "6"}
    assert results["6"] == ItemError("Incorrect order ID")
    assert sent()["orders"] == ["5,6"]


@pytest.mark.parametrize(
    ("flag", "expected"),
    [(True, True), (False, False), (1, True), (0, False), ("1", True), ("0", False), ("true", True), ("false", False), (None, False)],
)
@responses.activate
def test_refill_cancel_dripfeed_as_booleans_numbers_or_strings(client: PanelClient, flag: object, expected: bool) -> None:
    service = {"service": 1, "name": "F", "type": "Default", "category": "C", "rate": "1", "min": "1", "max": "2"}
    reply([{**service, "refill": flag, "cancel": flag, "dripfeed": flag}])
    info = client.services().services[0]
    assert (info.refill, info.cancel, info.dripfeed) == (expected, expected, expected)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("In Progress", UpstreamStatus.IN_PROGRESS),
        ("in progress", UpstreamStatus.IN_PROGRESS),
        ("Cancelled", UpstreamStatus.CANCELED),
        ("canceled", UpstreamStatus.CANCELED),
        ("COMPLETED", UpstreamStatus.COMPLETED),
        ("Refunded", UpstreamStatus.CANCELED),
        ("Active", UpstreamStatus.ACTIVE),
        ("processing", UpstreamStatus.PROCESSING),
        ("partial", UpstreamStatus.PARTIAL),
        ("Paused", UpstreamStatus.PAUSED),
        ("expired", UpstreamStatus.EXPIRED),
    ],
)
@responses.activate
def test_status_words_seen_in_the_wild(client: PanelClient, word: str, expected: UpstreamStatus) -> None:
    reply({**STATUS, "status": word})
    status = client.status(1)
    assert (status.status, status.raw_status) == (expected, word)


@responses.activate
def test_a_subscription_status_reads_its_posts_and_orders_without_remains_or_charge(client: PanelClient) -> None:
    reply({"status": "Active", "posts": "3", "orders": [501, "502", 501, None]})
    status = client.status(1)
    assert (status.status, status.posts, status.orders) == (UpstreamStatus.ACTIVE, 3, ("501", "502"))
    assert (status.remains, status.charge, status.start_count) == (None, None, None)


@pytest.mark.parametrize(
    ("posts", "orders", "expected"),
    [
        (None, None, (None, ())),
        ("-1", "", (None, ())),
        ("many", {"a": 1}, (None, ())),
        (0, "7, 8", (0, ("7", "8"))),
        ("2,0", [True, "9"], (2, ("9",))),
        ("100000", None, (100_000, ())),  # the most a subscription can have served
        ("100001", None, (None, ())),  # more: a figure no subscription reaches, unreadable
        ("3000000000", None, (None, ())),  # beyond a database integer: it would fail the whole batch's update
        (2**63 - 1, None, (None, ())),
    ],
)
@responses.activate
def test_odd_posts_and_orders_of_a_status_are_left_out_and_the_status_still_counts(client: PanelClient, posts, orders, expected) -> None:
    reply({**STATUS, "posts": posts, "orders": orders})
    status = client.status(1)
    assert (status.status, status.remains) == (UpstreamStatus.PENDING, 5)
    assert (status.posts, status.orders) == expected


@responses.activate
def test_unknown_status_word_is_kept_raw_and_not_final(client: PanelClient) -> None:
    reply({**STATUS, "status": "Awaiting moderation"})
    status = client.status(1)
    assert status.status is UpstreamStatus.UNKNOWN
    assert status.raw_status == "Awaiting moderation"


@pytest.mark.parametrize(
    "message",
    ["Not enough funds on balance", "neworder.error.not_enough_funds", "neworder.error.link_duplicate", "Quantity less than minimal 50"],
)
@responses.activate
def test_error_strings_and_translation_keys_are_refusals(client: PanelClient, message: str) -> None:
    reply({"error": message})
    with pytest.raises(PanelRefused) as caught:
        client.add(service=1, link="https://x.example", quantity=10)
    assert caught.value.message == message


@pytest.mark.parametrize("status", [200, 502, 503])
@responses.activate
def test_html_page_from_a_proxy_is_an_unknown_outcome(client: PanelClient, status: int) -> None:
    responses.add(responses.POST, URL, body="<html><body>Checking your browser...</body></html>", status=status, content_type="text/html")
    with pytest.raises(PanelBadResponse):
        client.add(service=1, link="https://x.example", quantity=10)


@responses.activate
def test_http_429_without_json_is_safe_to_retry(client: PanelClient) -> None:
    responses.add(responses.POST, URL, body="Too Many Requests", status=429)
    with pytest.raises(PanelRateLimited):
        client.balance()


@responses.activate
def test_add_reply_without_an_order_id_is_an_unknown_outcome(client: PanelClient) -> None:
    reply({"status": "ok"})
    with pytest.raises(PanelBadResponse):
        client.add(service=1, link="https://x.example", quantity=10)


@responses.activate
def test_services_keyed_by_id_and_unreadable_entries_skipped(client: PanelClient) -> None:
    good = {"service": 1, "name": "F", "type": "Default", "category": "C", "rate": "0,5", "min": 10, "max": "20"}
    reply({"1": good, "2": {"service": 2, "name": "Broken", "rate": "abc", "min": "1", "max": "2"}})
    listing = client.services()
    assert [info.service_id for info in listing.services] == ["1"]
    assert listing.services[0].rate == Decimal("0.5")
    assert len(listing.skipped) == 1 and "number" in listing.skipped[0].reason


@responses.activate
def test_single_shape_answer_to_a_one_id_multi_status(client: PanelClient) -> None:
    reply(STATUS)
    assert client.status_many(["77"])["77"].status is UpstreamStatus.PENDING


@responses.activate
def test_refill_cancel_and_refill_status_forms(client: PanelClient) -> None:
    reply({"refill": "1"})
    reply([{"order": 1, "refill": 1}, {"order": 3, "refill": {"error": "Incorrect order ID"}}])
    reply({"status": "Completed"})
    reply([{"refill": 1, "status": "Completed"}, {"refill": 3, "status": {"error": "Refill not found"}}])
    reply([{"order": 2, "cancel": 1}, {"order": 3, "cancel": {"error": "Incorrect order ID"}}])
    assert client.refill(5) == "1"
    assert client.refill_many([1, 3]) == [RefillResult("1", refill_id="1"), RefillResult("3", error="Incorrect order ID")]
    assert client.refill_status(1) == "Completed"
    assert client.refill_status_many([1, 3]) == [RefillStatus("1", status="Completed"), RefillStatus("3", error="Refill not found")]
    assert client.cancel([2, 3]) == [CancelResult("2", accepted=True), CancelResult("3", accepted=False, error="Incorrect order ID")]
    assert sent(0)["order"] == ["5"] and sent(1)["orders"] == ["1,3"] and sent(3)["refills"] == ["1,3"]


@responses.activate
def test_many_statuses_go_in_calls_of_at_most_100_ids(client: PanelClient) -> None:
    responses.add_callback(
        responses.POST,
        URL,
        callback=lambda request: (200, {}, json.dumps({i: STATUS for i in parse_qs(request.body)["orders"][0].split(",")})),
    )
    results = client.statuses(range(1, 251))
    assert len(results) == 250
    sizes = [len(sent(index)["orders"][0].split(",")) for index in range(len(responses.calls))]
    assert sizes == [100, 100, 50]


@responses.activate
def test_a_failed_batch_does_not_stop_the_others(client: PanelClient) -> None:
    reply({str(i): STATUS for i in range(1, 101)})
    reply("<html>502 Bad Gateway</html>", status=502)
    reply({str(i): STATUS for i in range(201, 251)})
    batches = list(client.iter_status_batches(range(1, 251)))
    assert [len(batch.results) for batch in batches] == [100, 0, 50]
    assert isinstance(batches[1].error, PanelBadResponse)


def test_more_than_100_ids_in_one_multi_call_is_refused_before_sending(client: PanelClient) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        client.status_many(range(101))
