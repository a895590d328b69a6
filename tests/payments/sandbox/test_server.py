"""The sandbox payment gateway over real HTTP: its API's authentication, the payment's state machine, the payer's page,
and the signed notifications with their retries. Signatures are computed here, independently of the server's code."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from shop.payments.sandbox import Refused, SandboxServer
from tests.payments.conftest import PAY_API_KEY, PAY_MERCHANT, PAY_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[3]
RETURN_URL = "http://127.0.0.1:8000/funds/topups/7f1c/"


def hmac_hex(key: str, data: bytes) -> str:
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


def call(
    server: SandboxServer | str, verb: str, path: str, payload: Any = None, *, key: str = PAY_API_KEY, merchant: str = PAY_MERCHANT
) -> requests.Response:
    """A call to the API signed as the gateway's documentation says; ``server`` is a running one or its URL."""
    base = server if isinstance(server, str) else server.url
    body = b"" if payload is None else json.dumps(payload).encode()
    headers = {"X-Sandbox-Merchant": merchant, "X-Sandbox-Sign": hmac_hex(key, body), "Content-Type": "application/json"}
    return requests.request(verb, base + path, data=body, headers=headers, timeout=5, allow_redirects=False)


def order(notify_url: str, **changes: Any) -> dict[str, Any]:
    fields = {
        "merchant": PAY_MERCHANT,
        "amount": "25.00",
        "currency": "USD",
        "reference": f"ref-{time.monotonic_ns()}",
        "callback_url": notify_url,
        "return_url": RETURN_URL,
        "lifetime": 600,
    }
    return {**fields, **changes}


def create(server: SandboxServer, notify_url: str, **changes: Any) -> dict[str, Any]:
    reply = call(server, "POST", "/api/payments", order(notify_url, **changes))
    assert reply.status_code == 201, reply.text
    return reply.json()


def state(server: SandboxServer, payment_id: str) -> dict[str, Any]:
    reply = call(server, "GET", f"/api/payments/{payment_id}")
    assert reply.status_code == 200, reply.text
    return reply.json()


def signature_parts(header: str) -> tuple[str, list[str]]:
    pairs = [part.split("=", 1) for part in header.split(",")]
    return next(value for key, value in pairs if key == "t"), [value for key, value in pairs if key == "v1"]


# -- the API -------------------------------------------------------------------


def test_a_signed_call_creates_a_pending_payment_with_a_page_on_the_server(pay_sandbox, webhook_receiver) -> None:
    created = create(pay_sandbox, webhook_receiver.url, amount="12.50", reference="topup-1")

    assert created["status"] == "pending"
    assert created["pay_url"] == f"{pay_sandbox.url}/pay/{created['id']}"
    assert state(pay_sandbox, created["id"]) == {
        "id": created["id"],
        "merchant": PAY_MERCHANT,
        "reference": "topup-1",
        "amount": "12.50",
        "currency": "USD",
        "status": "pending",
    }


@pytest.mark.parametrize(
    ("key", "merchant"),
    [("another-key", PAY_MERCHANT), (PAY_API_KEY, "another-shop"), ("", ""), (PAY_API_KEY.upper(), PAY_MERCHANT)],
    ids=["wrong key", "wrong merchant", "unsigned", "key in another case"],
)
def test_a_call_not_signed_by_the_merchant_is_refused_with_401(pay_sandbox, webhook_receiver, key, merchant) -> None:
    reply = call(pay_sandbox, "POST", "/api/payments", order(webhook_receiver.url), key=key, merchant=merchant)

    assert reply.status_code == 401
    assert reply.json() == {"error": "Unknown merchant or bad signature."}
    assert PAY_API_KEY not in reply.text


def test_a_body_changed_after_signing_is_refused(pay_sandbox, webhook_receiver) -> None:
    body = json.dumps(order(webhook_receiver.url)).encode()
    headers = {"X-Sandbox-Merchant": PAY_MERCHANT, "X-Sandbox-Sign": hmac_hex(PAY_API_KEY, body)}
    tampered = body.replace(b'"25.00"', b'"0.01"')

    reply = requests.post(f"{pay_sandbox.url}/api/payments", data=tampered, headers=headers, timeout=5)

    assert reply.status_code == 401


def test_a_body_naming_another_merchant_is_refused_even_when_signed(pay_sandbox, webhook_receiver) -> None:
    reply = call(pay_sandbox, "POST", "/api/payments", order(webhook_receiver.url, merchant="another-shop"))
    assert reply.status_code == 401


