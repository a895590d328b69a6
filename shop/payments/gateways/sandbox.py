"""The built-in sandbox gateway (``shop.payments.sandbox``): test payments for ``make run`` and the tests, off in production.

Calls go to the method's API URL, signed with ``X-Sandbox-Sign: hex
HMAC-SHA256(api key, raw body)``. A notification carries ``X-Sandbox-Signature:
t=<unix>,v1=<hex HMAC-SHA256(webhook secret, "<t>.<raw body>")>``, checked here
on the raw body before anything is parsed, with a timestamp tolerance, as
Stripe's webhooks are; the merchant it names must be the method's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings

from shop.payments.interface import Checkout, GatewayError, GatewayUnavailable, NotificationRejected, Report, ReportState, Urls
from shop.payments.models import PaymentMethod, TopUp
from shop.payments.quotes import cents

TIMEOUT = (5, 20)  # connect, read (seconds)
TOLERANCE = 300  # seconds a notification's timestamp may be off
LIFETIME = 3600  # seconds the payer has to pay, unless settings.TOPUP_LIFETIME says otherwise
SIGNATURE_HEADER = "X-Sandbox-Signature"
OFF = "The sandbox gateway is for testing and is off in production."
STATES = {
    "pending": ReportState.PENDING,
    "paid": ReportState.PAID,
    "declined": ReportState.FAILED,
    "expired": ReportState.EXPIRED,
}
AMOUNT = re.compile(r"\d{1,15}(\.\d{1,8})?")
CURRENCY = re.compile(r"[A-Z]{3}")
UNEXPECTED = "The sandbox gateway sent an unexpected reply."


def start(*, method: PaymentMethod, topup: TopUp, urls: Urls) -> Checkout:
    """Create the payment at the gateway; the customer pays at its ``pay_url``."""
    _refuse_in_production()
    data = _request(
        method,
        "POST",
        "/api/payments",
        {
            "merchant": method.merchant_id,
            "amount": f"{cents(topup.amount):f}",
            "currency": topup.currency,
            "reference": str(topup.public_id),
            "callback_url": urls.notify,
            "return_url": urls.back,
            "lifetime": int(getattr(settings, "TOPUP_LIFETIME", LIFETIME)),
        },
    )
    gateway_id, pay_url = data.get("id"), data.get("pay_url")
    if not (isinstance(gateway_id, str) and 0 < len(gateway_id) <= 255 and isinstance(pay_url, str) and len(pay_url) <= 2000):
        raise GatewayError(UNEXPECTED)
    if urlsplit(pay_url).scheme not in {"http", "https"}:
        raise GatewayError(UNEXPECTED)
    return Checkout(gateway_id=gateway_id, pay_url=pay_url)


def verify(*, method: PaymentMethod, body: bytes, headers: Mapping[str, str]) -> list[Report]:
    """The report in a notification whose signature, timestamp and merchant hold; ``NotificationRejected`` otherwise."""
    if settings.PRODUCTION:
        raise NotificationRejected(OFF)
    if not method.webhook_secret:
        raise NotificationRejected("The sandbox method has no webhook secret.")
    _check_signature(method.webhook_secret, body, _header(headers, SIGNATURE_HEADER))
    try:
        data = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        event_id = data.get("event_id")
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
            raise ValueError("no event_id")
        report = _report(data.get("payment"), event_id=event_id)
    except (ValueError, RecursionError) as exc:
        raise NotificationRejected("The notification's body is malformed.") from exc
    if report.merchant != method.merchant_id:
        raise NotificationRejected("The notification is about another merchant's payment.")
    return [report]


def fetch(*, method: PaymentMethod, topup: TopUp) -> Report | None:
    """The payment's state as the gateway's server tells it; None for a top-up the gateway never saw."""
    _refuse_in_production()
    if not topup.gateway_id:
        return None
    data = _request(method, "GET", f"/api/payments/{quote(topup.gateway_id, safe='')}")
    try:
        report = _report(data)
    except ValueError as exc:
        raise GatewayError(UNEXPECTED) from exc
    if report.gateway_id != topup.gateway_id:
        raise GatewayError("The sandbox gateway answered about another payment.")
    return report


def _refuse_in_production() -> None:
    if settings.PRODUCTION:
        raise GatewayError(OFF)


def _request(method: PaymentMethod, verb: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every call to the gateway: signed, with a timeout, transport failures as ``GatewayUnavailable``."""
    if not (method.api_url and method.merchant_id and method.api_key):
        raise GatewayError("The sandbox method needs its API URL, merchant id and API key.")
    body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Accept": "application/json",
        "X-Sandbox-Merchant": method.merchant_id,
        "X-Sandbox-Sign": hmac.new(method.api_key.encode(), body, hashlib.sha256).hexdigest(),
    }
    if payload is not None:
        headers["Content-Type"] = "application/json"
    url = method.api_url.rstrip("/") + path
    try:
        response = requests.request(verb, url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema) as exc:
        raise GatewayError("The sandbox method's API URL is not valid.") from exc
    except requests.exceptions.RequestException as exc:
        raise GatewayUnavailable("The sandbox gateway could not be reached.") from exc
    status = response.status_code
    if status >= 500:
        raise GatewayUnavailable(f"The sandbox gateway failed (HTTP {status}).")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not 200 <= status < 300:
        error = data.get("error") if isinstance(data, dict) else None
        # The gateway's own words, but never a secret it echoes back (a log, a page or the history would keep it).
        detail = f": {_without_secrets(error[:200], method)}" if isinstance(error, str) else ""
        raise GatewayError(f"The sandbox gateway refused the call (HTTP {status}){detail}")
    if not isinstance(data, dict):
        raise GatewayError(UNEXPECTED)
    return data


