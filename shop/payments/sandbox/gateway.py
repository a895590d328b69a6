"""One merchant's payments at the sandbox gateway: the calls' authentication, the state machine, the signed notifications."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from .delivery import RETRY_DELAYS, Courier, Delivery

__all__ = ["ACTIONS", "STATUSES", "Payment", "Refused", "SandboxGateway", "sign"]

STATUSES = ("pending", "paid", "declined", "expired")
ACTIONS = {"pay": "paid", "decline": "declined", "expire": "expired"}
MAX_LIFETIME = 7 * 24 * 3600
AMOUNT = re.compile(r"\d{1,12}(\.\d{1,2})?")
CURRENCY = re.compile(r"[A-Z]{3}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Refused(Exception):
    """A call the gateway answers with an error: ``status`` is the HTTP status, the message goes into ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def sign(key: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body`` with ``key``."""
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Payment:
    id: str
    merchant: str
    reference: str
    amount: Decimal
    currency: str
    callback_url: str
    return_url: str
    created_at: float
    expires_at: float
    status: str = "pending"
    reported_amount: Decimal | None = None  # what a test made the payer pay instead of ``amount``
    reported_currency: str | None = None
    last_delivery: Delivery | None = None

    def as_dict(self) -> dict[str, str]:
        """The payment as the API and the notifications show it."""
        amount = self.amount if self.reported_amount is None else self.reported_amount
        return {
            "id": self.id,
            "merchant": self.merchant,
            "reference": self.reference,
            "amount": f"{amount.quantize(Decimal('0.01')):f}",
            "currency": self.reported_currency or self.currency,
            "status": self.status,
        }


class SandboxGateway:
    """The payments of one merchant, known by its id, API key and webhook secret.

    ``clock`` decides expiry, and `advance` moves it on; a notification's ``t``
    is always the real time, so a shop checking its tolerance accepts it.
    """

    def __init__(
        self,
        *,
        merchant: str,
        api_key: str,
        webhook_secret: str,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (merchant and api_key and webhook_secret):
            raise ValueError("the merchant id, the API key and the webhook secret must not be empty")
        self.merchant = merchant
        self._api_key = api_key
        self._webhook_secret = webhook_secret
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.RLock()
        self._payments: dict[str, Payment] = {}
        self.courier = Courier(retry_delays)

    def now(self) -> float:
        return self._clock() + self._offset

    # -- the API --------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> None:
        """Refuse (401) a call that does not name this merchant or is not signed with its API key."""
        merchant = headers.get("X-Sandbox-Merchant") or ""
        signature = headers.get("X-Sandbox-Sign") or ""
        merchant_ok = hmac.compare_digest(merchant.encode(errors="replace"), self.merchant.encode())
        sign_ok = hmac.compare_digest(signature.encode(errors="replace"), sign(self._api_key, body).encode())
        if not (merchant_ok and sign_ok):
            raise Refused(401, "Unknown merchant or bad signature.")

    def create(self, data: Any) -> Payment:
        """A new pending payment from a ``POST /api/payments`` body (already authenticated)."""
        if not isinstance(data, dict):
            raise Refused(400, "The body must be a JSON object.")
        if data.get("merchant") != self.merchant:
            raise Refused(401, "The body names another merchant.")
        amount = _amount(data.get("amount"))
        currency = data.get("currency")
        if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
            raise Refused(400, "currency must be three capital letters, e.g. USD.")
        reference = data.get("reference")
        if not isinstance(reference, str) or not 0 < len(reference) <= 255 or CONTROL.search(reference):
            raise Refused(400, "reference must be text of 1 to 255 characters.")
        callback_url = _url(data.get("callback_url"), "callback_url")
        return_url = _url(data.get("return_url"), "return_url")
        lifetime = data.get("lifetime")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not 0 < lifetime <= MAX_LIFETIME:
            raise Refused(400, f"lifetime must be a whole number of seconds from 1 to {MAX_LIFETIME}.")
        with self._lock:
            if any(payment.reference == reference for payment in self._payments.values()):
                raise Refused(409, "A payment with this reference exists already.")
            now = self.now()
            payment = Payment(
                id=f"sbx_{secrets.token_hex(10)}",
                merchant=self.merchant,
                reference=reference,
                amount=amount,
                currency=currency,
                callback_url=callback_url,
                return_url=return_url,
                created_at=now,
                expires_at=now + lifetime,
            )
            self._payments[payment.id] = payment
        return payment

    def get(self, payment_id: str) -> Payment:
        """The payment, expired first if its lifetime is over; `Refused` (404) if there is none."""
        self.expire_due()
        with self._lock:
            payment = self._payments.get(payment_id)
        if payment is None:
            raise Refused(404, "No such payment.")
        return payment

    def payments(self) -> list[Payment]:
        """Every payment, oldest first."""
        with self._lock:
            return list(self._payments.values())

    # -- what the payer (or a test) does ---------------------------------------

    def act(
        self, payment_id: str, action: str, *, force: bool = False, amount: Decimal | None = None, currency: str | None = None
    ) -> Payment:
        """Settle a pending payment (``action`` is pay, decline or expire) and notify the shop.

        ``force`` settles one that is settled already (a late or contradicting
        notification); ``amount`` and ``currency`` make the payer pay other than
        what was asked. `Refused` (409) if the payment is not pending.
        """
        if action not in ACTIONS:
            raise Refused(400, "action must be pay, decline or expire.")
        payment = self.get(payment_id)
        with self._lock:
            if payment.status != "pending" and not force:
                raise Refused(409, f"The payment is {payment.status} already.")
            payment.status = ACTIONS[action]
            if amount is not None:
                payment.reported_amount = amount
            if currency is not None:
                payment.reported_currency = currency
        self._notify(payment)
        return payment

    def expire_due(self) -> list[Payment]:
        """Expire (and notify about) each pending payment whose lifetime is over."""
        now = self.now()
        with self._lock:
            due = [p for p in self._payments.values() if p.status == "pending" and p.expires_at <= now]
            for payment in due:
                payment.status = "expired"
        for payment in due:
            self._notify(payment)
        return due

    def advance(self, seconds: float) -> None:
        """Move the gateway's clock on (for expiry), then expire what is due."""
        with self._lock:
            self._offset += seconds
        self.expire_due()

    # -- notifications ---------------------------------------------------------

    def resend(self, payment_id: str, *, resign: bool = False) -> Delivery:
        """Deliver the payment's last notification again, byte for byte (a replay); ``resign`` signs it with a fresh ``t``."""
        payment = self.get(payment_id)
        last = payment.last_delivery
        if last is None:
            raise Refused(409, "The payment has sent no notification yet.")
        headers = self._signed(last.body) if resign else dict(last.headers)
        return self.courier.send(Delivery(last.event_id, payment.id, last.url, last.body, headers))

    def _notify(self, payment: Payment) -> Delivery:
        event_id = f"evt_{secrets.token_hex(12)}"
        sent_at = datetime.now(UTC).isoformat(timespec="seconds")
        body = json.dumps({"event_id": event_id, "payment": payment.as_dict(), "sent_at": sent_at}, separators=(",", ":")).encode()
        delivery = Delivery(event_id, payment.id, payment.callback_url, body, self._signed(body))
        payment.last_delivery = delivery
        return self.courier.send(delivery)

    def _signed(self, body: bytes) -> dict[str, str]:
        timestamp = int(time.time())
        signature = sign(self._webhook_secret, f"{timestamp}.".encode() + body)
        return {"X-Sandbox-Signature": f"t={timestamp},v1={signature}"}


def _amount(value: Any) -> Decimal:
    if not isinstance(value, str) or not AMOUNT.fullmatch(value):
        raise Refused(400, 'amount must be a string such as "25.00" (at most 2 decimal places).')
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise Refused(400, "amount is not a number.") from None
    if amount <= 0:
        raise Refused(400, "amount must be above zero.")
    return amount


def _url(value: Any, name: str) -> str:
    """An absolute http(s) URL without control characters (it ends up in a Location header)."""
    if not isinstance(value, str) or len(value) > 2000 or CONTROL.search(value):
        raise Refused(400, f"{name} must be an http(s) URL.")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Refused(400, f"{name} must be an http(s) URL.")
    return value
