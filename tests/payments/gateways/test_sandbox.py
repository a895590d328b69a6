"""The sandbox gateway module against the sandbox gateway running on loopback: starting a payment, verifying its
notifications (each forged, tampered, stale, foreign or malformed one refused) and fetching its state."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from decimal import Decimal

import pytest
import requests

from shop.payments import gateway
from shop.payments.gateways import sandbox
from shop.payments.interface import GatewayError, GatewayUnavailable, NotificationRejected, Report, ReportState, Urls
from shop.payments.models import PaymentMethod, TopUp
from shop.payments.sandbox import SandboxServer
from shop.payments.sandbox.gateway import MAX_LIFETIME
from tests.factories import UserFactory
from tests.payments.conftest import PAY_API_KEY, PAY_MERCHANT, PAY_WEBHOOK_SECRET, QUICK_RETRIES

pytestmark = pytest.mark.django_db

BACK = "http://127.0.0.1:8000/funds/topups/1/"
SECRETS = (PAY_API_KEY, PAY_WEBHOOK_SECRET)


def signed(body: bytes, *, secret: str = PAY_WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    v1 = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Sandbox-Signature": f"t={timestamp},v1={v1}"}


@pytest.fixture
def topup(sandbox_method) -> TopUp:
    return TopUp.objects.create(user=UserFactory(), method=sandbox_method, amount=Decimal("25.00"), currency="USD")


@pytest.fixture
def urls(webhook_receiver) -> Urls:
    return Urls(notify=webhook_receiver.url, back=BACK)


@pytest.fixture
def started(sandbox_method, topup, urls) -> TopUp:
    checkout = sandbox.start(method=sandbox_method, topup=topup, urls=urls)
    topup.gateway_id, topup.pay_url = checkout.gateway_id, checkout.pay_url
    topup.save(update_fields=["gateway_id", "pay_url"])
    return topup


def notification(server: SandboxServer, receiver, topup: TopUp, action: str = "pay") -> tuple[bytes, dict[str, str]]:
    """The notification the gateway sends after the payer's ``action``, as the shop's endpoint receives it."""
    server.act(topup.gateway_id, action)
    [received] = receiver.wait_for(1)
    return received.body, received.headers


# -- start -------------------------------------------------------------------------


def test_start_creates_the_payment_at_the_gateway_for_the_top_ups_amount_and_id(pay_sandbox, sandbox_method, topup, urls) -> None:
    checkout = sandbox.start(method=sandbox_method, topup=topup, urls=urls)

    payment = pay_sandbox.payment(checkout.gateway_id)
    assert checkout.pay_url == f"{pay_sandbox.url}/pay/{checkout.gateway_id}"
    assert (payment.merchant, payment.amount, payment.currency) == (PAY_MERCHANT, Decimal("25.00"), "USD")
    assert payment.reference == str(topup.public_id)
    assert (payment.callback_url, payment.return_url, payment.status) == (urls.notify, BACK, "pending")
    assert requests.get(checkout.pay_url, timeout=5).status_code == 200


def test_the_method_kind_sandbox_resolves_to_this_module(sandbox_method) -> None:
    assert gateway.gateway_for(sandbox_method) is sandbox


def test_start_with_a_wrong_api_key_is_a_gateway_error_that_keeps_the_key_out(sandbox_method, topup, urls) -> None:
    sandbox_method.api_key = "not-the-key"
    with pytest.raises(GatewayError) as refused:
        sandbox.start(method=sandbox_method, topup=topup, urls=urls)

    assert not isinstance(refused.value, GatewayUnavailable)
    assert str(refused.value) == "The sandbox gateway refused the call (HTTP 401): Unknown merchant or bad signature."
    assert "not-the-key" not in str(refused.value)


def test_start_when_the_gateway_is_down_is_gateway_unavailable_from_the_transport_error(sandbox_method, topup, urls) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        sandbox_method.api_url = f"http://127.0.0.1:{probe.getsockname()[1]}"

    with pytest.raises(GatewayUnavailable, match="could not be reached") as down:
        sandbox.start(method=sandbox_method, topup=topup, urls=urls)

    assert isinstance(down.value.__cause__, requests.ConnectionError)


def test_start_without_credentials_refuses_before_calling(sandbox_method, topup, urls, pay_sandbox) -> None:
    sandbox_method.api_key = ""
    with pytest.raises(GatewayError, match="needs its API URL, merchant id and API key"):
        sandbox.start(method=sandbox_method, topup=topup, urls=urls)
    assert pay_sandbox.payments == []


# -- verify --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "expected"), [("pay", ReportState.PAID), ("decline", ReportState.FAILED), ("expire", ReportState.EXPIRED)]
)
def test_verify_accepts_a_genuine_notification_and_reports_its_payment(
    pay_sandbox, webhook_receiver, sandbox_method, started, action, expected
) -> None:
    body, headers = notification(pay_sandbox, webhook_receiver, started, action)

    [report] = sandbox.verify(method=sandbox_method, body=body, headers=headers)

    assert report == Report(
        state=expected,
        gateway_id=started.gateway_id,
        reference=str(started.public_id),
        amount=Decimal("25.00"),
        currency="USD",
        merchant=PAY_MERCHANT,
        event_id=json.loads(body)["event_id"],
        detail={"sandbox_status": json.loads(body)["payment"]["status"]},
    )
    assert isinstance(report.amount, Decimal)


def test_verify_finds_the_header_whatever_its_case_and_accepts_any_of_several_signatures(
    pay_sandbox, webhook_receiver, sandbox_method, started
) -> None:
    body, headers = notification(pay_sandbox, webhook_receiver, started)
    header = headers["X-Sandbox-Signature"]
    rotated = header.replace(",v1=", f",v1={'0' * 64},v1=")

    assert sandbox.verify(method=sandbox_method, body=body, headers={"x-sandbox-signature": header})
    assert sandbox.verify(method=sandbox_method, body=body, headers={"X-Sandbox-Signature": rotated})


def test_a_replayed_notification_still_verifies_within_the_tolerance(pay_sandbox, webhook_receiver, sandbox_method, started) -> None:
    notification(pay_sandbox, webhook_receiver, started)
    pay_sandbox.resend(started.gateway_id).wait()
    first, replay = webhook_receiver.wait_for(2)

    assert sandbox.verify(method=sandbox_method, body=replay.body, headers=replay.headers) == sandbox.verify(
        method=sandbox_method, body=first.body, headers=first.headers
    )


def _flip_last_hex(header: str) -> str:
    return header[:-1] + ("0" if header[-1] != "0" else "1")


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda body, headers: (body, {}), "not signed"),
        (lambda body, headers: (body, {"X-Sandbox-Signature": ""}), "not signed"),
        (lambda body, headers: (body, {"X-Sandbox-Signature": _flip_last_hex(headers["X-Sandbox-Signature"])}), "does not match"),
        (lambda body, headers: (body.replace(b'"25.00"', b'"2500.00"'), headers), "does not match"),
        (lambda body, headers: (body.replace(b'"paid"', b'"pending"'), headers), "does not match"),
        (lambda body, headers: (body + b" ", headers), "does not match"),
        (lambda body, headers: (body, signed(body, secret=PAY_API_KEY)), "does not match"),
        (lambda body, headers: (body, {"X-Sandbox-Signature": headers["X-Sandbox-Signature"].split(",")[1]}), "malformed"),
        (lambda body, headers: (body, {"X-Sandbox-Signature": "t=1,t=2," + headers["X-Sandbox-Signature"]}), "malformed"),
        (lambda body, headers: (body, {"X-Sandbox-Signature": "t=-5,v1=00"}), "malformed"),
        (lambda body, headers: (body, signed(body, at=int(time.time()) - 301)), "outside the tolerance"),
        (lambda body, headers: (body, signed(body, at=int(time.time()) + 301)), "outside the tolerance"),
    ],
    ids=[
        "no header",
        "empty header",
        "bad signature",
        "tampered amount",
        "tampered status",
        "a byte added",
        "signed with the api key",
        "no timestamp",
        "two timestamps",
        "negative timestamp",
        "timestamp 301 s old",
        "timestamp 301 s ahead",
    ],
)
def test_verify_rejects_a_notification_that_is_unsigned_forged_tampered_or_stale(
    pay_sandbox, webhook_receiver, sandbox_method, started, mangle, message
) -> None:
    body, headers = mangle(*notification(pay_sandbox, webhook_receiver, started))

    with pytest.raises(NotificationRejected, match=message):
        sandbox.verify(method=sandbox_method, body=body, headers=headers)


def test_a_timestamp_just_inside_the_tolerance_is_accepted(pay_sandbox, webhook_receiver, sandbox_method, started) -> None:
    body, _ = notification(pay_sandbox, webhook_receiver, started)
    assert sandbox.verify(method=sandbox_method, body=body, headers=signed(body, at=int(time.time()) - 295))


@pytest.mark.parametrize("shared_secret", [False, True], ids=["its own secret", "the same secret"])
def test_verify_rejects_another_merchants_genuine_notification(webhook_receiver, sandbox_method, shared_secret) -> None:
    """Another merchant of the same gateway pays itself, and sends the shop that genuine notification."""
    other_secret = PAY_WEBHOOK_SECRET if shared_secret else "other-whsec-2c81"
    with SandboxServer(merchant="other-shop", api_key="other-key", webhook_secret=other_secret, retry_delays=QUICK_RETRIES) as other:
        other_method = PaymentMethod(
            kind=PaymentMethod.Kind.SANDBOX, api_url=other.url, merchant_id="other-shop", api_key="other-key", webhook_secret=other_secret
        )
        theirs = TopUp.objects.create(user=UserFactory(), method=sandbox_method, amount=Decimal("25.00"), currency="USD")
        theirs.gateway_id = sandbox.start(method=other_method, topup=theirs, urls=Urls(webhook_receiver.url, BACK)).gateway_id
        body, headers = notification(other, webhook_receiver, theirs)
        assert sandbox.verify(method=other_method, body=body, headers=headers)  # genuine, for its own merchant

    with pytest.raises(NotificationRejected, match="another merchant" if shared_secret else "does not match"):
        sandbox.verify(method=sandbox_method, body=body, headers=headers)


def _payment(**changes: object) -> dict[str, object]:
    payment = {"id": "sbx_1", "merchant": PAY_MERCHANT, "reference": "r", "amount": "25.00", "currency": "USD", "status": "paid"}
    return {**payment, **changes}


def _event(**changes: object) -> bytes:
    return json.dumps({"event_id": "evt_1", "payment": _payment(**changes), "sent_at": "2025-01-01T00:00:00+00:00"}).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",
        b"[]",
        b'"paid"',
        b'{"payment": {}}',
        json.dumps({"event_id": "", "payment": _payment()}).encode(),
        json.dumps({"event_id": 7, "payment": _payment()}).encode(),
        json.dumps({"event_id": "evt_1", "payment": "paid"}).encode(),
        _event(amount=25),
        _event(amount="25,00"),
        _event(amount="1e3"),
        _event(amount="0.00"),
        _event(amount="-25.00"),
        _event(amount="NaN"),
        _event(currency="usd"),
        _event(currency=""),
        _event(status="refunded"),
        _event(status=None),
        _event(id=""),
        _event(id="x" * 256),
        _event(merchant=None),
        _event(reference=["r"]),
        b'{"event_id": "evt_1", "event_id": "evt_2", "payment": ' + json.dumps(_payment()).encode() + b"}",
        b'{"event_id": "evt_1", "payment": ' + json.dumps(_payment()).encode()[:-1] + b', "amount": NaN}}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=lambda body: repr(body[:60]),
)
def test_verify_rejects_a_correctly_signed_body_that_is_not_exactly_a_notification(sandbox_method, body) -> None:
    with pytest.raises(NotificationRejected, match="malformed"):
        sandbox.verify(method=sandbox_method, body=body, headers=signed(body))


def test_a_well_formed_body_signed_with_the_secret_is_accepted(sandbox_method) -> None:
    """The counterpart of the malformed bodies above: the same shape, untouched, passes."""
    body = _event()
    [report] = sandbox.verify(method=sandbox_method, body=body, headers=signed(body))
    assert (report.state, report.gateway_id, report.amount, report.event_id) == (ReportState.PAID, "sbx_1", Decimal("25.00"), "evt_1")


def test_verify_refuses_when_the_method_has_no_webhook_secret(sandbox_method) -> None:
    sandbox_method.webhook_secret = ""
    body = _event()
    with pytest.raises(NotificationRejected, match="no webhook secret"):
        sandbox.verify(method=sandbox_method, body=body, headers=signed(body, secret=""))


# -- fetch --------------------------------------------------------------------------


def test_fetch_reads_the_payments_state_from_the_gateway(pay_sandbox, sandbox_method, started) -> None:
    pending = sandbox.fetch(method=sandbox_method, topup=started)
    pay_sandbox.act(started.gateway_id, "pay")
    paid = sandbox.fetch(method=sandbox_method, topup=started)

    assert pending is not None and pending.state == ReportState.PENDING
    assert paid == Report(
        state=ReportState.PAID,
        gateway_id=started.gateway_id,
        reference=str(started.public_id),
        amount=Decimal("25.00"),
        currency="USD",
        merchant=PAY_MERCHANT,
        detail={"sandbox_status": "paid"},
    )


def test_fetch_sees_a_payment_past_its_lifetime_as_expired(pay_sandbox, sandbox_method, started) -> None:
    pay_sandbox.advance(MAX_LIFETIME)
    report = sandbox.fetch(method=sandbox_method, topup=started)
    assert report is not None and report.state == ReportState.EXPIRED


def test_fetch_of_a_top_up_the_gateway_never_saw_is_none_or_a_gateway_error(sandbox_method, topup) -> None:
    assert sandbox.fetch(method=sandbox_method, topup=topup) is None

    topup.gateway_id = "sbx_unknown"
    with pytest.raises(GatewayError, match=r"HTTP 404\): No such payment"):
        sandbox.fetch(method=sandbox_method, topup=topup)


# -- production ------------------------------------------------------------------------


def test_in_production_every_call_refuses_and_nothing_reaches_the_gateway(
    settings, pay_sandbox, webhook_receiver, sandbox_method, started, urls
) -> None:
    body, headers = notification(pay_sandbox, webhook_receiver, started)
    settings.PRODUCTION = True
    off = "The sandbox gateway is for testing and is off in production."
    fresh = TopUp.objects.create(user=started.user, method=sandbox_method, amount=Decimal("5.00"), currency="USD")

    with pytest.raises(GatewayError, match=off):
        sandbox.start(method=sandbox_method, topup=fresh, urls=urls)
    with pytest.raises(GatewayError, match=off):
        sandbox.fetch(method=sandbox_method, topup=started)
    with pytest.raises(NotificationRejected, match=off):
        sandbox.verify(method=sandbox_method, body=body, headers=headers)
    assert [payment.reference for payment in pay_sandbox.payments] == [str(started.public_id)]
