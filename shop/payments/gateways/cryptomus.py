"""Cryptomus: crypto invoices (``POST /v1/payment``), their notifications, and their state fetched by the shop (``/v1/payment/info``).

Every API call is signed with ``md5(base64(body) + payment API key)`` in hex, over
the exact bytes sent, with the merchant's uuid in the ``merchant`` header. A
notification carries the same kind of signature inside its JSON, as ``sign``:
Cryptomus documents the check as PHP's ``json_encode($data, JSON_UNESCAPED_UNICODE)``
of the body without ``sign``, so ``php_json_encode`` reproduces that encoder byte for byte.

A notification that passes the check is still only a hint that something changed:
the report is built from ``payment/info``, which the shop asks for itself with the
merchant's key, so a replayed or stale notification never reports more than
Cryptomus says now. Cryptomus' fixed sender address is not checked: it is no proof.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from shop.payments.interface import REFUND, Checkout, GatewayError, GatewayUnavailable, NotificationRejected, Report, ReportState, Urls
from shop.payments.models import PaymentMethod, TopUp
from shop.payments.quotes import cents

DEFAULT_API_URL = "https://api.cryptomus.com"
TIMEOUT = (5, 20)  # connect, read (seconds)
LIFETIME = 3600  # seconds an invoice can be paid; Cryptomus allows 300 to 43200
MAX_NOTIFICATION_BYTES = 64 * 1024
# A genuine notification nests two levels (``convert``); the encoder recurses, so anything deep is refused before it.
MAX_NOTIFICATION_DEPTH = 32
MAX_REPLY_BYTES = 1024 * 1024
USER_AGENT = "smm-shop-payments/1"

# Statuses: https://doc.cryptomus.com/payments/payment-statuses
PENDING = {
    "process": "",
    "check": "",
    "confirm_check": "",
    "locked": "locked: Cryptomus holds the funds for an AML check.",
    "wrong_amount_waiting": "wrong_amount_waiting: less than asked so far; the payer may still send the rest.",
    "refund_process": "refund_process: Cryptomus is refunding this payment.",
    "refund_fail": "refund_fail: a refund of this payment failed; the payment stands.",
}
FAILED = ("fail", "system_fail", "cancel")
# Safe facts from payment/info kept in the top-up's history (no secrets are in that reply).
DETAIL_FIELDS = ("status", "is_final", "payment_amount", "payer_amount", "payer_currency", "network", "txid", "expired_at")


class _Number(str):
    """A JSON number kept as the text it was received in, so re-encoding writes it back unchanged."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        # PHP keeps the last of repeated keys; a genuine notification has none, so refuse rather than guess.
        raise ValueError("repeated key")
    return data


_PHP_ESCAPES = {
    ord('"'): '\\"',
    ord("\\"): "\\\\",
    ord("/"): "\\/",  # escaped by default; JSON_UNESCAPED_SLASHES is not in Cryptomus' flags
    ord("\b"): "\\b",
    ord("\f"): "\\f",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    0x2028: "\\u2028",  # JSON_UNESCAPED_UNICODE leaves these two escaped without JSON_UNESCAPED_LINE_TERMINATORS
    0x2029: "\\u2029",
    **{code: f"\\u{code:04x}" for code in range(0x20) if chr(code) not in "\b\f\n\r\t"},
}


def php_json_encode(value: Any) -> str:
    """``json_encode($value, JSON_UNESCAPED_UNICODE)`` of what PHP's ``json_decode($json, true)`` would make of ``value``.

    Objects keep their key order; an empty object and one keyed "0", "1", ... in
    order become PHP lists (``[]``, ``[...]``), as a decoded PHP array does. Numbers
    decoded as ``_Number`` are written back as received; ints are written as ints.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, str):
        return '"' + value.translate(_PHP_ESCAPES) + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        if list(value) == [str(index) for index in range(len(value))]:
            return "[" + ",".join(php_json_encode(item) for item in value.values()) + "]"
        return "{" + ",".join(php_json_encode(str(key)) + ":" + php_json_encode(item) for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(php_json_encode(item) for item in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as PHP would")


def signature(payload: bytes, api_key: str) -> str:
    """Cryptomus' signature of a JSON payload: md5 of its base64 joined with the payment API key, in hex."""
    return hashlib.md5(base64.b64encode(payload) + api_key.encode("utf-8"), usedforsecurity=False).hexdigest()


