"""Stripe Checkout: sessions created with the method's key, webhooks trusted only when signed, reports as the shop needs them.

No test reaches Stripe: ``responses`` answers for api.stripe.com (an
unregistered URL fails the test), and signatures are built from test secrets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import requests
import responses
import stripe

from shop.payments.crediting import Outcome, topup_create, topup_find, topup_report_apply
from shop.payments.gateways import stripe_checkout
from shop.payments.interface import (
    DISPUTE,
    REFUND,
    GatewayError,
    GatewayUnavailable,
    NotificationRejected,
    Report,
    ReportState,
    Urls,
)
from shop.payments.models import PaymentMethod, TopUp, TopUpState
from shop.wallet.selectors import balance_of
from tests.factories import UserFactory
from tests.payments.stripe_events import (
    LIVE_KEY,
    OTHER_SECRET,
    SECRET,
    TEST_KEY,
    charge,
    dispute,
    event,
    payment_intent,
    session,
    sign,
    signature,
)

SESSIONS = "https://api.stripe.com/v1/checkout/sessions"
INTENTS = "https://api.stripe.com/v1/payment_intents"
REFERENCE = "5b0f6c2e-3d4a-4e1f-9a8b-7c6d5e4f3a2b"
BACK = "https://shop.example/funds/topups/abc/"


@pytest.fixture
def stripe_api() -> Iterator[responses.RequestsMock]:
    """api.stripe.com as the test answers it; any request the test did not expect fails."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def stripe_method(**fields: object) -> PaymentMethod:
    values = {"kind": PaymentMethod.Kind.STRIPE, "code": "stripe", "name": "Card (Stripe)", "currency": "USD"}
    values |= {"api_key": TEST_KEY, "webhook_secret": SECRET, **fields}
    return PaymentMethod(**values)


def stripe_topup(amount: str = "10.05", currency: str = "USD", gateway_id: str = "cs_test_a1") -> TopUp:
    return TopUp(method=stripe_method(), amount=Decimal(amount), currency=currency, gateway_id=gateway_id)


def deliver(body: bytes, header: str | None, method: PaymentMethod | None = None) -> list[Report]:
    headers = {} if header is None else {"Stripe-Signature": header}
    return stripe_checkout.verify(method=method or stripe_method(), body=body, headers=headers)


def form(call: responses.Call) -> dict[str, str]:
    """The form-encoded body the library sent, one value per key."""
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


def created(session_id: str = "cs_test_new") -> dict[str, object]:
    return session(session_id=session_id, status="open", payment_status="unpaid", payment_intent=None)


def stripe_error(status: int, message: str, error_type: str = "invalid_request_error", **extra: str) -> dict[str, object]:
    return {"status": status, "json": {"error": {"type": error_type, "message": message, **extra}}, "headers": {"Request-Id": "req_test_1"}}


# start


def test_start_creates_a_payment_session_in_cents_with_the_methods_key(stripe_api: responses.RequestsMock) -> None:
    stripe_api.post(SESSIONS, json=created())
    topup = stripe_topup("10.05", gateway_id="")

    checkout = stripe_checkout.start(method=stripe_method(), topup=topup, urls=Urls(notify="https://shop.example/n/", back=BACK))

    assert (checkout.gateway_id, checkout.pay_url) == ("cs_test_new", "https://checkout.stripe.com/c/pay/cs_test_new")
    [call] = stripe_api.calls
    sent = form(call)
    reference = str(topup.public_id)
    assert sent["mode"] == "payment"
    assert sent["line_items[0][price_data][unit_amount]"] == "1005"
    assert sent["line_items[0][price_data][currency]"] == "usd"
    assert sent["line_items[0][price_data][product_data][name]"] == "Balance top-up"
    assert sent["line_items[0][quantity]"] == "1"
    assert sent["client_reference_id"] == reference
    assert sent["metadata[topup]"] == reference
    assert sent["payment_intent_data[metadata][topup]"] == reference
    assert sent["success_url"] == sent["cancel_url"] == BACK
    assert 3500 <= int(sent["expires_at"]) - time.time() <= 3600
    assert call.request.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert call.request.headers["Idempotency-Key"] == f"topup-{reference}-session"
    assert call.request.req_kwargs["timeout"] == (5, 20)
    assert stripe.api_key is None  # the key went with the call, never into the library's global


