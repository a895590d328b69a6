"""The sandbox panel, driven over real HTTP the way the shop's client drives it.

The panel clock is pinned (`clock=lambda: T0`) so only `advance()` moves
orders along; nothing here sleeps except the slow-fault tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from panelapi.sandbox import Fault, SandboxPanel, SandboxServer, build_catalogue
from panelapi.sandbox.catalogue import SandboxService

KEY = "sandbox-unit-key-81c2"
T0 = 1_700_000_000.0
STAGE = 10.0
START = Decimal("100")
ROOT = Path(__file__).resolve().parents[2]
LINK = "https://instagram.com/p/abc"

Api = Callable[..., Any]


def make_panel(**overrides: Any) -> SandboxPanel:
    options: dict[str, Any] = {"balance": START, "seed": 7, "stage_seconds": STAGE, "clock": lambda: T0}
    options.update(overrides)
    return SandboxPanel(KEY, **options)


def direct(panel: SandboxPanel, action: str, **params: str) -> Any:
    """Call the panel without HTTP (for tests about state, not transport)."""
    status, reply = panel.handle({"key": KEY, "action": action, **params})
    assert status == 200
    return json.loads(reply) if isinstance(reply, bytes) else reply


@pytest.fixture
def panel() -> SandboxPanel:
    return make_panel()


@pytest.fixture
def server(panel: SandboxPanel) -> Iterator[SandboxServer]:
    with SandboxServer(panel) as srv:
        yield srv


@pytest.fixture
def api(server: SandboxServer) -> Iterator[Api]:
    session = requests.Session()

    def call(action: str, **params: str) -> Any:
        response = session.post(server.url, data={"key": KEY, "action": action, **params}, timeout=5)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        return response.json()

    yield call
    session.close()


def place(api: Api, service: int = 1, quantity: int = 1000, link: str = LINK, **extra: str) -> int:
    reply = api("add", service=str(service), link=link, quantity=str(quantity), **extra)
    assert set(reply) == {"order"}, reply
    return reply["order"]


# -- transport, auth, services --------------------------------------------------


def test_wrong_or_missing_key_is_refused_and_counted(server: SandboxServer, panel: SandboxPanel) -> None:
    for data in ({"key": "nope", "action": "balance"}, {"action": "balance"}):
        response = requests.post(server.url, data=data, timeout=5)
        assert (response.status_code, response.json()) == (200, {"error": "Invalid API key"})
    assert panel.calls["balance"] == 2


def test_missing_or_unknown_action_is_an_incorrect_request(api: Api, panel: SandboxPanel) -> None:
    assert api("") == {"error": "Incorrect request"}
    assert api("launch") == {"error": "Incorrect request"}
    assert panel.calls["launch"] == 1


@pytest.mark.parametrize("path", ["/api/v2", "/api/v2/", "/api", "/api/"])
def test_every_api_path_answers(server: SandboxServer, path: str) -> None:
    response = requests.post(server.base_url + path, data={"key": KEY, "action": "balance"}, timeout=5)
    assert response.json() == {"balance": "100.00000", "currency": "USD"}


def test_json_bodies_and_get_query_strings_are_accepted(server: SandboxServer) -> None:
    by_json = requests.post(server.url, json={"key": KEY, "action": "add", "service": 1, "link": LINK, "quantity": 100}, timeout=5)
    assert by_json.json() == {"order": 10001}
    by_get = requests.get(server.url, params={"key": KEY, "action": "status", "order": "10001"}, timeout=5)
    assert by_get.json()["status"] == "Pending"
    assert requests.get(server.base_url + "/elsewhere", timeout=5).status_code == 404


def test_services_reply_has_the_upstream_shape(api: Api) -> None:
    services = api("services")
    assert len(services) == 26
    first = services[0]
    assert first == {
        "service": 1,
        "name": "Instagram Followers [Real, Refill 30D]",
        "type": "Default",
        "category": "Instagram Followers",
        "rate": "0.90",
        "min": "50",
        "max": "10000",
        "refill": True,
        "cancel": True,
        "dripfeed": False,
        "desc": "Start 0-1 h, 5-10K/day.",
    }
    for service in services:
        assert isinstance(service["service"], int)
        assert all(isinstance(service[k], str) for k in ("rate", "min", "max"))
    types = {s["type"] for s in services}
    assert types >= {
        "Default",
        "Custom Comments",
        "Custom Comments Package",
        "Package",
        "Mentions",
        "Mentions with Hashtags",
        "Mentions User Followers",
        "Poll",
        "Comment Likes",
        "Invites from Groups",
        "Subscriptions",
    }
    assert any(s["dripfeed"] for s in services) and any(s["cancel"] for s in services)


def test_catalogue_pads_deterministically_to_the_requested_size() -> None:
    big = build_catalogue(size=10_000, seed=3)
    ids = [s.service for s in big]
    assert len(big) == 10_000 and ids == sorted(set(ids))
    assert big == build_catalogue(size=10_000, seed=3)
    assert big != build_catalogue(size=10_000, seed=4)
    assert build_catalogue(size=5) == build_catalogue()[:5]


def test_ten_thousand_services_are_served_from_cached_bytes() -> None:
    panel = make_panel(catalogue_size=10_000)
    first = panel.handle({"key": KEY, "action": "services"})[1]
    assert isinstance(first, bytes) and panel.handle({"key": KEY, "action": "services"})[1] is first
    with SandboxServer(panel) as big:
        reply = requests.post(big.url, data={"key": KEY, "action": "services"}, timeout=5).json()
    assert len(reply) == 10_000 and reply[-1]["service"] == 10_000


def test_catalogue_changes_show_in_the_next_services_reply(api: Api, panel: SandboxPanel) -> None:
    order = place(api, service=2, quantity=100)
    panel.replace_service(1, rate=Decimal("1.20"), max=5000)
    panel.remove_service(2)
    panel.replace_service(SandboxService(999, "New", "Default", "Extra", Decimal("0.5"), 10, 100))
    by_id = {s["service"]: s for s in api("services")}
    assert (by_id[1]["rate"], by_id[1]["max"]) == ("1.20", "5000")
    assert 2 not in by_id and by_id[999]["rate"] == "0.5"
    assert api("add", service="2", link=LINK, quantity="100") == {"error": "Incorrect service ID"}
    assert api("status", order=str(order))["status"] == "Pending"  # old orders outlive their service
    panel.set_catalogue(build_catalogue()[:3])
    assert [s["service"] for s in api("services")] == [1, 2, 3]


# -- add --------------------------------------------------------------------------

ADD_OK = [
    ({"service": "1", "quantity": "1000"}, "0.90000", "1000"),
    ({"service": "4", "quantity": "10"}, "0.00013", "10"),  # 0.000125 rounds half up
    ({"service": "6"}, "2.10000", "1"),
    ({"service": "7", "comments": "great\r\nnice\n\n" + "\n".join(f"c{i}" for i in range(10))}, "0.09600", "12"),
    ({"service": "8", "comments": "one\ntwo"}, "3.50000", "1"),
    ({"service": "10", "quantity": "100", "usernames": "ann\nbob"}, "0.60000", "100"),
    ({"service": "11", "quantity": "100", "usernames": "ann", "hashtags": "#a"}, "0.72000", "100"),
    ({"service": "12", "quantity": "500", "username": "ann"}, "2.75000", "500"),
    ({"service": "23", "quantity": "100", "answer_number": "2"}, "0.19000", "100"),
    ({"service": "9", "quantity": "20", "username": "ann"}, "0.04800", "20"),
    ({"service": "22", "quantity": "100", "groups": "g1\ng2"}, "0.48000", "100"),
    ({"service": "3", "quantity": "100", "runs": "5", "interval": "10"}, "0.87500", "500"),
]


@pytest.mark.parametrize(("params", "charge", "remains"), ADD_OK)
def test_add_charges_rate_per_thousand_for_each_type(api: Api, params: dict[str, str], charge: str, remains: str) -> None:
    assert api("add", link=LINK, **params) == {"order": 10001}
    status = api("status", order="10001")
    assert status == {"charge": charge, "start_count": "0", "status": "Pending", "remains": remains, "currency": "USD"}
    assert api("balance")["balance"] == str(START - Decimal(charge))


ADD_ERRORS = [
    ({}, "Incorrect service ID"),
    ({"service": "abc", "quantity": "100"}, "Incorrect service ID"),
    ({"service": "99999", "quantity": "100"}, "Incorrect service ID"),
    ({"service": "1", "link": ""}, "Incorrect request"),
    ({"service": "1"}, "Incorrect request"),
    ({"service": "1", "quantity": "12.5"}, "Incorrect request"),
    ({"service": "1", "quantity": "lots"}, "Incorrect request"),
    ({"service": "1", "quantity": "100", "link": "instagram.com/p/abc"}, "Bad link"),
    ({"service": "1", "quantity": "100", "link": "ftp://host/x"}, "Bad link"),
    ({"service": "1", "quantity": "100", "link": "https://in sta.com"}, "Bad link"),
    ({"service": "1", "quantity": "10"}, "Quantity less than minimal 50"),
    ({"service": "1", "quantity": "20000"}, "Quantity more than maximum 10000"),
    ({"service": "2", "quantity": "100", "runs": "5", "interval": "10"}, "Drip-feed is not available for this service"),
    ({"service": "3", "quantity": "100", "runs": "0", "interval": "10"}, "Incorrect request"),
    ({"service": "3", "quantity": "100", "runs": "5"}, "Incorrect request"),
    ({"service": "6", "link": "nope"}, "Bad link"),
    ({"service": "7"}, "Incorrect request"),
    ({"service": "7", "comments": "a\nb\nc"}, "Quantity less than minimal 10"),
    ({"service": "8"}, "Incorrect request"),
    ({"service": "10", "quantity": "100"}, "Incorrect request"),
    ({"service": "11", "quantity": "100", "usernames": "ann"}, "Incorrect request"),
    ({"service": "12", "quantity": "500"}, "Incorrect request"),
    ({"service": "23", "quantity": "100"}, "Incorrect request"),
    ({"service": "23", "quantity": "100", "answer_number": "0"}, "Incorrect request"),
    ({"service": "9", "quantity": "20"}, "Incorrect request"),
    ({"service": "22", "quantity": "100"}, "Incorrect request"),
    ({"service": "14", "quantity": "10000000"}, "Not enough funds on balance"),
]


@pytest.mark.parametrize(("params", "error"), ADD_ERRORS)
def test_add_refuses_like_a_real_panel(api: Api, panel: SandboxPanel, params: dict[str, str], error: str) -> None:
    assert api("add", **{"link": LINK, **params}) == {"error": error}
    assert panel.order_count == 0 and panel.balance == START


def test_order_ids_increase_and_the_balance_is_debited(api: Api, panel: SandboxPanel) -> None:
    assert [place(api, quantity=1000) for _ in range(3)] == [10001, 10002, 10003]
    assert api("balance") == {"balance": "97.30000", "currency": "USD"}
    assert panel.balance == Decimal("97.3")


def test_duplicate_links_are_refused_only_while_active() -> None:
    panel = make_panel(reject_duplicate_links=True)
    assert direct(panel, "add", service="1", link=LINK, quantity="100") == {"order": 10001}
    duplicate = direct(panel, "add", service="1", link=LINK, quantity="100")
    assert duplicate == {"error": "You have active order with this link. Please wait until order being completed."}
    assert "order" in direct(panel, "add", service="1", link=LINK + "/other", quantity="100")
    panel.advance(3 * STAGE)
    assert direct(panel, "add", service="1", link=LINK, quantity="100") == {"order": 10003}


# -- status over time, refunds ----------------------------------------------------


def _status_all(api: Api, ids: list[int]) -> dict[int, dict[str, str]]:
    reply = api("status", orders=",".join(map(str, ids)))
    assert set(reply) == {str(i) for i in ids}
    return {int(k): v for k, v in reply.items()}


def test_orders_progress_and_refunds_settle_when_due(api: Api, panel: SandboxPanel) -> None:
    ids = [place(api, quantity=1000) for _ in range(40)]  # 0.90 each
    spent = Decimal("0.9") * 40
    assert all(s["status"] == "Pending" and s["start_count"] == "0" and s["remains"] == "1000" for s in _status_all(api, ids).values())

    panel.advance(STAGE + 1)
    early = _status_all(api, ids)
    assert {s["status"] for s in early.values()} <= {"In progress", "Canceled"}
    canceled = {i for i, s in early.items() if s["status"] == "Canceled"}
    assert all(early[i] == {**early[i], "charge": "0", "remains": "1000"} for i in canceled)
    assert Decimal(api("balance")["balance"]) == START - spent + Decimal("0.9") * len(canceled)

    panel.advance(STAGE)
    middle = _status_all(api, ids)
    for i in set(ids) - canceled:
        assert middle[i]["status"] == "In progress" and 0 <= int(middle[i]["remains"]) < 1000

    panel.advance(STAGE)
    final = _status_all(api, ids)
    outcomes = {s["status"] for s in final.values()}
    assert outcomes == {"Completed", "Partial", "Canceled"}
    net = Decimal(0)
    for i, s in final.items():
        remains = int(s["remains"])
        if s["status"] == "Completed":
            assert (s["charge"], remains) == ("0.90000", 0)
        elif s["status"] == "Partial":
            assert 50 <= remains <= 600
            expected = (Decimal("0.9") * (1000 - remains) / 1000).quantize(Decimal("0.00001"), ROUND_HALF_UP)
            assert s["charge"] == str(expected)
            assert int(middle[i]["remains"]) >= remains
        net += Decimal(s["charge"])
        assert s["start_count"] == "0" if s["status"] == "Canceled" else 0 <= int(s["start_count"]) <= 50_000
    assert api("balance")["balance"] == str((START - net).quantize(Decimal("0.00001")))


def test_packages_say_processing_while_running(api: Api, panel: SandboxPanel) -> None:
    ids = [int(api("add", service="6", link=LINK)["order"]) for _ in range(8)]
    panel.advance(STAGE * 2)
    statuses = {s["status"] for s in _status_all(api, ids).values()}
    assert "Processing" in statuses and "In progress" not in statuses


def test_status_errors(api: Api) -> None:
    place(api)
    assert api("status") == {"error": "Incorrect request"}
    assert api("status", order="424242") == {"error": "Incorrect order ID"}
    assert api("status", order="x") == {"error": "Incorrect order ID"}
    reply = api("status", orders="10001, 7,abc")
    assert reply["7"] == reply["abc"] == {"error": "Incorrect order ID"} and reply["10001"]["status"] == "Pending"
    assert api("status", orders=",".join(str(i) for i in range(101))) == {"error": "Incorrect request"}
    assert api("status", orders=" , ") == {"error": "Incorrect request"}


def test_same_seed_gives_the_same_outcomes_whatever_the_call_order() -> None:
    def run(seed: int, poll_between: bool) -> list[Any]:
        panel = make_panel(seed=seed, balance=Decimal("1000"))
        for _ in range(30):
            direct(panel, "add", service="1", link=LINK, quantity="1000")
            if poll_between:
                direct(panel, "status", order="10001")
        panel.advance(3 * STAGE)
        return [direct(panel, "status", order=str(10001 + i)) for i in range(30)]

    assert run(7, False) == run(7, True)
    assert run(7, False) != run(8, False)


# -- refill and cancel --------------------------------------------------------------


def test_refill_is_offered_only_for_finished_orders_of_refill_services(api: Api, panel: SandboxPanel) -> None:
    ids = [place(api, service=1, quantity=100) for _ in range(12)]
    no_refill = place(api, service=2, quantity=100)
    assert api("refill", order=str(ids[0])) == {"error": "Order not eligible for refill."}  # still pending
    panel.advance(3 * STAGE)
    final = _status_all(api, ids)
    done = [i for i in ids if final[i]["status"] in ("Completed", "Partial")]
    canceled = [i for i in ids if final[i]["status"] == "Canceled"]
    assert api("refill", order=str(done[0])) == {"refill": "1"}
    assert api("refill", order=str(no_refill)) == {"error": "Order not eligible for refill."}
    assert api("refill", order="555") == {"error": "Incorrect order ID"}
    assert api("refill") == {"error": "Incorrect request"}
    batch = api("refill", orders=f"{done[1]},555,{no_refill}")
    assert batch == [
        {"order": done[1], "refill": 2},
        {"order": 555, "refill": {"error": "Incorrect order ID"}},
        {"order": no_refill, "refill": {"error": "Order not eligible for refill."}},
    ]
    if canceled:
        assert api("refill", order=str(canceled[0])) == {"error": "Order not eligible for refill."}


def test_refill_status_moves_over_time(api: Api, panel: SandboxPanel) -> None:
    ids = [place(api, service=1, quantity=100) for _ in range(5)]
    panel.advance(3 * STAGE)
    finished = [i for i, s in _status_all(api, ids).items() if s["status"] != "Canceled"]
    refill = api("refill", order=str(finished[0]))["refill"]
    assert api("refill_status", refill=refill) == {"status": "Pending"}
    panel.advance(STAGE)
    assert api("refill_status", refill=refill) == {"status": "In progress"}
    panel.advance(2 * STAGE)
    assert api("refill_status", refill=refill) == {"status": "Completed"}
    assert api("refill_status", refill="77") == {"error": "Refill not found"}
    assert api("refill_status", refills=f"{refill},77") == [
        {"refill": 1, "status": "Completed"},
        {"refill": 77, "status": {"error": "Refill not found"}},
    ]
    assert api("refill_status") == {"error": "Incorrect request"}


def test_cancel_refunds_active_orders_of_cancellable_services(api: Api, panel: SandboxPanel) -> None:
    cancellable = place(api, service=1, quantity=1000)
    fixed = place(api, service=2, quantity=1000)  # service 2 has no cancel
    assert api("cancel", orders=f"{cancellable},{fixed},31337") == [
        {"order": cancellable, "cancel": 1},
        {"order": fixed, "cancel": {"error": "Order not eligible for cancel."}},
        {"order": 31337, "cancel": {"error": "Incorrect order ID"}},
    ]
    assert api("status", order=str(cancellable)) == {
        "charge": "0",
        "start_count": "0",
        "status": "Canceled",
        "remains": "1000",
        "currency": "USD",
    }
    assert panel.balance == START - Decimal("0.45")  # the canceled 0.90 came back at once
    assert api("cancel", orders=str(cancellable)) == [{"order": cancellable, "cancel": {"error": "Order not eligible for cancel."}}]
    panel.advance(3 * STAGE)
    assert api("status", order=str(cancellable))["status"] == "Canceled"
    assert api("cancel") == {"error": "Incorrect request"}
    later = place(api, service=1, quantity=1000)
    panel.advance(3 * STAGE)
    assert api("cancel", orders=str(later)) == [{"order": later, "cancel": {"error": "Order not eligible for cancel."}}]


def test_cancel_then_due_time_refunds_only_once() -> None:
    panel = make_panel()
    ids = [direct(panel, "add", service="1", link=LINK, quantity="1000")["order"] for _ in range(40)]
    direct(panel, "cancel", orders=",".join(map(str, ids)))
    assert panel.balance == START
    panel.advance(10 * STAGE)
    assert panel.balance == START


def test_concurrent_clients_get_unique_orders_and_a_consistent_balance(server: SandboxServer, panel: SandboxPanel) -> None:
    def client(_: int) -> list[int]:
        with requests.Session() as session:
            data = {"key": KEY, "action": "add", "service": "1", "link": LINK, "quantity": "100"}
            return [session.post(server.url, data=data, timeout=5).json()["order"] for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        ids = [order for batch in pool.map(client, range(8)) for order in batch]
    assert sorted(ids) == list(range(10001, 10201))
    assert panel.balance == START - Decimal("0.09") * 200


# -- persistence --------------------------------------------------------------------


def test_a_restarted_panel_replays_its_state(tmp_path: Path) -> None:
    state = tmp_path / "state" / "sandbox.jsonl"
    first = make_panel(state_path=state)
    ids = [direct(first, "add", service="1", link=LINK, quantity="1000")["order"] for _ in range(6)]
    direct(first, "cancel", orders=str(ids[0]))
    first.advance(3 * STAGE)
    finished = [i for i in ids[1:] if direct(first, "status", order=str(i))["status"] != "Canceled"]
    refill = direct(first, "refill", order=str(finished[0]))["refill"]
    snapshot = [direct(first, "status", order=str(i)) for i in ids]

    second = make_panel(state_path=state, balance=Decimal("5"), seed=99)  # the log wins over both
    assert [direct(second, "status", order=str(i)) for i in ids] == snapshot
    assert second.balance == first.balance
    assert direct(second, "refill_status", refill=refill) == {"status": "Pending"}
    assert direct(second, "add", service="1", link=LINK, quantity="100") == {"order": ids[-1] + 1}
    assert direct(second, "refill", order=str(finished[0])) == {"refill": str(int(refill) + 1)}

    with state.open("a") as handle:
        handle.write('{"ev": "add", "id": 9')  # a crash mid-write
    third = make_panel(state_path=state)
    assert third.order_count == 7 and third.balance == second.balance
    direct(third, "add", service="1", link=LINK, quantity="100")
    assert make_panel(state_path=state).order_count == 8


def test_without_a_state_path_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    panel = make_panel()
    direct(panel, "add", service="1", link=LINK, quantity="100")
    assert list(tmp_path.iterdir()) == []


# -- faults -------------------------------------------------------------------------


def _add(server: SandboxServer, timeout: float = 5) -> requests.Response:
    data = {"key": KEY, "action": "add", "service": "1", "link": LINK, "quantity": "100"}
    return requests.post(server.url, data=data, timeout=timeout)


def test_slow_fault_times_out_the_client_but_the_order_exists(server: SandboxServer, panel: SandboxPanel) -> None:
    panel.add_fault(Fault("slow", action="add", delay=0.3))
    with pytest.raises(requests.ReadTimeout):
        _add(server, timeout=0.1)
    assert panel.order_count == 1
    assert direct(panel, "status", order="10001")["status"] == "Pending"
    assert _add(server).json() == {"order": 10002}  # one use only


def test_unprocessed_slow_fault_applies_after_the_delay(server: SandboxServer, panel: SandboxPanel) -> None:
    panel.add_fault(Fault("slow", delay=0.2, process=False))
    with pytest.raises(requests.ReadTimeout):
        _add(server, timeout=0.05)
    assert panel.order_count == 0
    deadline = time.monotonic() + 2
    while panel.order_count == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert panel.order_count == 1


@pytest.mark.parametrize(("process", "orders"), [(None, 1), (False, 0)])
def test_drop_fault_closes_the_connection_without_a_reply(
    server: SandboxServer, panel: SandboxPanel, process: bool | None, orders: int
) -> None:
    panel.add_fault(Fault("drop", process=process))
    with pytest.raises(requests.ConnectionError):
        _add(server)
    assert panel.order_count == orders
    assert panel.calls["add"] == 1


def test_error500_fault_is_an_html_server_error(server: SandboxServer, panel: SandboxPanel) -> None:
    panel.add_fault(Fault("error500"))
    response = _add(server)
    assert response.status_code == 500 and "text/html" in response.headers["Content-Type"]
    assert "Internal Server Error" in response.text
    assert panel.order_count == 0 and panel.calls["add"] == 1


@pytest.mark.parametrize("status", [502, 200])
def test_html_fault_is_a_cloudflare_page(server: SandboxServer, panel: SandboxPanel, status: int) -> None:
    panel.add_fault(Fault("html", status=status))
    response = _add(server)
    assert response.status_code == status and "text/html" in response.headers["Content-Type"]
    assert "cloudflare" in response.text.lower()
    with pytest.raises(requests.JSONDecodeError):
        response.json()


@pytest.mark.parametrize(("process", "orders"), [(None, 0), (True, 1)])
def test_malformed_fault_is_truncated_json(server: SandboxServer, panel: SandboxPanel, process: bool | None, orders: int) -> None:
    panel.add_fault(Fault("malformed", process=process))
    response = _add(server)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.text.startswith('{"order')
    with pytest.raises(requests.JSONDecodeError):
        response.json()
    assert panel.order_count == orders


def test_huge_fault_streams_the_promised_size(server: SandboxServer, panel: SandboxPanel) -> None:
    panel.add_fault(Fault("huge", size=1_000_000, times=2))
    data = {"key": KEY, "action": "services"}
    with requests.post(server.url, data=data, timeout=5, stream=True) as response:
        assert response.status_code == 200 and int(response.headers["Content-Length"]) == 1_000_000
        assert sum(len(chunk) for chunk in response.iter_content(65536)) == 1_000_000
    with requests.post(server.url, data=data, timeout=5, stream=True) as response:
        assert next(response.iter_content(1024)).startswith(b'[{"service"')  # then hang up early
    assert isinstance(requests.post(server.url, data=data, timeout=5).json(), list)


@pytest.mark.parametrize(("body", "text"), [([{"order": 1}], '[{"order":1}]'), ({"orders": None}, '{"orders":null}'), ("{oops", "{oops")])
def test_reply_fault_sends_the_given_body_after_processing(server: SandboxServer, panel: SandboxPanel, body: object, text: str) -> None:
    panel.add_fault(Fault("reply", action="add", body=body))
    response = _add(server)
    assert (response.status_code, response.headers["Content-Type"], response.text) == (200, "application/json", text)
    assert panel.order_count == 1  # the panel did the work, then answered in the wrong shape
    assert _add(server).json() == {"order": 10002}


def test_reply_fault_needs_a_body_and_is_set_over_http(server: SandboxServer, panel: SandboxPanel) -> None:
    with pytest.raises(ValueError, match="body"):
        Fault("reply")
    with pytest.raises(ValueError, match="body"):
        Fault("html", body={"x": 1})
    control = requests.post(server.base_url + "/_sandbox/faults", json={"kind": "reply", "action": "balance", "body": ["1"]}, timeout=5)
    assert control.json() == {"ok": True}
    assert requests.post(server.url, data={"key": KEY, "action": "balance"}, timeout=5).json() == ["1"]


def test_faults_match_actions_and_last_until_cleared(server: SandboxServer, panel: SandboxPanel) -> None:
    panel.add_fault(Fault("error500", action="add", times=0))
    balance = requests.post(server.url, data={"key": KEY, "action": "balance"}, timeout=5)
    assert balance.status_code == 200
    assert [_add(server).status_code for _ in range(3)] == [500, 500, 500]
    panel.clear_faults()
    assert _add(server).json() == {"order": 10001}
    assert panel.next_fault("add") is None


def test_bad_faults_are_rejected() -> None:
    with pytest.raises(ValueError):
        Fault("explode")
    with pytest.raises(ValueError):
        Fault.from_dict({"kind": "slow", "sleep": 1})
    assert Fault("drop").processes and not Fault("html").processes and Fault("html", process=True).processes


# -- control endpoints and the command line -----------------------------------------


def test_control_endpoints(server: SandboxServer, panel: SandboxPanel) -> None:
    control = server.base_url + "/_sandbox"
    assert requests.post(control + "/faults", json={"kind": "html", "status": 503, "action": "balance"}, timeout=5).json() == {"ok": True}
    assert requests.post(server.url, data={"key": KEY, "action": "balance"}, timeout=5).status_code == 503
    requests.post(control + "/faults", json={"kind": "error500", "times": 0}, timeout=5)
    assert requests.post(control + "/faults/clear", timeout=5).json() == {"ok": True}
    assert _add(server).json() == {"order": 10001}
    assert requests.post(control + "/advance", json={"seconds": 3 * STAGE}, timeout=5).json() == {"ok": True}
    assert direct(panel, "status", order="10001")["status"] in ("Completed", "Partial", "Canceled")
    stats = requests.get(control + "/stats", timeout=5).json()
    assert stats["calls"] == {"balance": 1, "add": 1, "status": 1} and stats["orders"] == 1
    assert stats["balance"] == str(panel.balance)
    assert requests.post(control + "/faults", json={"kind": "nope"}, timeout=5).status_code == 400
    assert requests.post(control + "/advance", json={"seconds": -1}, timeout=5).status_code == 400
    assert requests.post(control + "/advance", data="not json", timeout=5).status_code == 400
    assert requests.post(control + "/unknown", json={}, timeout=5).status_code == 404


def test_command_line_serves_until_sigterm_without_printing_the_key(tmp_path: Path) -> None:
    env = {**os.environ, "SANDBOX_API_KEY": KEY, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "panelapi.sandbox", "--port", "0", "--services", "40", "--balance", "12.5"]
    command += ["--state", str(tmp_path / "s.jsonl")]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split()[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v2")
        assert requests.get(url, params={"key": KEY, "action": "balance"}, timeout=5).json()["balance"] == "12.50000"
        assert len(requests.post(url, data={"key": KEY, "action": "services"}, timeout=5).json()) == 40
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert KEY not in line + out + err and err == ""


# -- subscriptions ------------------------------------------------------------------

SUB = "26"  # Instagram Auto Likes (subscription): 0.50 per 1000, min 50, max 5000, cancel
EXPIRY = "16/11/2023"  # T0 is 14/11/2023 22:13:20 UTC: this expires 92,800 s later, at 00:00 UTC


def subscribe(panel: SandboxPanel, **fields: str) -> Any:
    return direct(panel, "add", service=SUB, **{"username": "shop.owner", "min": "100", "max": "200", "posts": "3", **fields})


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"username": ""}, "Incorrect request"),
        ({"min": ""}, "Incorrect request"),
        ({"max": "lots"}, "Incorrect request"),
        ({"min": "49"}, "Quantity less than minimal 50"),
        ({"max": "5001"}, "Quantity more than maximum 5000"),
        ({"min": "201"}, "Min quantity more than max quantity"),
        ({"posts": ""}, "Incorrect request"),
        ({"posts": "0"}, "Incorrect posts count"),
        ({"posts": "9000", "old_posts": "1001"}, "Incorrect posts count"),
        ({"old_posts": "-1"}, "Incorrect request"),
        ({"delay": "7"}, "Incorrect delay"),
        ({"expiry": "14/11/2023"}, "Incorrect expiry date"),
        ({"expiry": "31/02/2030"}, "Incorrect expiry date"),
        ({"expiry": "2030-01-01"}, "Incorrect expiry date"),
    ],
)
def test_a_subscription_add_is_validated_like_a_real_panel(panel: SandboxPanel, fields: dict[str, str], error: str) -> None:
    assert subscribe(panel, **fields) == {"error": error}
    assert (panel.order_count, panel.balance) == (0, START)


def test_a_subscription_is_charged_its_most_and_gets_back_what_its_posts_did_not_use(api: Api, panel: SandboxPanel) -> None:
    reply = api("add", service=SUB, username="@shop.owner", min="100", max="200", posts="3", old_posts="1", delay="30", link="ignored")
    order = str(reply["order"])
    assert panel.balance == START - Decimal("0.4")  # 0.50 x 200 x (3 + 1) / 1000
    assert api("status", order=order) == {"status": "Active", "posts": "0", "orders": []}
    panel.advance(2.5 * STAGE)
    first = reply["order"] * 10_000
    assert api("status", orders=order) == {order: {"status": "Active", "posts": "2", "orders": [first + 1, first + 2]}}
    assert panel.balance == START - Decimal("0.4")  # nothing back while it runs
    panel.advance(1.5 * STAGE)
    final = api("status", order=order)
    assert (final["status"], final["posts"], "charge" in final, "remains" in final) == ("Completed", "4", False, False)
    used = START - panel.balance
    assert Decimal("0.2") <= used <= Decimal("0.4")  # 100 to 200 a post
    assert api("cancel", orders=order) == [{"order": int(order), "cancel": {"error": "Order not eligible for cancel."}}]
    assert api("refill", order=order) == {"error": "Order not eligible for refill."}
    panel.advance(10 * STAGE)
    assert START - panel.balance == used


def test_a_subscription_expires_on_its_date_with_the_posts_served_by_then() -> None:
    panel = make_panel(stage_seconds=100.0)
    order = str(subscribe(panel, min="50", max="50", posts="1000", expiry=EXPIRY)["order"])
    assert panel.balance == START - Decimal("25")
    panel.advance(92_799)
    assert direct(panel, "status", order=order)["status"] == "Active"
    panel.advance(1)
    reply = direct(panel, "status", order=order)
    assert (reply["status"], reply["posts"]) == ("Expired", "928")
    assert panel.balance == START - Decimal("23.2")  # 928 posts x 50 x 0.50 / 1000


def test_a_canceled_subscription_keeps_its_posts_and_is_refunded_the_rest_once(panel: SandboxPanel) -> None:
    order = str(subscribe(panel, min="200")["order"])  # exactly 200 a post: 0.10 each
    panel.advance(2 * STAGE)
    assert direct(panel, "cancel", orders=order) == [{"order": int(order), "cancel": 1}]
    assert panel.balance == START - Decimal("0.2")
    panel.advance(20 * STAGE)
    reply = direct(panel, "status", order=order)
    assert (reply["status"], reply["posts"], panel.balance) == ("Canceled", "2", START - Decimal("0.2"))


def test_a_subscription_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.jsonl"
    first = make_panel(state_path=state)
    order = str(subscribe(first)["order"])
    first.advance(STAGE)
    second = make_panel(state_path=state)
    assert direct(second, "status", order=order) == direct(first, "status", order=order)
    second.advance(5 * STAGE)
    first.advance(5 * STAGE)
    assert (second.balance, direct(second, "status", order=order)) == (first.balance, direct(first, "status", order=order))