def start(*, method: PaymentMethod, topup: TopUp, urls: Urls) -> Checkout:
    """Create the invoice; its uuid is the top-up's gateway id. Cryptomus returns the same invoice for a repeated order_id."""
    order_id = str(topup.public_id)
    result = _call(
        method,
        "/v1/payment",
        {
            "amount": format(cents(topup.amount), "f"),
            "currency": topup.currency,
            "order_id": order_id,
            "url_callback": urls.notify,
            "url_return": urls.back,
            "url_success": urls.back,
            "lifetime": LIFETIME,
        },
    )
    uuid, url = _text(result.get("uuid")), _text(result.get("url"))
    if not uuid or not url.startswith(("https://", "http://")):
        raise GatewayError("Cryptomus created no usable invoice (no id or payment link in its reply).")
    if _text(result.get("order_id")) not in ("", order_id):
        raise GatewayError("Cryptomus answered with an invoice for another order.")
    return Checkout(gateway_id=uuid, pay_url=url)


def verify(*, method: PaymentMethod, body: bytes, headers: Mapping[str, str]) -> list[Report]:
    """Check a notification's signature, then fetch the payment's state and report that.

    Raises ``NotificationRejected`` for anything unsigned, forged, malformed or
    naming another payment than Cryptomus' own record; ``GatewayError`` (or
    ``GatewayUnavailable``) when the state could not be fetched, worth a retry.
    """
    if not method.api_key:
        raise NotificationRejected("Cryptomus is not configured: no payment API key to check the signature with.")
    data = _notification(body)
    sign = data.pop("sign", None)
    if not isinstance(sign, str) or isinstance(sign, _Number) or not sign:
        raise NotificationRejected("The notification is not signed.")
    try:
        signed = php_json_encode(data).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which PHP's decoder refuses too
        raise NotificationRejected("The notification is not valid JSON.") from None
    except RecursionError:  # _notification refuses anything this deep; kept so that no body can make a 500
        raise NotificationRejected("The notification is nested too deeply.") from None
    expected = signature(signed, method.api_key)
    if not hmac.compare_digest(expected.encode("ascii"), sign.encode("utf-8", "replace")):
        raise NotificationRejected("The notification's signature does not match.")
    if _text(data.get("type")) not in ("", "payment"):
        return []  # a static wallet's deposit: genuine, but no invoice of the shop's
    uuid, order_id = _text(data.get("uuid")), _text(data.get("order_id"))
    if not uuid or not order_id:
        raise NotificationRejected("The notification names no payment (uuid and order_id).")
    info = _call(method, "/v1/payment/info", {"uuid": uuid})
    if _text(info.get("uuid")) != uuid or _text(info.get("order_id")) != order_id:
        raise NotificationRejected("The notification does not agree with Cryptomus' record of the payment (uuid or order_id).")
    return [_report(info, notified=_text(data.get("status")))]


def fetch(*, method: PaymentMethod, topup: TopUp) -> Report | None:
    """The payment's state from Cryptomus, by its uuid (or by the shop's order id when the invoice's uuid never came back)."""
    order_id = str(topup.public_id)
    info = _call(method, "/v1/payment/info", {"uuid": topup.gateway_id} if topup.gateway_id else {"order_id": order_id})
    if _text(info.get("order_id")) != order_id or (topup.gateway_id and _text(info.get("uuid")) != topup.gateway_id):
        raise GatewayError("Cryptomus answered about another payment.")
    return _report(info)