@pytest.mark.parametrize(("amount", "cents"), [("10.05", "1005"), ("0.01", "1"), ("19.99", "1999"), ("1234.50", "123450"), ("7", "700")])
def test_start_sends_the_exact_amount_in_cents(stripe_api: responses.RequestsMock, amount: str, cents: str) -> None:
    stripe_api.post(SESSIONS, json=created())

    stripe_checkout.start(method=stripe_method(), topup=stripe_topup(amount), urls=Urls(notify="", back=BACK))

    assert form(stripe_api.calls[0])["line_items[0][price_data][unit_amount]"] == cents


def test_start_uses_each_methods_own_key(stripe_api: responses.RequestsMock) -> None:
    stripe_api.post(SESSIONS, json=created())
    other = "sk_test_51OtherShopMethodKey"

    stripe_checkout.start(method=stripe_method(api_key=other), topup=stripe_topup(), urls=Urls(notify="", back=BACK))

    assert stripe_api.calls[0].request.headers["Authorization"] == f"Bearer {other}"


@pytest.mark.parametrize("currency", ["JPY", "KRW", "KWD", "ISK", "US", "usdt"])
def test_start_refuses_a_currency_without_two_decimals_before_calling_stripe(stripe_api: responses.RequestsMock, currency: str) -> None:
    with pytest.raises(GatewayError, match="2 decimal places"):
        stripe_checkout.start(method=stripe_method(), topup=stripe_topup("100", currency=currency), urls=Urls(notify="", back=BACK))
    assert len(stripe_api.calls) == 0


def test_start_refuses_a_fraction_of_a_cent(stripe_api: responses.RequestsMock) -> None:
    with pytest.raises(GatewayError, match="whole number of cents"):
        stripe_checkout.start(method=stripe_method(), topup=stripe_topup("10.005"), urls=Urls(notify="", back=BACK))
    assert len(stripe_api.calls) == 0


def test_start_without_an_api_key_fails_without_calling_stripe(stripe_api: responses.RequestsMock) -> None:
    with pytest.raises(GatewayError, match="no API key"):
        stripe_checkout.start(method=stripe_method(api_key=""), topup=stripe_topup(), urls=Urls(notify="", back=BACK))
    assert len(stripe_api.calls) == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_stripe_server_error_is_unavailable_and_not_retried(stripe_api: responses.RequestsMock, status: int) -> None:
    stripe_api.post(SESSIONS, **stripe_error(status, "Something went wrong on Stripe's end.", "api_error"))

    with pytest.raises(GatewayUnavailable) as caught:
        stripe_checkout.start(method=stripe_method(), topup=stripe_topup(), urls=Urls(notify="", back=BACK))

    assert len(stripe_api.calls) == 1
    assert f"HTTP {status}" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # Stripe's text (it may echo the key) is not chained


def test_a_rate_limit_is_unavailable(stripe_api: responses.RequestsMock) -> None:
    stripe_api.post(SESSIONS, **stripe_error(429, "Too many requests.", "invalid_request_error", code="rate_limit"))

    with pytest.raises(GatewayUnavailable, match="HTTP 429"):
        stripe_checkout.start(method=stripe_method(), topup=stripe_topup(), urls=Urls(notify="", back=BACK))


def test_a_connection_failure_is_unavailable_and_not_chained(stripe_api: responses.RequestsMock) -> None:
    stripe_api.post(SESSIONS, body=requests.exceptions.ConnectTimeout("connect timed out"))

    with pytest.raises(GatewayUnavailable, match="could not connect") as caught:
        stripe_checkout.start(method=stripe_method(), topup=stripe_topup(), urls=Urls(notify="", back=BACK))

    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert TEST_KEY not in str(caught.value)


def test_a_rejected_key_is_a_gateway_error_that_never_shows_the_key(stripe_api: responses.RequestsMock) -> None:
    # Stripe masks the key in this message; the test makes it echo the whole key, to prove the shop's message never does.
    stripe_api.post(SESSIONS, **stripe_error(401, f"Invalid API Key provided: {TEST_KEY}"))

    with pytest.raises(GatewayError) as caught:
        stripe_checkout.start(method=stripe_method(), topup=stripe_topup(), urls=Urls(notify="", back=BACK))

    error = caught.value
    assert not isinstance(error, GatewayUnavailable)
    assert "HTTP 401" in str(error) and "req_test_1" in str(error)
    assert TEST_KEY not in str(error) and "sk_test" not in str(error) and TEST_KEY not in repr(error.args)
    assert error.__cause__ is None and error.__suppress_context__  # Stripe's own error (and its message) is not chained