def test_reading_a_payment_needs_the_signature_over_the_empty_body(pay_sandbox, webhook_receiver) -> None:
    payment_id = create(pay_sandbox, webhook_receiver.url)["id"]

    assert call(pay_sandbox, "GET", f"/api/payments/{payment_id}", key="another-key").status_code == 401
    assert call(pay_sandbox, "GET", f"/api/payments/{payment_id}", merchant="another-shop").status_code == 401
    assert call(pay_sandbox, "GET", "/api/payments/sbx_unknown").status_code == 404
    assert state(pay_sandbox, payment_id)["status"] == "pending"


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 25.0},
        {"amount": "25.005"},
        {"amount": "0.00"},
        {"amount": "-5"},
        {"amount": "NaN"},
        {"currency": "usd"},
        {"reference": ""},
        {"callback_url": "ftp://127.0.0.1/notify"},
        {"callback_url": "/relative"},
        {"return_url": "http://127.0.0.1/\r\nSet-Cookie: x=1"},
        {"lifetime": 0},
        {"lifetime": "600"},
        {"lifetime": True},
    ],
    ids=repr,
)
def test_a_payment_with_a_bad_field_is_refused_with_400(pay_sandbox, webhook_receiver, changes) -> None:
    reply = call(pay_sandbox, "POST", "/api/payments", order(webhook_receiver.url, **changes))

    assert reply.status_code == 400
    assert set(reply.json()) == {"error"}


def test_a_second_payment_with_the_same_reference_is_refused_with_409(pay_sandbox, webhook_receiver) -> None:
    create(pay_sandbox, webhook_receiver.url, reference="topup-9")
    reply = call(pay_sandbox, "POST", "/api/payments", order(webhook_receiver.url, reference="topup-9"))
    assert reply.status_code == 409


# -- the payer's page and the state machine --------------------------------------


def test_the_pay_page_shows_the_amount_the_merchant_and_three_buttons(pay_sandbox, webhook_receiver) -> None:
    created = create(pay_sandbox, webhook_receiver.url, amount="12.50", reference="<b>topup</b>")

    page = requests.get(created["pay_url"], timeout=5)

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "12.50 USD" in page.text
    assert PAY_MERCHANT in page.text
    assert "&lt;b&gt;topup&lt;/b&gt;" in page.text and "<b>topup" not in page.text
    buttons = re.findall(r'<button[^>]*name="action" value="(\w+)">([^<]+)</button>', page.text)
    assert buttons == [("pay", "Pay"), ("decline", "Decline"), ("expire", "Let it expire")]


@pytest.mark.parametrize(("action", "status"), [("pay", "paid"), ("decline", "declined"), ("expire", "expired")])
def test_a_button_settles_the_payment_redirects_the_payer_back_and_notifies_the_shop(pay_sandbox, webhook_receiver, action, status) -> None:
    created = create(pay_sandbox, webhook_receiver.url)

    reply = requests.post(created["pay_url"], data={"action": action}, timeout=5, allow_redirects=False)

    assert reply.status_code == 303
    assert reply.headers["Location"] == RETURN_URL
    assert state(pay_sandbox, created["id"])["status"] == status
    [received] = webhook_receiver.wait_for(1)
    assert received.path == "/payments/notify/sandbox/"
    assert json.loads(received.body)["payment"]["status"] == status
    page = requests.get(created["pay_url"], timeout=5).text
    assert f"This payment is {status}" in page and "<button" not in page


def test_a_settled_payment_does_not_change_again(pay_sandbox, webhook_receiver) -> None:
    created = create(pay_sandbox, webhook_receiver.url)
    pay_sandbox.act(created["id"], "pay")

    second = requests.post(created["pay_url"], data={"action": "decline"}, timeout=5, allow_redirects=False)

    assert second.status_code == 409
    assert state(pay_sandbox, created["id"])["status"] == "paid"
    with pytest.raises(Refused, match="paid already"):
        pay_sandbox.act(created["id"], "expire")
    assert len(pay_sandbox.wait_for_deliveries(1)) == 1


