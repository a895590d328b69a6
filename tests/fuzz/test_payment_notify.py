"""Fuzzing the payment notification endpoint (``POST /payments/notify/<code>/``) of each gateway kind: sandbox, Stripe, Cryptomus.

Each kind gets a method with its keys set here, a pending top-up of one
customer and one of another, and notifications built as its gateway builds
them: the sandbox's and Stripe's signed in a header over the raw body,
Cryptomus' signed inside the JSON. ``responses`` answers what verification
asks the gateway's server: Cryptomus' ``payment/info`` and Stripe's
PaymentIntent (for a refund or dispute whose charge names no top-up); the
sandbox asks nothing (checked), and any other outbound call fails, so nothing
reaches a network.

What it proves:

- whatever the body (bytes, JSON of any shape, huge, not UTF-8) and the
  headers (signature missing, malformed, wrong, stale), the answer is one the
  view defines (200, 400, 404, 405, 503), never a 500, and nothing is logged
  at ERROR or with a traceback;
- an answer of 400 (and of 404, 405, 503) leaves every row of every table as
  it was;
- a genuine notification changed in any way (a byte flipped; the amount,
  currency, merchant, reference, status or payment id changed; re-signed with
  another secret; its signature header mangled, too old or too far ahead) is
  answered 400;
- a body of any shape signed with the right secret (which only the gateway
  could send) is still answered 200, 400 or 503, never 500;
- genuine notifications delivered any number of times, in any order, among
  others (other states of the same payment, another customer's payment,
  forgeries) credit each top-up once at most: exactly once when a paid report
  came before anything that put it up for review; the ledger agrees with the
  top-ups and every balance with its ledger.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import responses
from django.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from shop.models import LedgerEntry, PaymentMethod, TopUp, Wallet
from shop.payments.audit import topup_ledger_differences
from shop.payments.views import MAX_NOTIFICATION_BYTES
from shop.wallet.selectors import ledger_differences
from tests.factories import UserFactory
from tests.fuzz.conftest import rolled_back
from tests.fuzz.strategies import any_text, fuzz_settings
from tests.payments import stripe_events
from tests.security.conftest import database_snapshot

pytestmark = pytest.mark.postgres

ANSWERS = {200, 400, 404, 405, 503}
NOTHING_WRITTEN = {400, 404, 405, 503}
AMOUNT, FEE, BONUS = Decimal("25.00"), Decimal("0.50"), Decimal("1.25")
OTHER_SECRET = "whsec_another_merchants_secret_0f9e8d"

SANDBOX_MERCHANT = "fuzz-shop"
SANDBOX_KEY = "fuzz-sandbox-api-key-5e1d0c"
SANDBOX_SECRET = "fuzz-sandbox-webhook-secret-9c3b2a"
CRYPTOMUS_MERCHANT = "8b03432e-385b-4670-8d06-064591096795"
CRYPTOMUS_KEY = "fuzz-cryptomus-payment-key-7b2a19"
CRYPTOMUS_INFO = "https://api.cryptomus.com/v1/payment/info"
STRIPE_INTENTS = "https://api.stripe.com/v1/payment_intents/"
STACK = sys.getrecursionlimit()
# Deeper than any stack the parser could have: hypothesis itself raises the recursion limit while a test runs.
TOO_DEEP = 30_000


# What a gateway sends -----------------------------------------------------------------------------------------------


def hmac_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``: how both the sandbox and Stripe sign (built here, not by the shop)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={hmac.new(secret.encode(), f'{t}.'.encode() + body, hashlib.sha256).hexdigest()}"


def php_like(data: Any) -> str:
    """``json_encode($data, JSON_UNESCAPED_UNICODE)`` for plain data: no floats, no empty objects, no objects keyed "0", "1", ..."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("/", "\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def cryptomus_sign(data: dict[str, Any], key: str) -> str:
    text = php_like(data).encode("utf-8", "surrogatepass")  # a lone surrogate: signed anyway (the shop must refuse it)
    return hashlib.md5(base64.b64encode(text) + key.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Notification:
    body: bytes
    headers: dict[str, str]


@dataclass
class Wire:
    """One gateway kind as its server talks to the shop: the method, the notification it sends, and where its fields are.

    ``fields`` maps what a tamper may change (amount, currency, merchant,
    reference, status, id) to its path in the payload; ``statuses`` maps a
    label to the payload changes giving that state, ``paid_labels`` are those
    that credit, and ``mismatch`` the changes making a genuine notification of
    a payment unlike the top-up (None where the gateway cannot send one).
    """

    kind: str
    header: str | None
    secret: str
    fields: dict[str, tuple[str, ...]]
    statuses: dict[str, dict[tuple[str, ...], Any]]
    mismatch: dict[tuple[str, ...], Any] | None
    paid_labels: tuple[str, ...]
    new_method: Callable[[], PaymentMethod]
    build: Callable[[TopUp], dict[str, Any]]
    gateway_ids: tuple[str, str]

    def payload(self, topup: TopUp, label: str = "paid") -> dict[str, Any]:
        payload = self.build(topup)
        for path, value in self.statuses[label].items():
            payload = with_value(payload, path, value)
        return payload

    def encode(self, payload: dict[str, Any], *, secret: str | None = None, timestamp: int | None = None) -> Notification:
        """The payload as the gateway posts it, signed with ``secret`` (the method's by default)."""
        secret = self.secret if secret is None else secret
        if self.header is None:  # Cryptomus: the signature is a member of the body, over the rest as PHP encodes it
            data = {name: value for name, value in payload.items() if name != "sign"}
            return Notification(json.dumps({**data, "sign": cryptomus_sign(data, secret)}).encode(), {})
        body = json.dumps(payload, separators=(",", ":")).encode()
        return Notification(body, {self.header: hmac_header(body, secret, timestamp)})

    def sign_raw(self, text: str) -> Notification:
        """A JSON text signed with the right secret, whatever it holds (Cryptomus: an object whose members PHP would encode alike)."""
        if self.header is None:
            data = json.loads(text)
            return Notification(json.dumps({**data, "sign": cryptomus_sign(data, self.secret)}).encode(), {})
        body = text.encode("utf-8", "surrogatepass")
        return Notification(body, {self.header: hmac_header(body, self.secret)})


def with_value(data: Any, path: tuple[str, ...], value: Any) -> Any:
    """A copy of ``data`` with the member at ``path`` set to ``value`` (its parents made objects if they are not)."""
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else {}
    copy[path[0]] = with_value(copy.get(path[0]), path[1:], value)
    return copy


def value_at(data: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        data = data.get(name) if isinstance(data, dict) else None
    return data


def sandbox_wire() -> Wire:
    def new_method() -> PaymentMethod:
        return PaymentMethod.objects.create(
            code="sandbox",
            kind=PaymentMethod.Kind.SANDBOX,
            name="Sandbox",
            is_enabled=True,
            api_url="http://127.0.0.1:9/",  # never asked: verification needs no call
            merchant_id=SANDBOX_MERCHANT,
            api_key=SANDBOX_KEY,
            webhook_secret=SANDBOX_SECRET,
        )

    def build(topup: TopUp) -> dict[str, Any]:
        return {
            "event_id": f"evt_{topup.gateway_id}",
            "payment": {
                "id": topup.gateway_id,
                "merchant": SANDBOX_MERCHANT,
                "reference": str(topup.public_id),
                "amount": f"{topup.amount:.2f}",
                "currency": topup.currency,
                "status": "paid",
            },
            "sent_at": "2025-06-01T12:00:00+00:00",
        }

    status = ("payment", "status")
    return Wire(
        kind="sandbox",
        header="X-Sandbox-Signature",
        secret=SANDBOX_SECRET,
        fields={
            "amount": ("payment", "amount"),
            "currency": ("payment", "currency"),
            "merchant": ("payment", "merchant"),
            "reference": ("payment", "reference"),
            "status": status,
            "id": ("payment", "id"),
        },
        statuses={label: {status: label, ("event_id",): f"evt_{label}"} for label in ("paid", "pending", "declined", "expired")},
        mismatch={("payment", "amount"): "2500.00"},
        paid_labels=("paid",),
        new_method=new_method,
        build=build,
        gateway_ids=("sbx_fuzz_a", "sbx_fuzz_b"),
    )


def stripe_wire() -> Wire:
    def new_method() -> PaymentMethod:
        return PaymentMethod.objects.create(
            code="stripe",
            kind=PaymentMethod.Kind.STRIPE,
            name="Card (Stripe)",
            is_enabled=True,
            api_key=stripe_events.TEST_KEY,
            webhook_secret=stripe_events.SECRET,
        )

    def build(topup: TopUp) -> dict[str, Any]:
        obj = stripe_events.session(
            session_id=topup.gateway_id,
            reference=str(topup.public_id),
            amount_total=int(topup.amount * 100),
            payment_intent=topup.gateway_id.replace("cs_", "pi_"),
        )
        return json.loads(stripe_events.event("checkout.session.completed", obj, event_id=f"evt_{topup.gateway_id}"))

    def reversal(kind: str, topup_amount: int) -> dict[tuple[str, ...], Any]:
        maker = stripe_events.charge if kind == "charge.refunded" else stripe_events.dispute
        obj = maker(payment_intent="pi_fuzz_a", amount=topup_amount)
        if kind == "charge.refunded":
            obj = {**obj, "amount_refunded": topup_amount, "refunded": True}
        return {("type",): kind, ("data", "object"): obj, ("id",): f"evt_{kind}"}

    payment_status = ("data", "object", "payment_status")
    minor = int(AMOUNT * 100)
    return Wire(
        kind="stripe",
        header="Stripe-Signature",
        secret=stripe_events.SECRET,
        fields={
            "amount": ("data", "object", "amount_total"),
            "currency": ("data", "object", "currency"),
            "merchant": ("account",),  # a connected account's event: the shop's own account is proved by the signature
            "reference": ("data", "object", "client_reference_id"),
            "status": payment_status,
            "id": ("data", "object", "id"),
        },
        statuses={
            "paid": {},
            "async paid": {("type",): "checkout.session.async_payment_succeeded", ("id",): "evt_async_ok"},
            "unpaid": {payment_status: "unpaid", ("id",): "evt_unpaid"},
            "async failed": {("type",): "checkout.session.async_payment_failed", payment_status: "unpaid", ("id",): "evt_async_no"},
            "expired": {("type",): "checkout.session.expired", payment_status: "unpaid", ("id",): "evt_expired"},
            "refunded": reversal("charge.refunded", minor),
            "disputed": reversal("charge.dispute.created", minor),
        },
        mismatch={("data", "object", "amount_total"): minor * 100},
        paid_labels=("paid", "async paid"),
        new_method=new_method,
        build=build,
        gateway_ids=("cs_fuzz_a", "cs_fuzz_b"),
    )


def cryptomus_wire() -> Wire:
    def new_method() -> PaymentMethod:
        return PaymentMethod.objects.create(
            code="cryptomus",
            kind=PaymentMethod.Kind.CRYPTOMUS,
            name="Crypto (Cryptomus)",
            is_enabled=True,
            merchant_id=CRYPTOMUS_MERCHANT,
            api_key=CRYPTOMUS_KEY,
        )

    def build(topup: TopUp) -> dict[str, Any]:
        return {
            "type": "payment",
            "uuid": topup.gateway_id,
            "order_id": str(topup.public_id),
            "amount": f"{topup.amount:.2f}",
            "payment_amount": f"{topup.amount:.2f}",
            "currency": topup.currency,
            "network": "tron",
            "url": f"https://pay.cryptomus.com/pay/{topup.gateway_id}",
            "status": "paid",
            "is_final": True,
        }

    return Wire(
        kind="cryptomus",
        header=None,
        secret=CRYPTOMUS_KEY,
        fields={
            "amount": ("amount",),
            "currency": ("currency",),
            "merchant": ("merchant",),  # Cryptomus names no merchant: its signature proves it, so any member added breaks it
            "reference": ("order_id",),
            "status": ("status",),
            "id": ("uuid",),
        },
        # Whatever the notification says, the report comes from payment/info, which says paid: each label credits.
        statuses={
            label: {("status",): label, ("is_final",): label not in ("process", "check")}
            for label in ("paid", "process", "fail", "cancel", "check")
        },
        mismatch=None,
        paid_labels=("paid", "process", "fail", "cancel", "check"),
        new_method=new_method,
        build=build,
        gateway_ids=("62f88b36-a9d5-4fa6-aa26-e040c3dbf26d", "0b5f0d52-1111-4c1e-9a0e-6f2b7c1d9e01"),
    )


WIRES = {"sandbox": sandbox_wire, "stripe": stripe_wire, "cryptomus": cryptomus_wire}


@dataclass
class Setup:
    wire: Wire
    method: PaymentMethod
    mine: TopUp  # the top-up the tests pay
    theirs: TopUp  # another customer's, paid now and then in between
    url: str
    api: responses.RequestsMock

    def deliver(self, client: Client, note: Notification, *, verb: str = "POST", url: str | None = None):
        return client.generic(verb, url or self.url, note.body, content_type="application/json", headers=note.headers)


def cryptomus_info(topup: TopUp) -> dict[str, Any]:
    return {
        "uuid": topup.gateway_id,
        "order_id": str(topup.public_id),
        "amount": f"{topup.amount:.2f}",
        "payment_amount": f"{topup.amount:.2f}",
        "payer_amount": f"{topup.amount:.2f}",
        "payer_currency": "USDT",
        "currency": topup.currency,
        "network": "tron",
        "status": "paid",
        "payment_status": "paid",
        "is_final": True,
        "expired_at": int(time.time()) + 3600,
    }


@pytest.fixture(params=sorted(WIRES))
def setup(request, db) -> Iterator[Setup]:
    """A method of each kind with its keys, a pending top-up of 25.00 (fee 0.50, bonus 1.25) per customer, and the gateway's API."""
    wire = WIRES[request.param]()
    method = wire.new_method()
    mine, theirs = (
        TopUp.objects.create(
            user=UserFactory(username=f"payer-{label}"),
            method=method,
            amount=AMOUNT,
            fee=FEE,
            bonus=BONUS,
            currency="USD",
            gateway_id=gateway_id,
        )
        for label, gateway_id in zip(("mine", "theirs"), wire.gateway_ids, strict=True)
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        if wire.kind == "cryptomus":
            infos = {topup.gateway_id: cryptomus_info(topup) for topup in (mine, theirs)}  # Cryptomus says both are paid

            def payment_info(call) -> tuple[int, dict[str, str], str]:
                asked = json.loads(call.body).get("uuid")
                if isinstance(asked, str) and asked in infos:
                    return 200, {}, json.dumps({"state": 0, "result": infos[asked]})
                return 404, {}, json.dumps({"state": 1, "message": "Not found payment"})

            api.add_callback(responses.POST, CRYPTOMUS_INFO, callback=payment_info, content_type="application/json")
        if wire.kind == "stripe":  # a refund or a dispute whose charge names no top-up: its PaymentIntent's metadata does
            intents = {topup.gateway_id.replace("cs_", "pi_"): str(topup.public_id) for topup in (mine, theirs)}

            def payment_intent(call) -> tuple[int, dict[str, str], str]:
                asked = call.path_url.rsplit("/", 1)[-1]
                if asked in intents:
                    return 200, {}, json.dumps({"id": asked, "object": "payment_intent", "metadata": {"topup": intents[asked]}})
                return 404, {}, json.dumps({"error": {"type": "invalid_request_error", "message": "No such payment_intent"}})

            api.add_callback(responses.GET, re.compile(re.escape(STRIPE_INTENTS) + r"[^/?]+"), callback=payment_intent)
        yield Setup(wire, method, mine, theirs, f"/payments/notify/{method.code}/", api)
    if wire.kind == "sandbox":
        assert not api.calls, "the sandbox verifies a notification without calling anything"


def check(response, *, before: dict[str, list[tuple]] | None = None) -> int:
    """What every answer must be: one the view defines, and (when it refused) no row changed. Returns the status."""
    status = response.status_code
    assert status in ANSWERS, (status, response.content[:300])
    if before is not None and status in NOTHING_WRITTEN:
        after = database_snapshot()
        changed = {table for table in before if before[table] != after[table]}
        assert not changed, f"a notification answered {status} changed {sorted(changed)}"
    return status


def no_traceback(caplog) -> None:
    """Nothing logged with a traceback, nor at ERROR (but Django's own line for a 503, which the view answers on purpose)."""

    def bad(record: logging.LogRecord) -> bool:
        if record.exc_info:
            return True
        return record.levelno >= logging.ERROR and not (record.name == "django.request" and getattr(record, "status_code", 0) == 503)

    assert not [record for record in caplog.records if bad(record)], [record.getMessage()[:200] for record in caplog.records if bad(record)]


def credits_of(topup: TopUp) -> int:
    return LedgerEntry.objects.filter(topup=topup, kind=LedgerEntry.Kind.TOPUP).count()


# Any body, any headers ----------------------------------------------------------------------------------------------

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    st.sampled_from(("\ud800", "a\udfffb", "\x00", "sbx_fuzz_a\x00", "cs_fuzz_a\u202e")),  # lone surrogates: valid JSON escapes
)
json_value = st.recursive(
    json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8
)
# What PHP's json_encode writes as Python's json.dumps does (so a Cryptomus signature can be made here): no floats,
# no empty objects, no keys "0", "1", ...; lone surrogates are left to the unsigned tests.
plain_scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), any_text)
plain_value = st.recursive(
    plain_scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text("abcxyz_-/é", min_size=1, max_size=6), inner, min_size=1, max_size=3)
    ),
    max_leaves=8,
)


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def huge_bodies() -> st.SearchStrategy[bytes]:
    """Around and far past the endpoint's 64 KiB, as JSON and as nesting deeper than any parser's stack."""
    around = st.integers(min_value=MAX_NOTIFICATION_BYTES - 16, max_value=MAX_NOTIFICATION_BYTES + 16)
    return st.one_of(
        around.map(lambda n: b'{"a":"' + b"x" * max(0, n - 8) + b'"}'),
        st.integers(min_value=2 * MAX_NOTIFICATION_BYTES, max_value=3 * 1024 * 1024).map(lambda n: b"x" * n),
        st.integers(min_value=STACK, max_value=MAX_NOTIFICATION_BYTES // 2).map(lambda n: nested(n).encode()),
        st.integers(min_value=STACK, max_value=MAX_NOTIFICATION_BYTES // 6).map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
    )


@st.composite
def unsigned_body(draw: st.DrawFn, setup: Setup) -> bytes:
    """Bytes, JSON of any shape, the genuine payload with members swapped, huge, not UTF-8: nothing the right secret signed."""
    genuine = setup.wire.payload(setup.mine)
    shape = draw(st.sampled_from(("bytes", "json", "payload", "huge", "not utf-8")))
    if shape == "bytes":
        return draw(st.binary(max_size=400))
    if shape == "json":
        return json.dumps(draw(json_value)).encode("utf-8", "surrogatepass")
    if shape == "huge":
        return draw(huge_bodies())
    payload = genuine
    for name in draw(st.sets(st.sampled_from(sorted(setup.wire.fields)), max_size=3)):
        payload = with_value(payload, setup.wire.fields[name], draw(json_value))
    if setup.wire.header is None and draw(st.booleans()):  # a sign member of any shape, or signed with another key
        payload = {**payload, "sign": draw(st.one_of(json_value, st.just(cryptomus_sign(payload, OTHER_SECRET))))}
    body = json.dumps(payload).encode("utf-8", "surrogatepass")
    if shape == "not utf-8":
        at = draw(st.integers(0, len(body)))
        encoding = draw(st.sampled_from(("bad byte", "utf-16", "latin-1")))
        if encoding == "bad byte":
            return body[:at] + draw(st.sampled_from((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"))) + body[at:]
        return json.dumps(payload, ensure_ascii=False).encode(encoding, "replace")
    return body


def header_text() -> st.SearchStrategy[str]:
    """A header's value as a WSGI server hands it over: any bytes read as latin-1."""
    return st.one_of(
        any_text.map(lambda text: text.encode("utf-8", "replace").decode("latin-1")),
        st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
    )


@st.composite
def unsigned_headers(draw: st.DrawFn, setup: Setup, body: bytes) -> dict[str, str]:
    """No signature, a malformed one, one of another secret, a stale one, or one of another body; and stray headers."""
    headers = draw(
        st.dictionaries(
            st.sampled_from(("X-Forwarded-For", "User-Agent", "Sign", "Merchant", "X-Signature", "Content-Encoding")),
            header_text(),
            max_size=3,
        )
    )
    name = setup.wire.header or "Sign"  # Cryptomus signs in the body; a "sign" header proves nothing
    now = int(time.time())
    value = draw(
        st.one_of(
            st.none(),
            header_text(),
            st.just(hmac_header(body, OTHER_SECRET)),
            st.integers(min_value=301, max_value=10**9).map(lambda age: hmac_header(body, setup.wire.secret, now - age)),
            st.just(hmac_header(body + b" ", setup.wire.secret)),
            st.sampled_from(("t=,v1=", "v1=", f"t={now}", f"t={now},v0=00", "t=x,v1=y", ",,,", "=", "t=1,t=2,v1=3")),
        )
    )
    if value is not None:
        headers[name] = value
    return headers


def test_any_body_and_headers_without_the_right_signature_are_refused_and_write_nothing(setup: Setup, caplog) -> None:
    client = Client()
    outcomes: dict[int, int] = {}
    wrong_code = "notify-no-such-method"

    @fuzz_settings(ci_examples=200, local_examples=50)
    @given(
        data=st.data(),
        verb=st.sampled_from(("POST",) * 8 + ("GET", "PUT", "HEAD", "DELETE")),
        where=st.sampled_from(("method",) * 6 + ("unknown", "not a slug")),
    )
    def deliver(data: st.DataObject, verb: str, where: str) -> None:
        body = data.draw(unsigned_body(setup))
        note = Notification(body, data.draw(unsigned_headers(setup, body)))
        url = {"method": setup.url, "unknown": f"/payments/notify/{wrong_code}/", "not a slug": "/payments/notify/no%20such/"}[where]
        caplog.clear()
        with rolled_back():
            before = database_snapshot()
            status = check(setup.deliver(client, note, verb=verb, url=url), before=before)
        no_traceback(caplog)
        expected = 400 if where == "method" and verb == "POST" else 405 if where != "not a slug" and verb != "POST" else 404
        assert status == expected, (status, expected, note.body[:200], note.headers)
        outcomes[status] = outcomes.get(status, 0) + 1

    deliver()
    assert outcomes.get(400, 0) > 0, outcomes
    assert not setup.api.calls, "nothing unsigned may make the shop ask the gateway"


# A genuine notification, tampered with ------------------------------------------------------------------------------

TAMPERED_VALUES = {
    "amount": ("25.01", "2500.00", "0.01", "-25.00", "25", 2500, 2501, 1, 0, -2500, "25.00 "),
    "currency": ("EUR", "usd", "USD", "XXX", "", None),
    "merchant": ("another-shop", "acct_1AnotherAccount", "", "8b03432e-385b-4670-8d06-064591096796"),
    "reference": (str(uuid.UUID(int=1)), "", "not-a-uuid"),
    "status": ("paid", "pending", "declined", "expired", "unpaid", "no_payment_required", "paid_over", "process", "fail"),
    "id": ("sbx_fuzz_b", "cs_fuzz_b", "0b5f0d52-1111-4c1e-9a0e-6f2b7c1d9e01", "", "other"),
}


TAMPERINGS = ("flip a byte", "change a field", "another secret", "stale", "ahead", "mangled header", "other body's header")


@dataclass(frozen=True)
class Tampered:
    note: Notification  # what arrives
    how: str
    genuine: bytes  # the body before it was changed


@st.composite
def tampered(draw: st.DrawFn, setup: Setup) -> Tampered:
    """A genuine notification of the customer's top-up (of any state), then changed in one way."""
    wire = setup.wire
    payload = wire.payload(setup.mine, draw(st.sampled_from(sorted(wire.statuses))))
    genuine = wire.encode(payload)

    def made(note: Notification, how: str) -> Tampered:
        return Tampered(note, how, genuine.body)

    how = draw(st.sampled_from(TAMPERINGS))
    if how == "flip a byte":
        at = draw(st.integers(0, len(genuine.body) - 1))
        flipped = bytes([genuine.body[at] ^ draw(st.integers(1, 255))])
        return made(Notification(genuine.body[:at] + flipped + genuine.body[at + 1 :], genuine.headers), how)
    if how == "change a field":
        name = draw(st.sampled_from(sorted(wire.fields)))
        path = wire.fields[name]
        value = draw(st.one_of(st.sampled_from(TAMPERED_VALUES[name]), json_value).filter(lambda v: v != value_at(payload, path)))
        if wire.header is None:  # the body changed, its sign left as it was
            data = json.loads(genuine.body)
            body = json.dumps({**with_value(data, path, value), "sign": data["sign"]})
            return made(Notification(body.encode("utf-8", "surrogatepass"), {}), f"{name} changed")
        body = json.dumps(with_value(payload, path, value), separators=(",", ":"))
        return made(Notification(body.encode("utf-8", "surrogatepass"), genuine.headers), f"{name} changed")
    if how == "another secret":
        return made(wire.encode(payload, secret=draw(st.sampled_from((OTHER_SECRET, wire.secret + "x", wire.secret[:-1], "", " ")))), how)
    if wire.header is None:  # no header to be stale or mangled: the right data signed with the key changed a little
        return made(
            wire.encode(payload, secret=draw(st.sampled_from((wire.secret.upper(), wire.secret + " ", " " + wire.secret)))), "key variant"
        )
    if how in ("stale", "ahead"):  # the tolerance holds either way (Stripe's library checks only the past: the shop both)
        now = int(time.time())
        age = draw(st.one_of(st.integers(301, 3600), st.integers(3600, 10**9)))
        return made(wire.encode(payload, timestamp=now + 30 + age if how == "ahead" else now - age), how)
    if how == "other body's header":
        return made(Notification(genuine.body, wire.encode(wire.payload(setup.theirs)).headers), how)
    t, signature = (part.split("=", 1)[1] for part in genuine.headers[wire.header].split(","))
    now = int(t)  # the genuine signature's own time
    mangled = draw(
        st.sampled_from(
            (
                f"t={now}",
                f"v1={signature}",
                f"t={now + 1},v1={signature}",
                f"t={now - 1},v1={signature}",
                f"t=now,v1={signature}",
                f"t={now},v1={signature.upper()}",
                f"t={now},v1={signature[:-1]}",
                f"t={now},v1={signature[:32]}",
                f"t={now},v1={signature[1:]}0",
                f"t={now},v0={signature}",
                f"t={now},s1={signature}",
                f"t={now};v1={signature}",
                f"v1={signature},t={now}x",
                "",
            )
        )
    )
    return made(Notification(genuine.body, {wire.header: mangled}), how)


def same_data(body: bytes, genuine: bytes) -> bool:
    """Whether a changed body still says exactly what the genuine one said (Cryptomus signs the data, not the bytes)."""
    try:
        return json.loads(body.decode("utf-8")) == json.loads(genuine)
    except ValueError:
        return False


def test_a_tampered_genuine_notification_is_refused_and_writes_nothing(setup: Setup, caplog) -> None:
    client = Client()
    seen: dict[str, int] = {}

    @fuzz_settings(ci_examples=250, local_examples=60)
    @given(drawn=tampered(setup))
    def deliver(drawn: Tampered) -> None:
        note = drawn.note
        if setup.wire.header is None and same_data(note.body, drawn.genuine):
            return  # whitespace, or the case of a \\u escape: Cryptomus signs the data, so this is the genuine notification
        caplog.clear()
        with rolled_back():
            before = database_snapshot()
            status = check(setup.deliver(client, note), before=before)
            assert status == 400, (drawn.how, status, note.body[:300], note.headers)
        no_traceback(caplog)
        seen[drawn.how] = seen.get(drawn.how, 0) + 1

    deliver()
    assert len(seen) >= 3, seen  # the run tried several ways, not one


# A body of any shape, signed with the right secret -------------------------------------------------------------------


@st.composite
def signed_shape(draw: st.DrawFn, setup: Setup) -> Notification:
    """What only the gateway could sign: the genuine payload with members swapped for anything, stray members, or any JSON."""
    wire = setup.wire
    values = plain_value if wire.header is None else json_value
    shape = draw(st.sampled_from(("swapped", "swapped", "swapped", "any", "nested")))
    if shape == "any":
        if wire.header is None:  # Cryptomus: only an object has a sign member
            return wire.sign_raw(json.dumps(draw(st.dictionaries(st.sampled_from(sorted(wire.build(setup.mine))), values, max_size=6))))
        return wire.sign_raw(json.dumps(draw(values)))
    payload = wire.payload(setup.mine, draw(st.sampled_from(sorted(wire.statuses))))
    if shape == "nested":
        # Cryptomus' parser refuses what is nested past the stack before any signature check: no deeper than can be signed here.
        deep = st.integers(STACK - 10, TOO_DEEP) if wire.header else st.integers(50, 200)
        depth = draw(st.one_of(st.integers(1, 50), deep))
        path = wire.fields[draw(st.sampled_from(sorted(wire.fields)))]
        return wire.sign_raw(json.dumps(with_value(payload, path, "@@")).replace('"@@"', nested(depth)))
    paths = [*wire.fields.values(), *((name,) for name in payload)]
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True)):
        payload = with_value(payload, path, draw(values))
    payload.update(draw(st.dictionaries(st.text("abcxyz_", min_size=1, max_size=6), values, max_size=2)))
    return wire.sign_raw(json.dumps(payload))


def test_a_body_of_any_shape_signed_with_the_right_secret_never_fails_with_a_500(setup: Setup, caplog) -> None:
    client = Client()
    outcomes: dict[int, int] = {}
    wire = setup.wire
    genuine = wire.payload(setup.mine)

    def signed_with(name: str, value: object) -> Notification:
        return wire.sign_raw(json.dumps(with_value(genuine, wire.fields[name], value)))

    def signed_nested(depth: int) -> Notification:
        depth = depth if wire.header else 100  # Cryptomus' parser refuses deeper before its signature check (and so can this test)
        return wire.sign_raw(json.dumps(with_value(genuine, wire.fields["status"], "@@")).replace('"@@"', nested(depth)))

    @fuzz_settings(ci_examples=200, local_examples=50)
    @given(note=signed_shape(setup))
    # Nesting deeper than the parser's stack, and a NUL or a lone surrogate (valid JSON escapes PostgreSQL cannot store) in text
    # the shop keeps: what the gateway signed is still only wire data, answered 400 (or 200 when it names no top-up), not 500.
    @example(note=signed_nested(TOO_DEEP))
    @example(note=signed_with("id", "a\x00b"))
    @example(note=signed_with("id", "\ud800"))
    @example(note=signed_with("reference", "\x00"))
    @example(note=signed_with("status", "\x00"))
    @example(note=signed_with("currency", "\ud800"))
    def deliver(note: Notification) -> None:
        caplog.clear()
        with rolled_back():
            before = database_snapshot()
            status = check(setup.deliver(client, note), before=before)
            assert not topup_ledger_differences() and not ledger_differences()
        no_traceback(caplog)
        outcomes[status] = outcomes.get(status, 0) + 1

    deliver()
    assert outcomes.get(400, 0) > 0, outcomes


# Genuine notifications, any number of times, in any order, among others ---------------------------------------------


@dataclass(frozen=True)
class Delivery:
    what: str  # a label of wire.statuses, "mismatch", "theirs paid" or "forged"
    fresh: bool  # signed anew (a new timestamp) rather than replayed byte for byte


def deliveries(wire: Wire) -> st.SearchStrategy[list[Delivery]]:
    labels = [*sorted(wire.statuses), "theirs paid", "forged", *(["mismatch"] if wire.mismatch else [])]
    return st.lists(st.builds(Delivery, st.sampled_from(labels), st.booleans()), min_size=1, max_size=10)


def test_genuine_notifications_in_any_number_and_order_credit_each_top_up_at_most_once(setup: Setup, caplog) -> None:
    client = Client()
    wire = setup.wire
    first: dict[str, Notification] = {}  # the first signing of each, replayed byte for byte when not fresh
    credited = {"mine": 0, "theirs": 0}

    def note_for(delivery: Delivery) -> Notification:
        if delivery.what == "forged":
            return wire.encode(wire.payload(setup.mine), secret=OTHER_SECRET)
        if delivery.what == "theirs paid":
            payload = wire.payload(setup.theirs)
        elif delivery.what == "mismatch":
            payload = wire.payload(setup.mine)
            for path, value in wire.mismatch.items():
                payload = with_value(payload, path, value)
        else:
            payload = wire.payload(setup.mine, delivery.what)
        if delivery.fresh or delivery.what not in first:
            first[delivery.what] = wire.encode(payload)
        return first[delivery.what]

    @fuzz_settings(ci_examples=120, local_examples=25)
    @given(sequence=deliveries(wire))
    @example(sequence=[Delivery("paid", False)] * 6)
    @example(sequence=[Delivery("paid", True), Delivery("forged", True), Delivery("paid", True), Delivery("theirs paid", False)])
    def deliver(sequence: list[Delivery]) -> None:
        first.clear()
        caplog.clear()
        with rolled_back():
            for delivery in sequence:
                before = database_snapshot() if delivery.what == "forged" else None
                status = check(setup.deliver(client, note_for(delivery)), before=before)
                assert status == (400 if delivery.what == "forged" else 200), (delivery, status)
            # The first report that decides the top-up's fate wins: paid credits, a mismatch puts it up for review for good.
            decisive = next((d.what for d in sequence if d.what in wire.paid_labels or d.what == "mismatch"), None)
            mine, theirs = credits_of(setup.mine), credits_of(setup.theirs)
            assert mine == (1 if decisive in wire.paid_labels else 0), ([d.what for d in sequence], mine)
            assert theirs == (1 if any(d.what == "theirs paid" for d in sequence) else 0)
            assert topup_ledger_differences() == []
            assert ledger_differences() == []
            assert not Wallet.objects.filter(balance__lt=0).exists()
            credited["mine"] += mine
            credited["theirs"] += theirs
        no_traceback(caplog)

    deliver()
    assert credited["mine"] > 0 and credited["theirs"] > 0, credited