def test_a_refused_request_is_a_gateway_error_with_stripes_reason_but_no_key(stripe_api: responses.RequestsMock) -> None:
    message = f"Invalid currency: xyz. Request made with {TEST_KEY} and whsec_leaked123 was refused."
    stripe_api.post(SESSIONS, **stripe_error(400, message, code="parameter_invalid", param="currency"))

    with pytest.raises(GatewayError) as caught:
        stripe_checkout.start(method=stripe_method(), topup=stripe_topup(), urls=Urls(notify="", back=BACK))

    text = str(caught.value)
    assert not isinstance(caught.value, GatewayUnavailable)
    assert "Invalid currency: xyz" in text and "HTTP 400" in text and "parameter_invalid" in text
    assert TEST_KEY not in text and "whsec_leaked123" not in text


def test_a_key_of_any_shape_is_kept_out_of_the_message(stripe_api: responses.RequestsMock) -> None:
    key = "shop-custom-key-0123456789"
    stripe_api.post(SESSIONS, **stripe_error(400, f"Something about {key}."))

    with pytest.raises(GatewayError) as caught:
        stripe_checkout.start(method=stripe_method(api_key=key), topup=stripe_topup(), urls=Urls(notify="", back=BACK))

    assert key not in str(caught.value) and "Something about [redacted]." in str(caught.value)


def test_a_permission_error_is_a_gateway_error(stripe_api: responses.RequestsMock) -> None:
    stripe_api.post(SESSIONS, **stripe_error(403, "This key does not have permission."))

    with pytest.raises(GatewayError) as caught:
        stripe_checkout.start(method=stripe_method(), topup=stripe_topup(), urls=Urls(notify="", back=BACK))
    assert not isinstance(caught.value, GatewayUnavailable)


# verify: the signature


def test_a_signed_paid_session_is_reported_paid_with_every_fact() -> None:
    body = event("checkout.session.completed", session(reference="4f1c", amount_total=1005, payment_intent="pi_9"), event_id="evt_42")

    [report] = deliver(body, sign(body))

    assert report == Report(
        state=ReportState.PAID,
        gateway_id="cs_test_a1",
        gateway_payment="pi_9",
        reference="4f1c",
        amount=Decimal("10.05"),
        currency="USD",
        merchant=None,
        event_id="evt_42",
        detail={"stripe": "checkout.session.completed", "stripe_payment_status": "paid"},
    )


def test_a_notification_without_a_signature_is_rejected() -> None:
    body = event("checkout.session.completed", session())
    with pytest.raises(NotificationRejected):
        deliver(body, None)
    with pytest.raises(NotificationRejected):
        deliver(body, "")


@pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "v1=deadbeef", "t=1700000000", "t=1700000000,v0=abc", "t=,v1="])
def test_a_malformed_signature_header_is_rejected(header: str) -> None:
    with pytest.raises(NotificationRejected):
        deliver(event("checkout.session.completed", session()), header)


def test_a_wrong_signature_is_rejected() -> None:
    body = event("checkout.session.completed", session())
    with pytest.raises(NotificationRejected):
        deliver(body, f"t={int(time.time())},v1={'0' * 64}")


def test_a_tampered_body_is_rejected() -> None:
    body = event("checkout.session.completed", session(amount_total=100))
    header = sign(body)
    tampered = body.replace(b'"amount_total": 100', b'"amount_total": 100000')
    assert tampered != body

    with pytest.raises(NotificationRejected):
        deliver(tampered, header)
    assert deliver(body, header)  # the same header fits the body it signed


def test_a_signature_with_a_moved_timestamp_is_rejected() -> None:
    body = event("checkout.session.completed", session())
    now = int(time.time())
    with pytest.raises(NotificationRejected):
        deliver(body, f"t={now - 1},v1={signature(body, timestamp=now)}")


def test_a_timestamp_older_than_the_tolerance_is_rejected() -> None:
    body = event("checkout.session.completed", session())
    with pytest.raises(NotificationRejected, match="tolerance"):
        deliver(body, sign(body, timestamp=int(time.time()) - 301))


def test_a_timestamp_within_the_tolerance_is_accepted() -> None:
    body = event("checkout.session.completed", session())
    assert deliver(body, sign(body, timestamp=int(time.time()) - 280))


def test_a_second_v1_signature_from_secret_rotation_is_accepted() -> None:
    body = event("checkout.session.completed", session())
    now = int(time.time())
    header = f"t={now},v1={signature(body, 'whsec_the_old_secret', timestamp=now)},v1={signature(body, timestamp=now)}"

    [report] = deliver(body, header)

    assert report.state == ReportState.PAID


def test_another_accounts_genuine_event_is_rejected() -> None:
    body = event("checkout.session.completed", session())
    with pytest.raises(NotificationRejected):
        deliver(body, sign(body, OTHER_SECRET))