def _notification(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise NotificationRejected("The notification is too large.")
    try:
        data = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_object,
            parse_float=_Number,
            parse_int=_Number,
            parse_constant=_refuse_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotificationRejected("The notification is not valid JSON.") from None
    if not isinstance(data, dict):
        raise NotificationRejected("The notification is not a JSON object.")
    if _depth(data) > MAX_NOTIFICATION_DEPTH:
        raise NotificationRejected(f"The notification is nested too deeply (over {MAX_NOTIFICATION_DEPTH} levels).")
    return data


def _depth(value: Any) -> int:
    """How many objects and lists deep ``value`` nests (an object of plain values is 1), counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NOTIFICATION_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _report(info: Mapping[str, Any], *, notified: str = "") -> Report:
    """A report from a ``payment/info`` result: never from a notification's body."""
    uuid = _text(info.get("uuid"))
    status = _text(info.get("status") or info.get("payment_status")).lower()
    if not uuid or not status:
        raise GatewayError("Cryptomus sent a payment without an id or a status.")
    amount = _money(info.get("amount"))
    if amount is None:
        raise GatewayError("Cryptomus sent a payment without an amount.")
    currency = _text(info.get("currency")).upper()
    detail: dict[str, Any] = {
        field: value if isinstance(value, bool) else str(value) for field in DETAIL_FIELDS if (value := info.get(field)) not in (None, "")
    }
    if notified and notified != status:
        detail["notified_status"] = notified[:40]
    report = {
        "gateway_id": uuid,
        "reference": _text(info.get("order_id")),
        "amount": amount,
        "currency": currency,
        "merchant": None,  # the reply to the shop's own signed request is about the shop's merchant account
        "event_id": f"{uuid}:{status}",
        "detail": detail,
    }
    paid = _money(info.get("payment_amount"))
    paid_in = _text(info.get("payer_currency")).upper() or currency
    if status == "paid":
        return Report(state=ReportState.PAID, **report)
    if status == "paid_over":
        extra = f" ({paid - amount} more)" if paid is not None and paid_in == currency else ""
        return Report(state=ReportState.PAID, note=f"paid_over: the payer sent {paid} {paid_in} for {amount} {currency}{extra}.", **report)
    if status == "wrong_amount":
        return Report(
            state=ReportState.MISMATCH, note=f"wrong_amount: Cryptomus received {paid} {paid_in}, less than {amount} {currency}.", **report
        )
    if status in FAILED:
        expired_at = info.get("expired_at")
        expired = status == "cancel" and isinstance(expired_at, int) and not isinstance(expired_at, bool) and expired_at <= time.time()
        return Report(state=ReportState.EXPIRED if expired else ReportState.FAILED, note=status, **report)
    if status == "refund_paid":
        note = "refund_paid: Cryptomus refunded the payment."
        return Report(state=ReportState.REVERSED, reversed_total=amount, reversal=REFUND, note=note, **report)
    note = PENDING.get(status, f"Unknown Cryptomus status {status[:40]!r}: nothing done.")
    return Report(state=ReportState.PENDING, note=note, **report)


def _call(method: PaymentMethod, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """POST a signed request; the ``result`` of a reply with state 0, else ``GatewayError`` / ``GatewayUnavailable``."""
    key = method.api_key
    if not key or not method.merchant_id:
        raise GatewayError("Cryptomus is not configured: set the merchant uuid and the payment API key.")
    body = php_json_encode(payload).encode("utf-8")
    headers = {
        "merchant": method.merchant_id,
        "sign": signature(body, key),
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    url = (method.api_url or DEFAULT_API_URL).rstrip("/") + path
    try:
        response = requests.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False, stream=True)
        try:
            raw = _read(response)
        finally:
            response.close()
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.InvalidHeader,
    ) as exc:
        raise GatewayError("The Cryptomus API URL or merchant uuid is not valid.") from exc
    except requests.exceptions.Timeout as exc:
        raise GatewayUnavailable("Cryptomus did not answer in time.") from exc
    except requests.exceptions.RequestException as exc:
        raise GatewayUnavailable("Could not reach Cryptomus.") from exc
    status = response.status_code
    if status >= 500 or status == 429:
        raise GatewayUnavailable(f"Cryptomus answered HTTP {status}; try again later.")
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise GatewayError(f"Cryptomus sent a reply that is not JSON (HTTP {status}).") from None
    if not isinstance(data, dict):
        raise GatewayError(f"Cryptomus sent an unexpected reply (HTTP {status}).")
    if status != 200 or data.get("state") != 0 or data.get("errors"):
        raise GatewayError(_refusal(data, status, key))
    result = data.get("result")
    if not isinstance(result, dict):
        raise GatewayError("Cryptomus sent a reply without a result.")
    return result


def _read(response: requests.Response) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise GatewayError("Cryptomus sent a reply too large to read.")
        chunks.append(chunk)
    return b"".join(chunks)


def _refusal(data: Mapping[str, Any], status: int, key: str) -> str:
    """Why Cryptomus refused, for staff: its message and the names of the fields it rejected, never the key."""
    message = _text(data.get("message"))
    errors = data.get("errors")
    if isinstance(errors, Mapping) and errors:
        message = f"{message + ': ' if message else ''}invalid {', '.join(str(field) for field in list(errors)[:10])}"
    message = "".join(char for char in message if char.isprintable())
    if len(key) >= 4:
        message = message.replace(key, "[key]")
    return f"Cryptomus refused the call (HTTP {status}): {message[:200] or 'no reason given'}."


def _text(value: Any) -> str:
    """A string field's text; "" for anything else (a number, null, an object)."""
    return value.strip() if isinstance(value, str) and not isinstance(value, _Number) else ""


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise GatewayError("Cryptomus sent an amount that is not a number.")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise GatewayError("Cryptomus sent an amount that is not a number.") from None
    if not amount.is_finite() or amount < 0:
        raise GatewayError("Cryptomus sent an amount that is not a number.")
    return amount
