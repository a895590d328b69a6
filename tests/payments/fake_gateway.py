"""A gateway module for tests of the views and tasks, registered by monkeypatching ``shop.payments.gateway.MODULES``.

It keeps the gateway protocol (``start``, ``verify``, ``fetch``) and answers
as ``script`` says: ``start`` gives a fixed checkout, ``verify`` accepts a JSON
body signed with HMAC-SHA256 of the method's webhook secret in
``X-Fake-Signature``, and ``fetch`` returns ``script.fetched`` (about the top-up asked for
when it names no payment). Any of the three
raises ``script.<name>_error`` when it is set. Every call is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from shop.payments.interface import Checkout, NotificationRejected, Report, ReportState, Urls
from shop.payments.models import PaymentMethod, TopUp

PAY_HOST = "https://pay.fake-gateway.test"
SECRET = "whsec-fake-test-secret"


@dataclass
class Script:
    start_error: Exception | None = None
    verify_error: Exception | None = None
    fetch_error: Exception | None = None
    fetched: Report | None = None
    calls: list[tuple[str, object]] = field(default_factory=list)

    def called(self, name: str) -> list[object]:
        return [argument for call, argument in self.calls if call == name]


script = Script()


def install(monkeypatch) -> Script:
    """Serve the ``sandbox`` kind with this module for one test, with a fresh script."""
    from shop.payments import gateway

    global script
    script = Script()
    monkeypatch.setitem(gateway.MODULES, PaymentMethod.Kind.SANDBOX, __name__)
    return script


def method(**fields: object) -> PaymentMethod:
    """An enabled method served by this module (sandbox kind), with a webhook secret."""
    values = {"code": "fake", "kind": PaymentMethod.Kind.SANDBOX, "name": "Fake card", "is_enabled": True, "webhook_secret": SECRET}
    return PaymentMethod.objects.create(**{**values, **fields})


def gateway_id(topup: TopUp) -> str:
    return f"fake-{topup.public_id}"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def notification(*, topup: TopUp, state: str = "paid", amount: str | None = None, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    """A body and its signature header (as a test client's extra), as the fake gateway's server would post them."""
    data = {"id": gateway_id(topup), "state": state, "amount": amount or f"{topup.amount:.2f}", "currency": topup.currency}
    body = json.dumps(data).encode()
    return body, {"HTTP_X_FAKE_SIGNATURE": sign(secret, body)}


def paid(topup: TopUp) -> Report:
    return Report(state=ReportState.PAID, gateway_id=gateway_id(topup), amount=topup.amount, currency=topup.currency)


def start(*, method: PaymentMethod, topup: TopUp, urls: Urls) -> Checkout:
    script.calls.append(("start", urls))
    if script.start_error:
        raise script.start_error
    return Checkout(gateway_id=gateway_id(topup), pay_url=f"{PAY_HOST}/pay/{topup.public_id}")


def verify(*, method: PaymentMethod, body: bytes, headers: Mapping[str, str]) -> list[Report]:
    script.calls.append(("verify", body))
    if script.verify_error:
        raise script.verify_error
    if not hmac.compare_digest(headers.get("X-Fake-Signature", ""), sign(method.webhook_secret, body)):
        raise NotificationRejected("Bad signature.")
    data = json.loads(body)
    return [Report(state=ReportState(data["state"]), gateway_id=data["id"], amount=Decimal(data["amount"]), currency=data["currency"])]


def fetch(*, method: PaymentMethod, topup: TopUp) -> Report | None:
    script.calls.append(("fetch", topup.pk))
    if script.fetch_error:
        raise script.fetch_error
    if script.fetched is not None and not script.fetched.gateway_id:  # a fixed state, about the top-up asked for
        return replace(script.fetched, gateway_id=gateway_id(topup))
    return script.fetched