def test_a_method_without_a_webhook_secret_rejects_everything() -> None:
    body = event("checkout.session.completed", session())
    with pytest.raises(NotificationRejected, match="signing secret"):
        deliver(body, sign(body), stripe_method(webhook_secret=""))


def test_the_signature_header_is_found_whatever_its_case() -> None:
    body = event("checkout.session.completed", session())
    reports = stripe_checkout.verify(method=stripe_method(), body=body, headers={"stripe-signature": sign(body)})
    assert [r.state for r in reports] == [ReportState.PAID]


def test_a_signed_body_that_is_not_an_event_is_rejected() -> None:
    for body in (b"not json", b"[]", json.dumps({"object": "charge", "type": "x"}).encode(), b"\xff\xfe"):
        with pytest.raises(NotificationRejected):
            deliver(body, sign(body))


def test_a_signed_body_nested_beyond_the_parser_is_rejected() -> None:
    body = b"[" * 50_000 + b"]" * 50_000
    with pytest.raises(NotificationRejected, match="not a Stripe event"):
        deliver(body, sign(body))


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("t={now},v1=\xe9", id="v1-latin-1"),
        pytest.param("t={now},v1=\xe9{valid}", id="v1-valid-with-latin-1-tail"),
        pytest.param("t={now},v1=\xe9,v1={valid}", id="latin-1-v1-before-a-valid-one"),
        pytest.param("t={now},v1={valid},v1=\u00ff", id="latin-1-v1-after-a-valid-one"),
        pytest.param("t={now}\xa0,v1={valid}", id="latin-1-after-the-timestamp"),
        pytest.param("t={now},v1={valid},v0=\xe9", id="latin-1-in-another-scheme"),
    ],
)
def test_a_signature_header_with_non_ascii_text_is_rejected(header: str) -> None:
    # WSGI hands header bytes over as latin-1 text; the library's compare_digest(str, str) raised TypeError on them (a 500).
    body = event("checkout.session.completed", session())
    now = int(time.time())
    with pytest.raises(NotificationRejected, match="not what Stripe sends"):
        deliver(body, header.format(now=now, valid=signature(body, timestamp=now)))


def test_a_timestamp_further_ahead_than_the_tolerance_is_rejected() -> None:
    body = event("checkout.session.completed", session())
    with pytest.raises(NotificationRejected, match="tolerance"):
        deliver(body, sign(body, timestamp=int(time.time()) + 301))
    with pytest.raises(NotificationRejected, match="tolerance"):
        deliver(body, sign(body, timestamp=int(time.time()) + 86_400 * 365))


def test_a_timestamp_slightly_ahead_within_the_tolerance_is_accepted() -> None:
    # Clocks drift: Stripe's may run a little ahead of the shop's.
    body = event("checkout.session.completed", session())
    assert deliver(body, sign(body, timestamp=int(time.time()) + 280))


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("t=+{now},v1={valid}", id="plus-sign"),
        pytest.param("t=0{now},v1={valid}", id="leading-zero"),
        pytest.param("t={now},t={now},v1={valid}", id="two-timestamps"),
        pytest.param("t={now}=1,v1={valid}", id="extra-equals"),
    ],
)
def test_a_timestamp_not_written_as_stripe_writes_it_is_rejected_even_when_the_library_would_read_it(header: str) -> None:
    body = event("checkout.session.completed", session())
    now = int(time.time())
    with pytest.raises(NotificationRejected, match="one t=<unix time>"):
        deliver(body, header.format(now=now, valid=signature(body, timestamp=now)))


# verify: the account and its mode


def test_a_live_event_for_a_test_key_is_rejected() -> None:
    body = event("checkout.session.completed", session(livemode=True), livemode=True)
    with pytest.raises(NotificationRejected, match="live-mode event for a test-mode key"):
        deliver(body, sign(body))


def test_a_test_event_for_a_live_key_is_rejected() -> None:
    body = event("checkout.session.completed", session())
    with pytest.raises(NotificationRejected, match="test-mode event for a live-mode key"):
        deliver(body, sign(body), stripe_method(api_key=LIVE_KEY))


def test_a_live_event_for_a_live_key_is_accepted() -> None:
    body = event("checkout.session.completed", session(livemode=True), livemode=True)
    assert [r.state for r in deliver(body, sign(body), stripe_method(api_key=LIVE_KEY))] == [ReportState.PAID]


