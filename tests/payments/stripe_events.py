"""Stripe webhook bodies and ``Stripe-Signature`` headers built in the test, as Stripe builds them (no library help)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

SECRET = "whsec_test_0123456789abcdefTESTSECRET"
OTHER_SECRET = "whsec_test_another_account_secret_9876"
TEST_KEY = "sk_test_51ShopTestKey0123456789abcdefSECRET"
LIVE_KEY = "sk_live_51ShopLiveKey0123456789abcdefSECRET"


def signature(body: bytes, secret: str = SECRET, *, timestamp: int | None = None) -> str:
    """The ``v1`` of a header: hex HMAC-SHA256 with the endpoint secret over ``"<t>.<raw body>"``."""
    t = int(time.time()) if timestamp is None else timestamp
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str = SECRET, *, timestamp: int | None = None) -> str:
    """A complete ``Stripe-Signature`` header value: ``t=<unix time>,v1=<hex>``."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(body, secret, timestamp=t)}"


def event(kind: str, obj: dict[str, Any], *, livemode: bool = False, event_id: str = "evt_test_1", **extra: Any) -> bytes:
    """The raw body of a snapshot event, as Stripe posts it."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "livemode": livemode,
            "type": kind,
            "data": {"object": obj},
            **extra,
        }
    ).encode()


def session(
    *,
    session_id: str = "cs_test_a1",
    reference: str | None = "00000000-0000-0000-0000-000000000001",
    amount_total: int = 1005,
    currency: str = "usd",
    payment_status: str = "paid",
    status: str = "complete",
    payment_intent: str | None = "pi_test_1",
    livemode: bool = False,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Checkout Session object as Stripe sends it in an event or a retrieve."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": amount_total,
        "currency": currency,
        "client_reference_id": reference,
        "metadata": {"topup": reference} if metadata is None else metadata,
        "payment_intent": payment_intent,
        "payment_status": payment_status,
        "status": status,
        "livemode": livemode,
        "url": None if status != "open" else f"https://checkout.stripe.com/c/pay/{session_id}",
    }


def charge(
    *,
    payment_intent: str | None = "pi_test_1",
    amount: int = 1005,
    amount_refunded: int = 1005,
    currency: str = "usd",
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A charge as ``charge.refunded`` carries it; by default without the top-up's id in its metadata."""
    return {
        "id": "ch_test_1",
        "object": "charge",
        "amount": amount,
        "amount_refunded": amount_refunded,
        "refunded": amount_refunded == amount,
        "currency": currency,
        "payment_intent": payment_intent,
        "metadata": metadata or {},
    }


def dispute(*, payment_intent: str | None = "pi_test_1", amount: int = 1005, currency: str = "usd") -> dict[str, Any]:
    """A dispute as ``charge.dispute.created`` carries it: its metadata is its own (empty), not the payment's."""
    return {
        "id": "dp_test_1",
        "object": "dispute",
        "amount": amount,
        "currency": currency,
        "charge": "ch_test_1",
        "payment_intent": payment_intent,
        "metadata": {},
        "reason": "fraudulent",
        "status": "needs_response",
    }


def payment_intent(
    intent_id: str = "pi_test_1", *, reference: str | None = "00000000-0000-0000-0000-000000000001", amount: int = 1005
) -> dict[str, Any]:
    """A PaymentIntent as Stripe's retrieve returns it; Checkout copied ``payment_intent_data.metadata`` into it."""
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": "usd",
        "status": "succeeded",
        "livemode": False,
        "latest_charge": "ch_test_1",
        "metadata": {} if reference is None else {"topup": reference},
    }
