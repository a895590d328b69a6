"""The client against a hostile panel, action by action, over real HTTP to the sandbox.

Every action (services, add, status of one by ``order=``, status of many by ``orders=``, balance) meets
every transport fault and raises the exception that tells its caller what it may do next, with one
audit record whose outcome says the same. Wrong shapes (a list or scalar where an object belongs,
missing fields, ids never asked for, numbers no panel could mean) become ``PanelBadResponse`` for the
whole reply, or an ``ItemError`` for the one order they concern, never a crash. The shop-level
outcomes of the same matrix are in tests/orders/test_hostile_upstream.py.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from panelapi.client import CallRecord, PanelClient
from panelapi.exceptions import PanelBadResponse, PanelError, PanelOutcomeUnknown, PanelTimeout, PanelUnreachable
from panelapi.sandbox import Fault, SandboxServer
from panelapi.types import ItemError, UpstreamStatus
from tests.conftest import SANDBOX_KEY

LINK = "https://instagram.com/p/hostile"
LIMIT = 100_000

CALLS: dict[str, tuple[str, Callable[[PanelClient], Any]]] = {
    "services": ("services", lambda client: client.services()),
    "add": ("add", lambda client: client.add(service=1, link=LINK, quantity=100)),
    "status-one": ("status", lambda client: client.status("10001")),
    "status-many": ("status", lambda client: client.status_many(["10001", "10002"])),
    "balance": ("balance", lambda client: client.balance()),
}
FAULTS: dict[str, tuple[Fault | None, type[PanelError], str]] = {
    "timeout": (Fault("slow", delay=1.0), PanelTimeout, "did not answer in time"),
    "refused-connection": (None, PanelUnreachable, "could not connect"),
    "http-500": (Fault("error500"), PanelBadResponse, "HTTP 500"),
    "html-page": (Fault("html", status=200), PanelBadResponse, "the panel sent an HTML page"),
    "malformed-json": (Fault("malformed"), PanelBadResponse, "not JSON"),
    "dropped-connection": (Fault("drop"), PanelOutcomeUnknown, "broke"),
    "huge-body": (Fault("huge", size=10 * LIMIT), PanelBadResponse, f"larger than {LIMIT} bytes"),
}


@pytest.fixture
def records() -> list[CallRecord]:
    return []


def client_for(url: str, records: list[CallRecord]) -> PanelClient:
    return PanelClient(url, SANDBOX_KEY, connect_timeout=0.5, read_timeout=0.3, max_response_bytes=LIMIT, on_call=records.append)


@pytest.fixture
def client(sandbox: SandboxServer, records: list[CallRecord]) -> Iterator[PanelClient]:
    client = client_for(sandbox.url, records)
    yield client
    client.close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v2"


@pytest.mark.parametrize("fault", FAULTS, ids=lambda name: f"x-{name}")
@pytest.mark.parametrize("call", CALLS, ids=lambda name: name)
def test_each_action_maps_each_transport_fault_onto_what_the_caller_may_do(
    call: str, fault: str, sandbox: SandboxServer, records: list[CallRecord]
) -> None:
    action, make = CALLS[call]
    played, expected, phrase = FAULTS[fault]
    if played is None:
        client = client_for(closed_port_url(), records)
    else:
        sandbox.panel.add_fault(Fault(**{**played.to_dict(), "action": action}))
        client = client_for(sandbox.url, records)

    with pytest.raises(expected) as caught:
        make(client)
    client.close()

    assert phrase in caught.value.message and caught.value.message.startswith(f"{action}: ")
    if expected is PanelOutcomeUnknown:
        assert not isinstance(caught.value, PanelUnreachable)  # a dropped reply may follow a processed request
    (record,) = records
    assert (record.action, record.error) == (action, caught.value.message)
    assert record.outcome == ("unreachable" if expected is PanelUnreachable else "unknown")
    assert SANDBOX_KEY not in repr(record)


@pytest.mark.parametrize(
    ("call", "body", "message"),
    [
        ("services", {"status": "maintenance"}, "services: unexpected reply shape (expected a list of services, got dict)"),
        ("add", [{"order": 10001}], "add: unexpected reply shape (no order id in the reply)"),
        ("add", 10001, "add: unexpected reply shape (no order id in the reply)"),
        ("status-one", [{"status": "Completed"}], "status: unexpected reply shape (status entry is not an object)"),
        ("status-one", {"charge": "1"}, "status: unexpected reply shape (missing status)"),
        ("status-one", {"status": "Partial", "remains": "1e30"}, "status: unexpected reply shape (number out of range: 1.000e+30)"),
        ("status-many", 7, "status: unexpected reply shape (expected an object keyed by order id, got int)"),
        ("balance", [{"balance": "5"}], "balance: unexpected reply shape (balance reply is not an object)"),
        ("balance", {"currency": "USD"}, "balance: unexpected reply shape (no balance in the reply)"),
        ("balance", {"balance": "1e30"}, "balance: unexpected reply shape (amount out of range: 1.000e+30)"),
    ],
)
def test_a_wrong_shape_is_a_bad_response_with_a_readable_reason(
    call: str, body: object, message: str, client: PanelClient, sandbox: SandboxServer, records: list[CallRecord]
) -> None:
    action, make = CALLS[call]
    sandbox.panel.add_fault(Fault("reply", action=action, body=body))
    with pytest.raises(PanelBadResponse) as caught:
        make(client)
    assert caught.value.message == message
    assert (records[-1].outcome, records[-1].error) == ("unknown", message)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param([{"status": "Canceled"}], {}, id="list-without-ids"),
        pytest.param({"99999999": {"status": "Canceled"}}, {}, id="ids-never-asked-for"),
        pytest.param({"order": "99999999", "status": "Canceled"}, {}, id="single-shape-naming-another-order"),
        pytest.param({"order": "10001", "status": "Canceled"}, {"10001": UpstreamStatus.CANCELED}, id="single-shape-naming-this-order"),
        pytest.param({"10001": {"charge": "1"}}, {"10001": ItemError("unreadable status: missing status")}, id="missing-status"),
        pytest.param(
            {"10001": {"status": "Partial", "start_count": "1e19"}},
            {"10001": ItemError("unreadable status: number out of range: 1.000e+19")},
            id="count-beyond-64-bits",
        ),
        pytest.param(
            {"10001": {"status": "Partial", "charge": "1e15"}},
            {"10001": ItemError("unreadable status: amount out of range: 1.000e+15")},
            id="cost-beyond-any-panel",
        ),
    ],
)
def test_a_one_id_multi_status_keeps_only_readable_answers_about_the_asked_id(
    body: object, expected: dict[str, object], client: PanelClient, sandbox: SandboxServer
) -> None:
    sandbox.panel.add_fault(Fault("reply", action="status", body=body))
    results = client.status_many(["10001"])
    assert {key: value.status if hasattr(value, "status") else value for key, value in results.items()} == expected


def test_unreadable_services_say_which_service_they_were_when_they_can(client: PanelClient, sandbox: SandboxServer) -> None:
    good = sandbox.panel.services[0].to_api()
    body = [good, dict(good, service=2, rate="lots"), {"name": "no id", "rate": "1"}, "junk"]
    sandbox.panel.add_fault(Fault("reply", action="services", body=body))
    listing = client.services()
    assert [info.service_id for info in listing.services] == [str(good["service"])]
    assert [(item.position, item.service_id) for item in listing.skipped] == [(1, "2"), (2, ""), (3, "")]
    assert listing.skipped[0].reason == "not a number: 'lots'"