def test_an_unknown_action_or_payment_changes_nothing(pay_sandbox, webhook_receiver) -> None:
    created = create(pay_sandbox, webhook_receiver.url)

    assert requests.post(created["pay_url"], data={"action": "refund"}, timeout=5).status_code == 400
    assert requests.post(created["pay_url"], data={}, timeout=5).status_code == 400
    assert requests.get(f"{pay_sandbox.url}/pay/sbx_unknown", timeout=5).status_code == 404
    assert requests.post(f"{pay_sandbox.url}/pay/sbx_unknown", data={"action": "pay"}, timeout=5).status_code == 404
    assert state(pay_sandbox, created["id"])["status"] == "pending"
    assert pay_sandbox.deliveries == []


def test_a_payment_past_its_lifetime_reads_expired_can_no_longer_be_paid_and_notifies(pay_sandbox, webhook_receiver) -> None:
    created = create(pay_sandbox, webhook_receiver.url, lifetime=600)
    pay_sandbox.advance(590)  # the real clock moves too: leave it ten seconds
    assert state(pay_sandbox, created["id"])["status"] == "pending"

    pay_sandbox.advance(10)

    assert state(pay_sandbox, created["id"])["status"] == "expired"
    assert requests.post(created["pay_url"], data={"action": "pay"}, timeout=5, allow_redirects=False).status_code == 409
    [delivery] = pay_sandbox.wait_for_deliveries(1)
    assert json.loads(delivery.body)["payment"]["status"] == "expired"


def test_the_payer_is_redirected_without_waiting_for_the_shop_to_answer(pay_sandbox, webhook_receiver) -> None:
    webhook_receiver.delay = 2.0
    created = create(pay_sandbox, webhook_receiver.url)

    started = time.monotonic()
    reply = requests.post(created["pay_url"], data={"action": "pay"}, timeout=5, allow_redirects=False)

    assert reply.status_code == 303
    assert time.monotonic() - started < 1.0
    assert pay_sandbox.wait_for_deliveries(1)[0].delivered


# -- notifications ---------------------------------------------------------------


def test_the_notification_is_signed_with_the_webhook_secret_over_the_timestamp_and_raw_body(pay_sandbox, webhook_receiver) -> None:
    created = create(pay_sandbox, webhook_receiver.url, amount="12.50", reference="topup-3")
    pay_sandbox.act(created["id"], "pay")

    [received] = webhook_receiver.wait_for(1)

    timestamp, [v1] = signature_parts(received.headers["X-Sandbox-Signature"])
    assert abs(int(timestamp) - time.time()) < 30
    assert hmac.compare_digest(v1, hmac_hex(PAY_WEBHOOK_SECRET, f"{timestamp}.".encode() + received.body))
    assert received.headers["Content-Type"] == "application/json"
    data = json.loads(received.body)
    assert data["event_id"]
    assert data["payment"] == {
        "id": created["id"],
        "merchant": PAY_MERCHANT,
        "reference": "topup-3",
        "amount": "12.50",
        "currency": "USD",
        "status": "paid",
    }
    assert abs(datetime.fromisoformat(data["sent_at"]) - datetime.now(UTC)) < timedelta(seconds=30)
    assert PAY_API_KEY.encode() not in received.body and PAY_WEBHOOK_SECRET.encode() not in received.body


def test_each_notification_has_its_own_event_id_and_a_replay_repeats_it_byte_for_byte(pay_sandbox, webhook_receiver) -> None:
    first, second = create(pay_sandbox, webhook_receiver.url), create(pay_sandbox, webhook_receiver.url)
    pay_sandbox.act(first["id"], "pay")
    pay_sandbox.act(second["id"], "decline")
    pay_sandbox.wait_for_deliveries(2)

    pay_sandbox.resend(first["id"]).wait()

    one, two, replay = webhook_receiver.wait_for(3)
    event_ids = {json.loads(received.body)["event_id"] for received in (one, two)}
    assert len(event_ids) == 2
    original = one if json.loads(one.body)["payment"]["id"] == first["id"] else two
    assert replay.body == original.body
    assert replay.headers["X-Sandbox-Signature"] == original.headers["X-Sandbox-Signature"]


def test_a_resigned_resend_keeps_the_body_and_is_signed_again(pay_sandbox, webhook_receiver) -> None:
    created = create(pay_sandbox, webhook_receiver.url)
    pay_sandbox.act(created["id"], "pay")
    pay_sandbox.wait_for_deliveries(1)

    pay_sandbox.resend(created["id"], resign=True).wait()

    first, again = webhook_receiver.wait_for(2)
    assert again.body == first.body
    timestamp, [v1] = signature_parts(again.headers["X-Sandbox-Signature"])
    assert v1 == hmac_hex(PAY_WEBHOOK_SECRET, f"{timestamp}.".encode() + again.body)


