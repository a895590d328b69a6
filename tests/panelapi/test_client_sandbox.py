"""The client against the sandbox panel over real HTTP on loopback: no mocks."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest

from panelapi.client import CallRecord, PanelClient
from panelapi.exceptions import (
    PanelBadResponse,
    PanelMisconfigured,
    PanelOutcomeUnknown,
    PanelRefused,
    PanelTimeout,
    PanelUnreachable,
)
from panelapi.sandbox import Fault, SandboxServer
from panelapi.types import ItemError, UpstreamStatus
from tests.conftest import SANDBOX_KEY

LINK = "https://instagram.com/p/abc123"


@pytest.fixture
def records() -> list[CallRecord]:
    return []


@pytest.fixture
def client(sandbox: SandboxServer, records: list[CallRecord]) -> Iterator[PanelClient]:
    client = PanelClient(sandbox.url, SANDBOX_KEY, connect_timeout=1, read_timeout=1, on_call=records.append)
    yield client
    client.close()


def test_services_match_the_sandbox_catalogue(client: PanelClient, sandbox: SandboxServer) -> None:
    listing = client.services()
    assert listing.skipped == ()
    assert [(s.service_id, s.rate, s.min, s.max, s.refill, s.cancel, s.dripfeed) for s in listing.services] == [
        (str(s.service), s.rate, s.min, s.max, s.refill, s.cancel, s.dripfeed) for s in sandbox.panel.services
    ]
    assert {s.type for s in listing.services} >= {"Default", "Custom Comments", "Package", "Mentions", "Poll", "Comment Likes"}


def test_add_draws_the_balance_down_and_status_follows_the_order(client: PanelClient, sandbox: SandboxServer) -> None:
    before = client.balance().amount
    order = client.add(service=1, link=LINK, quantity=1000)  # rate 0.90 per 1000
    assert client.balance().amount == before - Decimal("0.90")

    status = client.status(order.order_id)
    assert (status.status, status.charge, status.remains, status.currency) == (UpstreamStatus.PENDING, Decimal("0.9"), 1000, "USD")
    sandbox.panel.advance(60)
    assert client.status(order.order_id).status in {UpstreamStatus.COMPLETED, UpstreamStatus.PARTIAL, UpstreamStatus.CANCELED}


@pytest.mark.parametrize(
    ("fields", "charge"),
    [
        ({"service": 7, "link": LINK, "comments": "\r\n".join(f"Comment {i}" for i in range(10))}, Decimal("0.08")),  # 10 lines
        ({"service": 6, "link": LINK}, Decimal("2.10")),  # Package: the rate is the price
        ({"service": 10, "link": LINK, "quantity": 100, "usernames": "alice\nbob"}, Decimal("0.6")),  # Mentions
        ({"service": 23, "link": LINK, "quantity": 100, "answer_number": 2}, Decimal("0.19")),  # Poll
        ({"service": 9, "link": LINK, "quantity": 100, "username": "owner"}, Decimal("0.24")),  # Comment Likes
        ({"service": 3, "link": LINK, "quantity": 100, "runs": 3, "interval": 30}, Decimal("0.525")),  # drip-feed
    ],
)
def test_add_for_each_service_type(client: PanelClient, fields: dict[str, object], charge: Decimal) -> None:
    before = client.balance().amount
    client.add(**fields)
    assert before - client.balance().amount == charge


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"service": 999999, "link": LINK, "quantity": 100}, "Incorrect service ID"),
        ({"service": 1, "link": LINK, "quantity": 10}, "Quantity less than minimal 50"),
        ({"service": 1, "link": LINK, "quantity": 10001}, "Quantity more than maximum 10000"),
        ({"service": 1, "link": "javascript:alert(1)", "quantity": 100}, "Bad link"),
        ({"service": 7, "link": LINK, "comments": "one\ntwo"}, "Quantity less than minimal 10"),
        ({"service": 14, "link": LINK, "quantity": 10_000_000}, "Not enough funds on balance"),
    ],
)
def test_sandbox_validation_reaches_the_caller_as_a_refusal(client: PanelClient, fields: dict[str, object], message: str) -> None:
    with pytest.raises(PanelRefused) as caught:
        client.add(**fields)
    assert caught.value.message == message


def test_wrong_key_is_refused(sandbox: SandboxServer) -> None:
    with pytest.raises(PanelRefused, match="Invalid API key"):
        PanelClient(sandbox.url, "not-the-key", connect_timeout=1, read_timeout=1).balance()


def test_multi_status_with_an_unknown_id(client: PanelClient) -> None:
    first = client.add(service=1, link=LINK, quantity=100).order_id
    second = client.add(service=2, link=LINK, quantity=100).order_id
    results = client.status_many([first, second, "424242"])
    assert results[first].status is UpstreamStatus.PENDING
    assert results[second].status is UpstreamStatus.PENDING
    assert results["424242"] == ItemError("Incorrect order ID")


def test_250_orders_take_three_status_calls(client: PanelClient, sandbox: SandboxServer) -> None:
    ids = [client.add(service=4, link=LINK, quantity=10).order_id for _ in range(250)]
    calls_before = sandbox.panel.calls["status"]
    results = client.statuses(ids)
    assert len(results) == 250
    assert sandbox.panel.calls["status"] - calls_before == 3


def test_refill_refill_status_and_cancel(client: PanelClient, sandbox: SandboxServer) -> None:
    refillable = client.add(service=1, link=LINK, quantity=100).order_id
    cancellable = client.add(service=17, link=LINK, quantity=100).order_id
    cancel = client.cancel([cancellable, "424242"])
    assert [(c.order_id, c.accepted, c.error) for c in cancel] == [(cancellable, True, None), ("424242", False, "Incorrect order ID")]
    assert client.status(cancellable).status is UpstreamStatus.CANCELED

    sandbox.panel.advance(60)
    # The sandbox's seed makes this order end Completed or Partial, both refillable.
    assert client.status(refillable).status in {UpstreamStatus.COMPLETED, UpstreamStatus.PARTIAL}
    refill_id = client.refill(refillable)
    assert client.refill_status(refill_id) in {"Pending", "In progress", "Completed"}
    many = client.refill_status_many([refill_id, "999"])
    assert many[1].error == "Refill not found"


# Faults: each one the sandbox can inject maps onto the exception that tells the caller what to do.


def test_slow_reply_is_a_timeout_and_the_order_may_exist(client: PanelClient, sandbox: SandboxServer, records) -> None:
    sandbox.panel.add_fault(Fault(kind="slow", action="add", delay=2.0))
    orders_before = sandbox.panel.order_count
    with pytest.raises(PanelTimeout):
        client.add(service=1, link=LINK, quantity=100)
    assert sandbox.panel.order_count == orders_before + 1  # placed upstream all the same
    assert records[-1].outcome == "unknown"


@pytest.mark.parametrize(("kind", "error"), [("error500", PanelBadResponse), ("html", PanelBadResponse), ("malformed", PanelBadResponse)])
def test_broken_replies_are_unknown_outcomes(client: PanelClient, sandbox: SandboxServer, kind: str, error: type) -> None:
    sandbox.panel.add_fault(Fault(kind=kind, action="add"))
    with pytest.raises(error) as caught:
        client.add(service=1, link=LINK, quantity=100)
    assert isinstance(caught.value, PanelOutcomeUnknown)


def test_dropped_connection_is_an_unknown_outcome_not_unreachable(client: PanelClient, sandbox: SandboxServer) -> None:
    sandbox.panel.add_fault(Fault(kind="drop", action="add"))
    with pytest.raises(PanelOutcomeUnknown) as caught:
        client.add(service=1, link=LINK, quantity=100)
    assert not isinstance(caught.value, PanelUnreachable)


def test_huge_reply_is_cut_off(sandbox: SandboxServer) -> None:
    sandbox.panel.add_fault(Fault(kind="huge", action="services", size=5_000_000))
    client = PanelClient(sandbox.url, SANDBOX_KEY, connect_timeout=1, read_timeout=5, max_response_bytes=1_000_000)
    with pytest.raises(PanelBadResponse, match="larger than 1000000 bytes"):
        client.services()


def test_refused_connection_is_unreachable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PanelUnreachable, match="could not connect"):
        PanelClient(f"http://127.0.0.1:{port}/api/v2", "k", connect_timeout=1, read_timeout=1).balance()


def test_unknown_host_is_unreachable() -> None:
    with pytest.raises(PanelUnreachable):
        PanelClient("http://no-such-panel.invalid/api/v2", "k", connect_timeout=1, read_timeout=1).balance()


def test_connect_timeout_is_unreachable() -> None:
    # A listener that never accepts, with its backlog already full: the kernel
    # drops further SYNs, so connecting times out without reaching any server.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
            fillers.append(filler)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/v2"
        with pytest.raises(PanelUnreachable, match="timed out"):
            PanelClient(url, "k", connect_timeout=0.5, read_timeout=1).balance()
    finally:
        for sock in [*fillers, listener]:
            sock.close()


@pytest.mark.parametrize("url", ["ftp://panel.example/api", "panel.example/api/v2", "", "http:///api"])
def test_non_http_url_is_misconfigured_and_nothing_is_sent(url: str, records: list[CallRecord]) -> None:
    with pytest.raises(PanelMisconfigured, match="http"):
        PanelClient(url, "k", connect_timeout=1, read_timeout=1, on_call=records.append).balance()
    assert records[-1].outcome == "misconfigured" and records[-1].http_status is None


def test_audit_records_never_carry_the_key(client: PanelClient, sandbox: SandboxServer, records: list[CallRecord]) -> None:
    client.add(service=1, link=LINK, quantity=100)
    sandbox.panel.add_fault(Fault(kind="html", action="balance"))
    with pytest.raises(PanelBadResponse):
        client.balance()
    assert [r.outcome for r in records] == ["ok", "unknown"]
    assert all(SANDBOX_KEY not in repr(record) for record in records)
    assert "key" not in records[0].params
