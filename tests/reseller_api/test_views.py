"""The reseller API over real HTTP: a plain client written from upstream-api.txt, and a reseller of the reseller.

Also: bodies it cannot read get a JSON error, and the API page tells of a revoked key.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from shop.catalogue.retail import services_import
from shop.catalogue.sync import catalogue_sync
from shop.models import ApiKey, LedgerEntry, Order, OrderStatus, Provider
from shop.orders.placement import order_place
from shop.orders.refresh import orders_refresh
from shop.orders.submission import order_submit
from shop.reseller_api.keys import api_key_issue, api_key_revoke
from shop.reseller_api.models import Revocation
from shop.wallet.selectors import ledger_differences
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
LINK = "https://instagram.com/p/chain"


class PlainClient:
    """What a reseller would write from the upstream's document alone: POST key and action, read JSON."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key

    def call(self, **params: str) -> object:
        reply = requests.post(self.url, data={"key": self.key, **params}, timeout=10)
        assert reply.headers["Content-Type"] == "application/json"
        return reply.json()


def test_a_client_written_from_the_document_works_unchanged(live_server, catalogue, customer) -> None:
    client = PlainClient(f"{live_server.url}/api/v2", api_key_issue(user=customer))

    services = client.call(action="services")
    first = services[0]
    assert {"service", "name", "type", "category", "rate", "min", "max"} <= set(first)
    assert all(isinstance(first[name], str) for name in ("rate", "min", "max")) and isinstance(first["service"], int)

    order = client.call(action="add", service=str(catalogue["1"].pk), link=LINK, quantity="100")
    assert set(order) == {"order"} and isinstance(order["order"], int)

    status = client.call(action="status", order=str(order["order"]))
    assert set(status) == {"charge", "start_count", "status", "remains", "currency"}
    assert all(isinstance(value, str) for value in status.values())

    many = client.call(action="status", orders=f"{order['order']},10")
    assert set(many) == {str(order["order"]), "10"} and many["10"] == {"error": "Incorrect order ID"}

    balance = client.call(action="balance")
    assert set(balance) == {"balance", "currency"} and Decimal(balance["balance"]) == Decimal("100") - Decimal("0.1170")

    assert client.call(action="nonsense") == {"error": "Incorrect request"}
    assert PlainClient(client.url, "wrong").call(action="balance") == {"error": "Invalid API key"}


def test_a_reseller_of_the_reseller_orders_end_to_end(live_server, provider, sandbox) -> None:
    # This shop resells the sandbox ...
    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    reseller = UserFactory(username="reseller")
    wallet_credit(user=reseller, amount=Decimal("50"), kind=LedgerEntry.Kind.DEPOSIT)
    # ... and is itself the provider of a second shop: here, a second provider row of the same shop.
    itself = Provider.objects.create(name="Ourselves", api_url=f"{live_server.url}/api/v2", api_key=api_key_issue(user=reseller))
    catalogue_sync(provider=itself)
    services_import(provider_services=itself.services.all())
    resold = itself.services.get(name="TikTok Followers [Refill 30D]").retail_services.get()

    end_customer = UserFactory(username="end-customer")
    wallet_credit(user=end_customer, amount=Decimal("50"), kind=LedgerEntry.Kind.DEPOSIT)
    outer = order_place(user=end_customer, service=resold, link=LINK, quantity=1000)
    assert order_submit(order_id=outer.pk).value == "placed"  # an add on our own API, as the reseller
    outer.refresh_from_db()
    inner = Order.objects.get(pk=int(outer.upstream_order_id), user=reseller)
    assert inner.charge == Decimal("4.0300") and outer.charge > inner.charge  # marked up twice
    assert order_submit(order_id=inner.pk).value == "placed"  # ... and on to the sandbox

    sandbox.panel.advance(10_000)
    Order.objects.update(next_check_at=outer.created_at)
    orders_refresh(provider=provider)  # the inner order learns its end from the sandbox
    orders_refresh(provider=itself)  # the outer one from our own API
    inner.refresh_from_db()
    outer.refresh_from_db()
    assert inner.status in {OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED}
    assert outer.status == inner.status
    assert outer.remains == inner.remains
    assert (outer.refunded > 0) == (inner.refunded > 0)
    assert ledger_differences() == []