def test_a_restricted_key_sets_the_mode_too() -> None:
    body = event("checkout.session.completed", session(livemode=True), livemode=True)
    assert deliver(body, sign(body), stripe_method(api_key="rk_live_51Restricted"))
    with pytest.raises(NotificationRejected):
        deliver(body, sign(body), stripe_method(api_key="rk_test_51Restricted"))


def test_an_event_is_rejected_when_the_key_cannot_tell_its_mode() -> None:
    body = event("checkout.session.completed", session())
    for key in ("", "pk_test_publishable", "nonsense"):
        with pytest.raises(NotificationRejected, match="mode cannot be checked"):
            deliver(body, sign(body), stripe_method(api_key=key))


def test_an_event_without_livemode_is_rejected() -> None:
    body = json.dumps({"id": "evt_1", "object": "event", "type": "checkout.session.completed", "data": {"object": session()}}).encode()
    with pytest.raises(NotificationRejected):
        deliver(body, sign(body))


def test_a_connected_accounts_event_is_rejected() -> None:
    body = event("checkout.session.completed", session(), account="acct_someone_else")
    with pytest.raises(NotificationRejected, match="connected account"):
        deliver(body, sign(body))


# verify: each event


@pytest.mark.parametrize(
    ("payment_status", "state"),
    [("paid", ReportState.PAID), ("unpaid", ReportState.PENDING), ("no_payment_required", ReportState.MISMATCH)],
)
def test_a_completed_session_reports_by_its_payment_status(payment_status: str, state: ReportState) -> None:
    body = event("checkout.session.completed", session(payment_status=payment_status))

    [report] = deliver(body, sign(body))

    assert report.state == state
    assert (report.gateway_id, report.amount, report.currency) == ("cs_test_a1", Decimal("10.05"), "USD")


def test_a_session_that_needed_no_payment_says_why_in_its_note() -> None:
    body = event("checkout.session.completed", session(payment_status="no_payment_required", amount_total=0))
    [report] = deliver(body, sign(body))
    assert "no_payment_required" in report.note
    assert report.amount == Decimal("0.00")


@pytest.mark.parametrize(
    ("kind", "payment_status", "state"),
    [
        ("checkout.session.async_payment_succeeded", "paid", ReportState.PAID),
        ("checkout.session.async_payment_failed", "unpaid", ReportState.FAILED),
        ("checkout.session.expired", "unpaid", ReportState.EXPIRED),
    ],
)
def test_the_later_session_events_report_their_state(kind: str, payment_status: str, state: ReportState) -> None:
    body = event(kind, session(payment_status=payment_status), event_id="evt_later")

    [report] = deliver(body, sign(body))

    assert (report.state, report.gateway_id, report.gateway_payment, report.event_id) == (state, "cs_test_a1", "pi_test_1", "evt_later")
    assert report.reference == "00000000-0000-0000-0000-000000000001"
    assert report.merchant is None


def test_an_expired_session_without_a_payment_intent_has_no_gateway_payment() -> None:
    body = event("checkout.session.expired", session(status="expired", payment_status="unpaid", payment_intent=None))
    [report] = deliver(body, sign(body))
    assert (report.state, report.gateway_payment) == (ReportState.EXPIRED, "")


def test_the_reference_falls_back_to_the_metadata() -> None:
    body = event("checkout.session.completed", session(reference=None, metadata={"topup": "from-metadata"}))
    [report] = deliver(body, sign(body))
    assert report.reference == "from-metadata"


def test_a_refund_reverses_the_refunded_total_keyed_by_the_payment_intent_and_the_charges_metadata(
    stripe_api: responses.RequestsMock,
) -> None:
    obj = charge(payment_intent="pi_7", amount=1005, amount_refunded=400, metadata={"topup": REFERENCE})
    body = event("charge.refunded", obj, event_id="evt_refund")

    [report] = deliver(body, sign(body))

    assert (report.state, report.reversal) == (ReportState.REVERSED, REFUND)
    assert (report.gateway_payment, report.gateway_id, report.reference, report.reversed_total) == ("pi_7", "", REFERENCE, Decimal("4.00"))
    assert (report.amount, report.currency, report.event_id, report.merchant) == (Decimal("10.05"), "USD", "evt_refund", None)
    assert len(stripe_api.calls) == 0  # the charge named its top-up: nothing to ask