def test_nothing_to_resend_before_a_notification(pay_sandbox, webhook_receiver) -> None:
    created = create(pay_sandbox, webhook_receiver.url)
    with pytest.raises(Refused, match="no notification"):
        pay_sandbox.resend(created["id"])


def test_a_test_can_make_the_payer_pay_another_amount_or_contradict_a_settled_payment(pay_sandbox, webhook_receiver) -> None:
    created = create(pay_sandbox, webhook_receiver.url, amount="25.00")

    pay_sandbox.act(created["id"], "pay", amount=Decimal("2.50"), currency="EUR")
    pay_sandbox.act(created["id"], "decline", force=True)

    paid, declined = (json.loads(delivery.body)["payment"] for delivery in pay_sandbox.wait_for_deliveries(2))
    assert (paid["status"], paid["amount"], paid["currency"]) == ("paid", "2.50", "EUR")
    assert declined["status"] == "declined"


def test_a_notification_is_tried_again_until_the_shop_answers_2xx(pay_sandbox, webhook_receiver) -> None:
    webhook_receiver.statuses = [503, 500, 404]
    created = create(pay_sandbox, webhook_receiver.url)

    pay_sandbox.act(created["id"], "pay")

    [delivery] = pay_sandbox.wait_for_deliveries(1)
    assert delivery.delivered
    assert delivery.attempts == ["HTTP 503", "HTTP 500", "HTTP 404", "HTTP 200"]
    bodies = {received.body for received in webhook_receiver.wait_for(4)}
    assert bodies == {delivery.body}


def test_a_notification_gives_up_after_five_tries(pay_sandbox, webhook_receiver) -> None:
    webhook_receiver.statuses = [400] * 10
    created = create(pay_sandbox, webhook_receiver.url)

    pay_sandbox.act(created["id"], "pay")

    [delivery] = pay_sandbox.wait_for_deliveries(1)
    assert not delivery.delivered
    assert delivery.attempts == ["HTTP 400"] * 5
    assert len(webhook_receiver.received) == 5


def test_a_shop_that_is_not_listening_gets_five_tries_and_the_payer_still_goes_back(pay_sandbox) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    created = create(pay_sandbox, f"http://127.0.0.1:{closed_port}/notify")

    reply = requests.post(created["pay_url"], data={"action": "pay"}, timeout=5, allow_redirects=False)

    assert reply.status_code == 303
    [delivery] = pay_sandbox.wait_for_deliveries(1)
    assert not delivery.delivered
    assert delivery.attempts == ["ConnectionRefusedError"] * 5


# -- the package on its own ------------------------------------------------------------


def test_the_gateway_does_not_import_django() -> None:
    code = "import sys, shop.payments.sandbox; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout.strip() == "[]"


def _run_main(*args: str, **env: str) -> subprocess.Popen[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("PAY_SANDBOX_") and name != "SHOP_ENV"}
    return subprocess.Popen(
        [sys.executable, "-m", "shop.payments.sandbox", *args],
        cwd=ROOT,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_python_m_serves_with_the_secrets_from_the_environment_until_sigterm() -> None:
    process = _run_main("--port", "0", "--merchant", PAY_MERCHANT, PAY_SANDBOX_API_KEY=PAY_API_KEY, PAY_SANDBOX_WEBHOOK_SECRET="whsec")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"Sandbox payment gateway for merchant '{PAY_MERCHANT}' serving at http://127.0.0.1:")
        url = line.split()[-1]
        reply = call(url, "POST", "/api/payments", order("http://127.0.0.1:9/notify"))
        assert reply.status_code == 201
        assert reply.json()["pay_url"].startswith(f"{url}/pay/sbx_")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("env", "status", "message"),
    [
        ({"PAY_SANDBOX_API_KEY": "k"}, 2, "set PAY_SANDBOX_API_KEY and PAY_SANDBOX_WEBHOOK_SECRET"),
        ({"PAY_SANDBOX_API_KEY": "k", "PAY_SANDBOX_WEBHOOK_SECRET": "s", "SHOP_ENV": "production"}, 1, "does not run with SHOP_ENV"),
    ],
    ids=["no secret", "production"],
)
def test_python_m_refuses_without_its_secrets_or_in_production(env, status, message) -> None:
    process = _run_main("--port", "0", **env)
    _, err = process.communicate(timeout=30)
    assert process.returncode == status
    assert message in err
