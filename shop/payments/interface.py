"""The typed data that crosses the gateway boundary (as Saleor's ``payment/interface.py``), and the gateway's exceptions.

A gateway module turns its own wire format into these, and only these reach
the crediting code: a ``Report`` exists only after the gateway checked the
notification's signature or fetched the state from its own server.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shop.payments.models import PaymentMethod, TopUp


class GatewayError(Exception):
    """The gateway could not be reached or refused the call; nothing was credited. The message is safe to show staff."""


class GatewayUnavailable(GatewayError):
    """A transport failure or a 5xx: worth trying again later."""


class NotificationRejected(Exception):
    """A notification that failed verification (signature, timestamp, merchant, format). Answered 400; nothing written."""


class ReportState(enum.StrEnum):
    PENDING = "pending"  # still on its way: nothing to do
    PAID = "paid"  # the gateway holds the money
    FAILED = "failed"
    EXPIRED = "expired"
    REVERSED = "reversed"  # refunded or disputed: ``reversal`` says which, ``reversed_total`` how much of it so far
    MISMATCH = "mismatch"  # paid, but not as asked (e.g. Cryptomus' wrong_amount): staff decide


REFUND = "refund"
DISPUTE = "dispute"


@dataclass(frozen=True)
class Report:
    """What a gateway says about one payment, verified. Amounts in the payment's currency, ``Decimal``.

    The top-up is found by ``gateway_id``, else by ``gateway_payment``, else by
    ``reference`` (the top-up's public id the shop sent), always within the
    method the report came through.
    """

    state: ReportState
    gateway_id: str = ""
    gateway_payment: str = ""
    reference: str = ""
    amount: Decimal | None = None
    currency: str = ""
    merchant: str | None = None  # None: the gateway's reply does not name one (its signature or fetch proved it)
    reversed_total: Decimal | None = None  # with REVERSED: the running total of this kind of reversal for the payment
    reversal: str = ""  # with REVERSED: "refund" or "dispute"; the two totals add up (a refund then a dispute of the rest)
    event_id: str = ""
    note: str = ""  # for the history, e.g. "paid_over: 0.30 more than asked"
    detail: Mapping[str, Any] = field(default_factory=dict)  # safe, for the history; never secrets

    def __post_init__(self) -> None:
        # Signed but unstorable (a NUL or a lone surrogate, which JSON can escape): refused like any malformed notification.
        texts = (
            self.gateway_id,
            self.gateway_payment,
            self.reference,
            self.currency,
            self.merchant,
            self.event_id,
            self.note,
            self.reversal,
        )
        if not (_storable(list(texts)) and _storable(self.detail)):
            raise NotificationRejected("The notification carries text the shop cannot store (a NUL or a lone surrogate).")


def _storable(value: Any) -> bool:
    """Text PostgreSQL can store (no NUL, no lone surrogate), in a value or anywhere inside a list or mapping."""
    if isinstance(value, str):
        return "\x00" not in value and not any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, Mapping):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(_storable(item) for item in value)
    return True


@dataclass(frozen=True)
class Checkout:
    """The outcome of starting a payment: where to send the customer, and the gateway's id of the payment."""

    gateway_id: str = ""
    pay_url: str = ""


@dataclass(frozen=True)
class Urls:
    """The shop's absolute URLs a gateway needs for one top-up."""

    notify: str  # the notification endpoint of the method
    back: str  # the top-up's page, where the customer returns (it never credits)


class Gateway(Protocol):
    """One payment gateway. ``verify`` and ``fetch`` return only verified reports.

    ``verify`` raises ``NotificationRejected`` for a notification that fails its
    checks (answered 400), and ``GatewayError`` when it needs the gateway's server
    and cannot reach it (answered 503, so the gateway tries again); it returns
    ``[]`` for a genuine notification that is not about a top-up.
    """

    def start(self, *, method: PaymentMethod, topup: TopUp, urls: Urls) -> Checkout: ...

    def verify(self, *, method: PaymentMethod, body: bytes, headers: Mapping[str, str]) -> list[Report]: ...

    def fetch(self, *, method: PaymentMethod, topup: TopUp) -> Report | None: ...