def test_a_refund_of_a_charge_without_metadata_takes_the_top_up_from_its_payment_intent(stripe_api: responses.RequestsMock) -> None:
    stripe_api.get(f"{INTENTS}/pi_7", json=payment_intent("pi_7", reference=REFERENCE))
    body = event("charge.refunded", charge(payment_intent="pi_7", amount_refunded=400), event_id="evt_refund")

    [report] = deliver(body, sign(body))

    assert (report.state, report.reversal, report.reversed_total) == (ReportState.REVERSED, REFUND, Decimal("4.00"))
    assert (report.reference, report.gateway_payment, report.gateway_id) == (REFERENCE, "pi_7", "")
    [call] = stripe_api.calls
    assert call.request.method == "GET"
    assert call.request.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert call.request.req_kwargs["timeout"] == (5, 20)


def test_a_dispute_takes_the_top_up_from_its_payment_intent(stripe_api: responses.RequestsMock) -> None:
    stripe_api.get(f"{INTENTS}/pi_8", json=payment_intent("pi_8", reference=REFERENCE))
    body = event("charge.dispute.created", dispute(payment_intent="pi_8", amount=1005), event_id="evt_dispute")

    [report] = deliver(body, sign(body))

    assert (report.state, report.reversal, report.reversed_total) == (ReportState.REVERSED, DISPUTE, Decimal("10.05"))
    assert (report.reference, report.gateway_payment, report.event_id) == (REFERENCE, "pi_8", "evt_dispute")
    assert [call.request.url for call in stripe_api.calls] == [f"{INTENTS}/pi_8"]


def test_an_inquiry_is_not_a_dispute_and_takes_nothing(stripe_api: responses.RequestsMock) -> None:
    """Stripe opens inquiries (warning_*) with charge.dispute.created too, but withdraws no funds for them."""
    for status in ("warning_needs_response", "warning_under_review"):
        body = event("charge.dispute.created", {**dispute(payment_intent="pi_8"), "status": status})
        assert deliver(body, sign(body)) == []
    assert len(stripe_api.calls) == 0  # not even the PaymentIntent is fetched


@pytest.mark.parametrize(
    ("kind", "obj", "reversal"),
    [
        ("charge.refunded", charge(amount_refunded=300), REFUND),
        ("charge.refunded", charge(amount_refunded=1005, metadata={"topup": REFERENCE}), REFUND),
        ("charge.dispute.created", dispute(amount=700), DISPUTE),
    ],
)
def test_every_reversal_report_says_which_kind_of_reversal_it_totals(
    stripe_api: responses.RequestsMock, kind: str, obj: dict, reversal: str
) -> None:
    stripe_api.get(f"{INTENTS}/pi_test_1", json=payment_intent("pi_test_1", reference=REFERENCE))
    body = event(kind, obj)

    reports = deliver(body, sign(body))

    assert [(r.state, r.reversal, r.reference) for r in reports] == [(ReportState.REVERSED, reversal, REFERENCE)]


@pytest.mark.parametrize("obj", [charge(payment_intent="pi_elsewhere"), dispute(payment_intent="pi_elsewhere")], ids=["refund", "dispute"])
def test_a_reversal_of_a_payment_intent_without_the_top_up_metadata_is_not_ours(stripe_api: responses.RequestsMock, obj: dict) -> None:
    stripe_api.get(f"{INTENTS}/pi_elsewhere", json=payment_intent("pi_elsewhere", reference=None))
    body = event("charge.refunded" if obj["object"] == "charge" else "charge.dispute.created", obj)

    assert deliver(body, sign(body)) == []
    assert len(stripe_api.calls) == 1


@pytest.mark.parametrize("obj", [charge(payment_intent=None), dispute(payment_intent=None)], ids=["refund", "dispute"])
def test_a_reversal_outside_payment_intents_is_not_ours_and_asks_nothing(stripe_api: responses.RequestsMock, obj: dict) -> None:
    body = event("charge.refunded" if obj["object"] == "charge" else "charge.dispute.created", obj)
    assert deliver(body, sign(body)) == []
    assert len(stripe_api.calls) == 0


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(stripe_error(500, "Something went wrong on Stripe's end.", "api_error"), id="http-500"),
        pytest.param(stripe_error(503, "Service unavailable.", "api_error"), id="http-503"),
        pytest.param({"body": requests.exceptions.ConnectTimeout("connect timed out")}, id="connect-timeout"),
    ],
)
def test_when_the_payment_intent_cannot_be_fetched_the_reversal_is_unavailable_so_stripe_retries(
    stripe_api: responses.RequestsMock, failure: dict
) -> None:
    stripe_api.get(f"{INTENTS}/pi_test_1", **failure)
    body = event("charge.dispute.created", dispute())

    with pytest.raises(GatewayUnavailable) as caught:
        deliver(body, sign(body))

    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert TEST_KEY not in str(caught.value)
    assert len(stripe_api.calls) == 1  # no retries of its own: Stripe sends the event again