def _without_secrets(text: str, method: PaymentMethod) -> str:
    for secret in (method.api_key, method.webhook_secret):
        if secret:
            text = text.replace(secret, "[key]")
    return text


def _check_signature(secret: str, body: bytes, header: str | None) -> None:
    if not header:
        raise NotificationRejected("The notification is not signed.")
    timestamps, candidates = [], []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            candidates.append(value)
    if len(timestamps) != 1 or not timestamps[0].isascii() or not timestamps[0].isdigit() or len(timestamps[0]) > 12 or not candidates:
        raise NotificationRejected("The notification's signature header is malformed.")
    timestamp = timestamps[0]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest().encode()
    # Every candidate is compared, so the time taken does not tell which one (or whether any) came close.
    matches = [hmac.compare_digest(expected, candidate.encode("utf-8", "replace")) for candidate in candidates]
    if not any(matches):
        raise NotificationRejected("The notification's signature does not match.")
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        raise NotificationRejected("The notification's timestamp is outside the tolerance.")


def _report(payment: Any, *, event_id: str = "") -> Report:
    """A report from the gateway's payment object; ``ValueError`` for anything not exactly as the gateway writes it."""
    if not isinstance(payment, dict):
        raise ValueError("the payment is not an object")
    fields = ("id", "merchant", "reference", "currency", "status")
    gateway_id, merchant, reference, currency, status = (_text(payment, name) for name in fields)
    amount = payment.get("amount")
    if not isinstance(amount, str) or not AMOUNT.fullmatch(amount) or Decimal(amount) <= 0:
        raise ValueError("the amount is not a positive decimal string")
    if not CURRENCY.fullmatch(currency):
        raise ValueError("the currency is not a currency code")
    if status not in STATES:
        raise ValueError("unknown status")
    return Report(
        state=STATES[status],
        gateway_id=gateway_id,
        reference=reference,
        amount=Decimal(amount),
        currency=currency,
        merchant=merchant,
        event_id=event_id,
        detail={"sandbox_status": status},
    )


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        raise ValueError(f"{name} is not text of 1 to 255 characters")
    return value


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """The header's value whatever the case of its name (a Django request's headers, or a plain dict in a test)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("a key appears twice")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