# Bodies the API cannot read ----------------------------------------------------------------------------------

DEEP = 100_000
ODD_JSON = {
    # Issue 17: a 2 KB body raised RecursionError in the parser, before any key check (an HTML 500 and a logged traceback).
    "1,000 nested brackets": "[" * 1000 + "]" * 1000,
    "1,000 nested objects": '{"a": ' * 1000 + "1" + "}" * 1000,
    "a member nested deeper than any stack": '{"key": "KEY", "action": "balance", "x": ' + "[" * DEEP + "]" * DEEP + "}",
    "NaN": '{"key": "KEY", "action": "balance", "x": NaN}',
    "Infinity": '{"key": "KEY", "action": "balance", "x": Infinity}',
    "-Infinity inside a list": '{"key": "KEY", "action": "balance", "x": [1, -Infinity]}',
    "a float beyond range": '{"key": "KEY", "action": "balance", "x": 1e999999}',
    "a negative float beyond range": '{"key": "KEY", "action": "balance", "x": -1e999999}',
    "an integer of 100,000 digits": '{"key": "KEY", "action": "balance", "x": 1' + "0" * DEEP + "}",
    "a repeated name": '{"key": "KEY", "action": "balance", "action": "balance"}',
    "a repeated key, the last one valid": '{"key": "smm_someone-elses", "key": "KEY", "action": "balance"}',
    "a repeated name in a nested object": '{"key": "KEY", "action": "balance", "x": {"a": 1, "a": 2}}',
    "a list": '[{"key": "KEY", "action": "balance"}]',
    "a string": '"KEY"',
    "null": "null",
}


@pytest.mark.django_db
@pytest.mark.parametrize("body", ODD_JSON.values(), ids=ODD_JSON.keys())
def test_a_json_body_the_api_cannot_read_is_an_incorrect_request(client, key, caplog, body: str) -> None:
    with caplog.at_level(logging.INFO):
        response = client.generic("POST", "/api/v2", body.replace("KEY", key), content_type="application/json")
    assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    assert response.json() == {"error": "Incorrect request"}
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING or record.exc_info]


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b'{"key": "KEY", "action": "balance\xff"}', b"\xff\xfe\x00{"], ids=["bad-byte", "bom-then-garbage"])
def test_a_json_body_not_in_utf8_is_an_incorrect_request(client, key, body: bytes) -> None:
    response = client.generic("POST", "/api/v2", body.replace(b"KEY", key.encode()), content_type="application/json")
    assert response.json() == {"error": "Incorrect request"}


@pytest.mark.django_db
def test_nested_and_numeric_members_within_reason_are_read_as_their_json(client, key) -> None:
    body = {"key": key, "action": "balance", "x": [[[{"a": 1.5e300}]]], "y": 10**4000, "z": -0.0}
    response = client.post("/api/v2", json.dumps(body), content_type="application/json")
    assert set(response.json()) == {"balance", "currency"}


# The API page ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_page_says_when_and_why_a_key_was_revoked_and_offers_a_new_one(client, customer) -> None:
    api_key_issue(user=customer)
    api_key_revoke(user=customer, reason=Revocation.PASSWORD_RESET)
    stored = ApiKey.objects.get(user=customer)
    client.force_login(customer)
    page = client.get(reverse("api-page")).content.decode()
    when = timezone.localtime(stored.revoked_at).strftime("%Y-%m-%d %H:%M")
    assert f"Your key <code>{stored.prefix}…</code> was revoked on {when} because your password was reset." in page
    assert "Generate a new key</button>" in page

    # A revoked key has nothing left to lose: one click makes the new one, shown once after the redirect.
    answer = client.post(reverse("api-key-new"), {"confirm": "yes"})
    assert answer.status_code == 302 and answer["Location"] == reverse("api-page")
    page = client.get(reverse("api-page")).content.decode()
    assert "shown only once" in page and "was revoked" not in page
