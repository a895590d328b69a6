"""Stripe Checkout: one Checkout Session per top-up; webhooks verified with the endpoint's signing secret.

Every API call goes through ``_request()`` with a ``StripeClient`` made for
that call from the method's own key (the global ``stripe.api_key`` is never
set), a timeout and no automatic retries: the shop retries by checking again
later. A webhook is trusted only after ``Stripe-Signature`` matched the raw
body within Stripe's 300 s tolerance (either way: the library checks only the
past); the signature proves the account, so reports name no merchant, but an
event of the other mode (live vs test) than the method's key, or of a connected
account, is refused. A refund or dispute names its top-up by the ``topup``
metadata of the charge or, failing that, of its PaymentIntent, which the shop
fetches: either may arrive before the session's own events.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import stripe

from shop.payments.interface import (
    DISPUTE,
    REFUND,
    Checkout,
    GatewayError,
    GatewayUnavailable,
    NotificationRejected,
    Report,
    ReportState,
    Urls,
)
from shop.payments.models import PaymentMethod, TopUp

TIMEOUT = (5, 20)  # connect, read (seconds)
RETRIES = 0
TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE  # 300 s
SESSION_LIFETIME = 3600  # seconds; Stripe accepts 30 min to 24 h
LINE_ITEM = "Balance top-up"
REFERENCE_KEY = "topup"  # metadata key of the top-up's public id

# https://docs.stripe.com/currencies#zero-decimal and #three-decimal. ISK is sent with two decimals that must be zero.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
NOT_TWO_DECIMAL = ZERO_DECIMAL | THREE_DECIMAL | {"ISK"}

KEY_MODE = re.compile(r"^[sr]k_(live|test)_")
SECRET_LIKE = re.compile(r"\b(?:[spr]k_(?:live|test)|whsec)_[A-Za-z0-9*]+")

SESSION_EVENTS = {
    "checkout.session.completed": None,  # by payment_status
    "checkout.session.async_payment_succeeded": ReportState.PAID,
    "checkout.session.async_payment_failed": ReportState.FAILED,
    "checkout.session.expired": ReportState.EXPIRED,
}
# The object each reversal event carries, its field with the running total of that kind of reversal, and the kind.
REVERSAL_EVENTS = {"charge.refunded": ("charge", "amount_refunded", REFUND), "charge.dispute.created": ("dispute", "amount", DISPUTE)}


def start(*, method: PaymentMethod, topup: TopUp, urls: Urls) -> Checkout:
    """Create a Checkout Session for the top-up's amount; the customer pays on Stripe's page and comes back to ``urls.back``."""
    currency = topup.currency.upper()
    if not re.fullmatch(r"[A-Z]{3}", currency) or currency in NOT_TWO_DECIMAL:
        raise GatewayError(f"Stripe top-ups here support only currencies with 2 decimal places, not {currency!r}.")
    minor = topup.amount * 100
    if minor <= 0 or minor != minor.to_integral_value():
        raise GatewayError(f"{topup.amount} {currency} is not a whole number of cents.")
    reference = str(topup.public_id)
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {"quantity": 1, "price_data": {"currency": currency.lower(), "unit_amount": int(minor), "product_data": {"name": LINE_ITEM}}}
        ],
        "client_reference_id": reference,
        "metadata": {REFERENCE_KEY: reference},
        "payment_intent_data": {"metadata": {REFERENCE_KEY: reference}},
        "success_url": urls.back,
        "cancel_url": urls.back,
        "expires_at": int(time.time()) + SESSION_LIFETIME,
    }
    session = _request(
        method, lambda client: client.v1.checkout.sessions.create(params, options={"idempotency_key": f"topup-{reference}-session"})
    )
    if not session.get("id") or not session.get("url"):
        raise GatewayError("Stripe created a Checkout Session without an id or a payment page.")
    return Checkout(gateway_id=session["id"], pay_url=session["url"])


def verify(*, method: PaymentMethod, body: bytes, headers: Mapping[str, str]) -> list[Report]:
    """Check ``Stripe-Signature`` on the raw body, then turn a top-up event into reports; other events give ``[]``."""
    if not method.webhook_secret:
        raise NotificationRejected("This Stripe method has no webhook signing secret.")
    _check_signature(body, _header(headers, "Stripe-Signature"), method.webhook_secret)
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested beyond the parser
        raise NotificationRejected("The body is not a Stripe event.") from exc
    if not isinstance(event, dict) or event.get("object") != "event" or not isinstance(event.get("type"), str):
        raise NotificationRejected("The body is not a Stripe event.")
    live = _key_is_live(method)
    if event.get("livemode") is not live:
        said = {"True": "live", "False": "test"}.get(str(event.get("livemode")), "no")
        raise NotificationRejected(f"A {said}-mode event for a {'live' if live else 'test'}-mode key.")
    if event.get("account"):
        raise NotificationRejected("An event of a connected account, not of the shop's own.")
    kind = event["type"]
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    event_id = str(event.get("id") or "")
    if kind in SESSION_EVENTS:
        session = _object(obj, "checkout.session")
        state = SESSION_EVENTS[kind] or _completed_state(session)
        return [_session_report(session, state, event_id=event_id, source=kind)]
    if kind in REVERSAL_EVENTS:
        expected, field, reversal = REVERSAL_EVENTS[kind]
        return _reversal_reports(method, _object(obj, expected), field, reversal, event_id=event_id, kind=kind)
    return []


def fetch(*, method: PaymentMethod, topup: TopUp) -> Report | None:
    """The top-up's Checkout Session as Stripe's server reports it now; ``None`` before it has one."""
    if not topup.gateway_id:
        return None
    session = _request(method, lambda client: client.v1.checkout.sessions.retrieve(topup.gateway_id))
    if session.get("object") != "checkout.session" or session.get("id") != topup.gateway_id:
        raise GatewayError("Stripe answered with something other than this top-up's Checkout Session.")
    status = session.get("status")
    if status == "expired":
        state = ReportState.EXPIRED
    elif status == "complete":
        state = _completed_state(session)
    else:  # open
        state = ReportState.PENDING
    return _session_report(session, state, source=f"fetched, session {status}")


def _check_signature(body: bytes, header: str | None, secret: str) -> None:
    """``Stripe-Signature`` as Stripe sends it, matching the raw body, its timestamp within ``TOLERANCE`` of now either way."""
    # The header is ASCII as Stripe sends it; WSGI hands other bytes over as latin-1 text, which the library's
    # compare_digest(str, str) cannot take (TypeError).
    if header is not None and not header.isascii():
        raise NotificationRejected("Stripe-Signature is not what Stripe sends: it is not ASCII.")
    try:
        stripe.WebhookSignature.verify_header(body, header, secret, tolerance=TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        raise NotificationRejected(f"Stripe-Signature rejected: {exc.user_message}") from exc
    except ValueError as exc:  # the body is not UTF-8
        raise NotificationRejected("The body is not a Stripe event.") from exc
    except TypeError as exc:  # anything else the library cannot compare or format
        raise NotificationRejected("Stripe-Signature is not what Stripe sends.") from exc
    timestamps = [value for name, _, value in (item.partition("=") for item in (header or "").split(",")) if name == "t"]
    if len(timestamps) != 1 or not re.fullmatch(r"[1-9][0-9]{0,11}", timestamps[0]):
        raise NotificationRejected("Stripe-Signature is not what Stripe sends: one t=<unix time> is expected.")
    if int(timestamps[0]) > time.time() + TOLERANCE:  # the library checks only the past
        raise NotificationRejected(f"Stripe-Signature rejected: the timestamp is over {TOLERANCE} s ahead (outside the tolerance).")


def _request(method: PaymentMethod, call: Callable[[stripe.StripeClient], stripe.StripeObject]) -> dict[str, Any]:
    """The one way to Stripe's API: the method's key, a timeout, no retries, and Stripe's errors as the shop's."""
    key = method.api_key
    if not key:
        raise GatewayError("This Stripe method has no API key.")
    http_client = stripe.RequestsClient(timeout=TIMEOUT)
    client = stripe.StripeClient(key, http_client=http_client, max_network_retries=RETRIES)
    try:
        return call(client).to_dict()
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise GatewayUnavailable(_safe_message(exc, key, "Stripe is unavailable")) from None  # Stripe's text may hold the key
    except stripe.StripeError as exc:
        if (exc.http_status or 0) >= 500:
            raise GatewayUnavailable(_safe_message(exc, key, "Stripe is unavailable")) from None  # Stripe's text may hold the key
        # Not chained: Stripe's own message may echo a masked key; the safe one below keeps its request id.
        raise GatewayError(_safe_message(exc, key, "Stripe refused the request")) from None
    finally:
        http_client.close()


def _safe_message(exc: stripe.StripeError, key: str, prefix: str) -> str:
    """Staff-safe text: the error's kind, status, code, request id and Stripe's message with anything key-like removed."""
    if isinstance(exc, stripe.AuthenticationError):
        told = "the API key was not accepted"
    elif isinstance(exc, stripe.APIConnectionError):
        told = "could not connect"
    else:
        told = SECRET_LIKE.sub("[redacted]", (exc.user_message or "").replace(key, "[redacted]"))[:300]
    facts = ", ".join(str(x) for x in (type(exc).__name__, exc.http_status and f"HTTP {exc.http_status}", exc.code, exc.request_id) if x)
    return f"{prefix} ({facts}): {told}" if told else f"{prefix} ({facts})."


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if name in headers:
        return headers[name]
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def _key_is_live(method: PaymentMethod) -> bool:
    match = KEY_MODE.match(method.api_key or "")
    if match is None:
        raise NotificationRejected("This Stripe method's API key is missing or not a secret key: the event's mode cannot be checked.")
    return match.group(1) == "live"


def _object(obj: Any, expected: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or obj.get("object") != expected or not isinstance(obj.get("id"), str):
        raise NotificationRejected(f"The event does not carry a {expected}.")
    return obj


def _completed_state(session: Mapping[str, Any]) -> ReportState:
    status = session.get("payment_status")
    if status == "paid":
        return ReportState.PAID
    if status == "unpaid":  # an async method (bank debit): the async_payment events follow
        return ReportState.PENDING
    return ReportState.MISMATCH  # no_payment_required (a 100% discount) or unknown: no money arrived, staff decide


def _session_report(session: Mapping[str, Any], state: ReportState, *, event_id: str = "", source: str) -> Report:
    metadata = session.get("metadata") if isinstance(session.get("metadata"), dict) else {}
    currency = str(session.get("currency") or "").upper()
    note = f"Stripe payment_status {session.get('payment_status')!r}" if state == ReportState.MISMATCH else ""
    return Report(
        state=state,
        gateway_id=session["id"],
        gateway_payment=_id(session.get("payment_intent")),
        reference=str(session.get("client_reference_id") or metadata.get(REFERENCE_KEY) or ""),
        amount=_from_minor(session.get("amount_total"), currency),
        currency=currency,
        merchant=None,
        event_id=event_id,
        note=note,
        detail={"stripe": source, "stripe_payment_status": str(session.get("payment_status") or "")},
    )


def _reversal_reports(
    method: PaymentMethod, obj: Mapping[str, Any], field: str, reversal: str, *, event_id: str, kind: str
) -> list[Report]:
    """A refund's or a dispute's running total, with the top-up's public id so that it finds its top-up in any order.

    Raises ``GatewayError`` (``GatewayUnavailable`` when worth a retry) when the PaymentIntent could not be fetched.
    """
    if reversal == DISPUTE and str(obj.get("status") or "").startswith("warning_"):
        return []  # an inquiry (no funds are withdrawn); if it becomes a dispute, Stripe sends charge.dispute.created again
    currency = str(obj.get("currency") or "").upper()
    total = _from_minor(obj.get(field), currency)
    if total is None:
        raise NotificationRejected(f"The {obj.get('object')} has no {field}.")
    payment = _id(obj.get("payment_intent"))
    reference = _reference(obj)
    if not reference:
        if not payment:
            return []  # a charge outside Checkout: not a top-up
        reference = _intent_reference(method, payment)
        if not reference:
            return []  # a PaymentIntent the shop's Checkout did not create
    return [
        Report(
            state=ReportState.REVERSED,
            gateway_payment=payment,
            reference=reference,
            amount=_from_minor(obj.get("amount"), currency),
            currency=currency,
            merchant=None,
            reversed_total=total,
            reversal=reversal,
            event_id=event_id,
            detail={"stripe": kind, "stripe_object": obj["id"]},
        )
    ]


def _intent_reference(method: PaymentMethod, payment: str) -> str:
    """The top-up's public id in the PaymentIntent's metadata (set at session creation), fetched from Stripe; "" when none."""
    intent = _request(method, lambda client: client.v1.payment_intents.retrieve(payment))
    if intent.get("object") != "payment_intent" or intent.get("id") != payment:
        raise GatewayError("Stripe answered with something other than the reversed payment's PaymentIntent.")
    return _reference(intent)


def _reference(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return str(metadata.get(REFERENCE_KEY) or "")


def _id(value: Any) -> str:
    """An id that Stripe sends either as a string or, when expanded, as an object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _from_minor(value: Any, currency: str) -> Decimal | None:
    """Stripe's integer amount in the currency's smallest unit as a ``Decimal`` (1005 USD -> 10.05)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    places = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return Decimal(value).scaleb(-places)