def test_a_payment_intent_stripe_cannot_find_is_a_gateway_error(stripe_api: responses.RequestsMock) -> None:
    stripe_api.get(f"{INTENTS}/pi_test_1", **stripe_error(404, "No such payment_intent: 'pi_test_1'", code="resource_missing"))
    body = event("charge.refunded", charge())

    with pytest.raises(GatewayError, match="No such payment_intent") as caught:
        deliver(body, sign(body))

    assert not isinstance(caught.value, GatewayUnavailable)


def test_an_answer_that_is_not_the_reversed_payment_intent_is_a_gateway_error(stripe_api: responses.RequestsMock) -> None:
    stripe_api.get(f"{INTENTS}/pi_test_1", json=payment_intent("pi_someone_else", reference=REFERENCE))
    body = event("charge.refunded", charge())

    with pytest.raises(GatewayError, match="PaymentIntent"):
        deliver(body, sign(body))


def test_a_reversal_without_its_amount_is_rejected() -> None:
    obj = charge()
    del obj["amount_refunded"]
    body = event("charge.refunded", obj)
    with pytest.raises(NotificationRejected):
        deliver(body, sign(body))


@pytest.mark.parametrize("kind", ["payment_intent.succeeded", "customer.created", "checkout.session.created", "charge.dispute.closed"])
def test_a_signed_event_of_another_type_is_verified_but_reports_nothing(kind: str) -> None:
    body = event(kind, {"id": "obj_1", "object": "something"})
    assert deliver(body, sign(body)) == []


def test_an_unknown_event_type_is_still_checked_for_its_signature() -> None:
    body = event("customer.created", {"id": "cus_1", "object": "customer"})
    with pytest.raises(NotificationRejected):
        deliver(body, sign(body, OTHER_SECRET))


def test_a_session_event_without_a_session_is_rejected() -> None:
    body = event("checkout.session.completed", charge())
    with pytest.raises(NotificationRejected):
        deliver(body, sign(body))


@pytest.mark.parametrize(
    ("minor", "amount"), [(1005, "10.05"), (1, "0.01"), (1999, "19.99"), (100000, "1000.00"), (123456789, "1234567.89")]
)
def test_amounts_come_back_from_cents_exactly(minor: int, amount: str) -> None:
    body = event("checkout.session.completed", session(amount_total=minor))
    [report] = deliver(body, sign(body))
    assert report.amount == Decimal(amount) and str(report.amount) == amount


def test_a_zero_decimal_currency_is_read_in_whole_units() -> None:
    body = event("checkout.session.completed", session(amount_total=1005, currency="jpy"))
    [report] = deliver(body, sign(body))
    assert (report.amount, report.currency) == (Decimal("1005"), "JPY")


# fetch


@pytest.mark.parametrize(
    ("status", "payment_status", "state"),
    [
        ("complete", "paid", ReportState.PAID),
        ("complete", "unpaid", ReportState.PENDING),
        ("complete", "no_payment_required", ReportState.MISMATCH),
        ("open", "unpaid", ReportState.PENDING),
        ("expired", "unpaid", ReportState.EXPIRED),
    ],
)
def test_fetch_reports_the_sessions_state_from_stripe(
    stripe_api: responses.RequestsMock, status: str, payment_status: str, state: str
) -> None:
    stripe_api.get(f"{SESSIONS}/cs_test_a1", json=session(status=status, payment_status=payment_status, amount_total=1005))

    report = stripe_checkout.fetch(method=stripe_method(), topup=stripe_topup("10.05", gateway_id="cs_test_a1"))

    assert report is not None
    assert (report.state, report.gateway_id, report.gateway_payment) == (state, "cs_test_a1", "pi_test_1")
    assert (report.amount, report.currency, report.merchant, report.event_id) == (Decimal("10.05"), "USD", None, "")
    [call] = stripe_api.calls
    assert call.request.method == "GET"
    assert call.request.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert call.request.req_kwargs["timeout"] == (5, 20)


def test_fetch_before_a_session_exists_asks_nothing(stripe_api: responses.RequestsMock) -> None:
    assert stripe_checkout.fetch(method=stripe_method(), topup=stripe_topup(gateway_id="")) is None
    assert len(stripe_api.calls) == 0


def test_fetch_when_stripe_is_down_is_unavailable(stripe_api: responses.RequestsMock) -> None:
    stripe_api.get(f"{SESSIONS}/cs_test_a1", **stripe_error(503, "Service unavailable.", "api_error"))
    with pytest.raises(GatewayUnavailable):
        stripe_checkout.fetch(method=stripe_method(), topup=stripe_topup())


