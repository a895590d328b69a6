"""Every example reply of the upstream's own document, read by the client.

The document (a copy of shared/upstream-api.txt) is parsed here, not retyped,
so the test follows the contract text itself, trailing commas included.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import responses

from panelapi.client import PanelClient
from panelapi.exceptions import PanelRefused
from panelapi.types import ItemError, UpstreamStatus

DOC = Path(__file__).parent / "fixtures" / "upstream-api.txt"
URL = "https://panel.example/api/v2"


def example_blocks() -> dict[str, dict[str, str]]:
    """Section title -> {"Success": json text, "Failed": json text}, read from the document."""
    sections: dict[str, dict[str, str]] = {}
    lines = DOC.read_text().splitlines()
    title, kind, depth, buffer = "", "", 0, []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if depth == 0:
            if stripped in {"Success", "Failed"}:
                kind = stripped
            elif stripped and stripped[0] in "[{":
                buffer = []
            elif stripped and not stripped.startswith("|") and index + 1 < len(lines) and lines[index + 1].startswith("|"):
                title = stripped
            else:
                continue
        if stripped and (depth > 0 or stripped[0] in "[{"):
            buffer.append(line)
            depth += stripped.count("{") + stripped.count("[") - stripped.count("}") - stripped.count("]")
            if depth == 0:
                sections.setdefault(title, {})[kind] = "\n".join(buffer)
    return sections


EXAMPLES = example_blocks()


@pytest.fixture
def client() -> PanelClient:
    return PanelClient(URL, "doc-key", connect_timeout=1, read_timeout=1)


def reply_with(body: str) -> None:
    responses.add(responses.POST, URL, body=body, status=200, content_type="application/json")


def test_document_has_every_section() -> None:
    assert set(EXAMPLES) == {"Service List", "Add Order", "Order Status", "Multiple Orders Status", "User Balance"}
    assert all(set(blocks) == {"Success", "Failed"} for blocks in EXAMPLES.values())


@responses.activate
def test_service_list_example(client: PanelClient) -> None:
    reply_with(EXAMPLES["Service List"]["Success"])
    listing = client.services()
    assert listing.skipped == ()
    first, second = listing.services
    assert (first.service_id, first.name, first.type, first.category) == ("1", "Followers", "Default", "First Category")
    assert (first.rate, first.min, first.max) == (Decimal("0.90"), 50, 10000)
    assert (second.service_id, second.type, second.rate, second.min, second.max) == ("2", "Custom Comments", Decimal("8"), 10, 1500)


@responses.activate
def test_add_order_example(client: PanelClient) -> None:
    reply_with(EXAMPLES["Add Order"]["Success"])
    assert client.add(service=1, link="https://example.com/p", quantity=100).order_id == "23501"


@responses.activate
def test_order_status_example(client: PanelClient) -> None:
    reply_with(EXAMPLES["Order Status"]["Success"])
    status = client.status(23501)
    assert status.status is UpstreamStatus.PARTIAL
    assert (status.charge, status.start_count, status.remains, status.currency) == (Decimal("0.27819"), 3572, 157, "USD")


@responses.activate
def test_multiple_orders_status_example(client: PanelClient) -> None:
    reply_with(EXAMPLES["Multiple Orders Status"]["Success"])
    results = client.status_many([1, 10, 100])
    assert results["1"].status is UpstreamStatus.PARTIAL
    assert results["10"] == ItemError("Incorrect order ID")
    assert results["100"].status is UpstreamStatus.IN_PROGRESS
    assert (results["100"].charge, results["100"].remains) == (Decimal("1.44219"), 10)


@responses.activate
def test_balance_example(client: PanelClient) -> None:
    reply_with(EXAMPLES["User Balance"]["Success"])
    balance = client.balance()
    assert (balance.amount, balance.currency) == (Decimal("9234.84292"), "USD")


@pytest.mark.parametrize("section", sorted(EXAMPLES))
@responses.activate
def test_failed_example_is_a_refusal_with_the_panels_message(client: PanelClient, section: str) -> None:
    reply_with(EXAMPLES[section]["Failed"])
    call = {
        "Service List": client.services,
        "Add Order": lambda: client.add(service=1, link="https://example.com", quantity=10),
        "Order Status": lambda: client.status(1),
        "Multiple Orders Status": lambda: client.status_many([1, 2]),
        "User Balance": client.balance,
    }[section]
    with pytest.raises(PanelRefused) as caught:
        call()
    assert caught.value.message == "Incorrect request"