def test_fetch_of_an_unknown_session_is_a_gateway_error(stripe_api: responses.RequestsMock) -> None:
    stripe_api.get(f"{SESSIONS}/cs_test_a1", **stripe_error(404, "No such checkout.session: 'cs_test_a1'", code="resource_missing"))
    with pytest.raises(GatewayError, match=r"No such checkout\.session") as caught:
        stripe_checkout.fetch(method=stripe_method(), topup=stripe_topup())
    assert not isinstance(caught.value, GatewayUnavailable)


def test_fetch_refuses_an_answer_that_is_not_the_top_ups_session(stripe_api: responses.RequestsMock) -> None:
    stripe_api.get(f"{SESSIONS}/cs_test_a1", json=session(session_id="cs_test_other"))
    with pytest.raises(GatewayError, match="Checkout Session"):
        stripe_checkout.fetch(method=stripe_method(), topup=stripe_topup())


# with the crediting code: what the reports do to a real top-up


@pytest.mark.django_db
def test_a_stripe_top_up_is_credited_once_and_a_refund_takes_it_back(stripe_api: responses.RequestsMock) -> None:
    method = stripe_method(is_enabled=True)
    method.save()
    user = UserFactory()
    stripe_api.post(SESSIONS, json=created("cs_test_flow"))
    topup = topup_create(user=user, method=method, amount="10.05", urls=lambda t: Urls(notify="https://shop.example/n/", back=BACK))
    assert (topup.gateway_id, topup.pay_url) == ("cs_test_flow", "https://checkout.stripe.com/c/pay/cs_test_flow")
    assert form(stripe_api.calls[0])["client_reference_id"] == str(topup.public_id)

    paid = event(
        "checkout.session.completed",
        session(session_id="cs_test_flow", reference=str(topup.public_id), amount_total=1005, payment_intent="pi_flow"),
    )
    for _ in range(2):  # Stripe delivers at least once
        outcomes = [topup_report_apply(method=method, report=r) for r in deliver(paid, sign(paid), method)]
        assert outcomes in ([Outcome.CREDITED], [Outcome.UNCHANGED])
    topup.refresh_from_db()
    assert (topup.state, topup.gateway_payment, balance_of(user=user)) == (TopUpState.PAID, "pi_flow", Decimal("10.05"))

    stripe_api.get(f"{INTENTS}/pi_flow", json=payment_intent("pi_flow", reference=str(topup.public_id)))
    refund = event("charge.refunded", charge(payment_intent="pi_flow", amount=1005, amount_refunded=1005), event_id="evt_r")
    [report] = deliver(refund, sign(refund), method)
    assert topup_report_apply(method=method, report=report) == Outcome.REVERSED
    assert balance_of(user=user) == Decimal("0")


@pytest.mark.django_db
def test_a_paid_session_for_another_amount_is_put_up_for_review(stripe_api: responses.RequestsMock) -> None:
    method = stripe_method(is_enabled=True)
    method.save()
    user = UserFactory()
    stripe_api.post(SESSIONS, json=created("cs_test_mismatch"))
    topup = topup_create(user=user, method=method, amount="10.05", urls=lambda t: Urls(notify="", back=BACK))

    paid = event("checkout.session.completed", session(session_id="cs_test_mismatch", reference=str(topup.public_id), amount_total=105))
    [report] = deliver(paid, sign(paid), method)

    assert topup_report_apply(method=method, report=report) == Outcome.REVIEW
    topup.refresh_from_db()
    assert topup.state == TopUpState.REVIEW and balance_of(user=user) == Decimal("0")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["charge.refunded", "charge.dispute.created"])
def test_a_reversal_arriving_before_the_sessions_events_still_finds_its_top_up(stripe_api: responses.RequestsMock, kind: str) -> None:
    method = stripe_method(is_enabled=True)
    method.save()
    stripe_api.post(SESSIONS, json=created("cs_test_early"))
    topup = topup_create(user=UserFactory(), method=method, amount="10.05", urls=lambda t: Urls(notify="", back=BACK))
    assert topup.gateway_payment == ""  # no session event has named the payment intent yet
    stripe_api.get(f"{INTENTS}/pi_early", json=payment_intent("pi_early", reference=str(topup.public_id)))
    body = event(kind, charge(payment_intent="pi_early") if kind == "charge.refunded" else dispute(payment_intent="pi_early"))

    [report] = deliver(body, sign(body), method)

    assert topup_find(method=method, report=report) == topup
