"""The Cryptomus gateway: signed invoice requests, notification signatures checked as PHP's json_encode sees them, state from payment/info.

The signature vectors marked "from PHP" were produced with PHP 8.2: the body by
``json_encode``, the sign by Cryptomus' documented receiver check
``md5(base64_encode(json_encode($data_without_sign, JSON_UNESCAPED_UNICODE)) . $key)``
on ``json_decode($body, true)``. The rest are signed here with ``php_like``, an
encoder written for this file on top of ``json.dumps``, not the module's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses

from shop.models import LedgerEntry
from shop.payments.crediting import CHECK, Outcome, topup_report_apply
from shop.payments.gateways import cryptomus
from shop.payments.interface import REFUND, GatewayError, GatewayUnavailable, NotificationRejected, Report, ReportState, Urls
from shop.payments.models import PaymentMethod, TopUp
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

KEY = "test-payment-key-9f8e7d6c5b4a"
MERCHANT = "8b03432e-385b-4670-8d06-064591096795"
API = "https://api.cryptomus.com"
CREATE = f"{API}/v1/payment"
INFO = f"{API}/v1/payment/info"

UUID_1 = "62f88b36-a9d5-4fa6-aa26-e040c3dbf26d"
ORDER_1 = "97a75bf8-eda4-4d4a-9dcc-3f3f6a2a2e1d"

# From PHP: a paid notification as json_encode($data) sends it (\uXXXX escapes, "\/"), and the same with
# JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES. Both carry the same sign.
PHP_PAID_ESCAPED = (
    '{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"97a75bf8-eda4-4d4a-9dcc-3f3f6a2a2e1d",'
    '"amount":"15.00","payment_amount":"15.00","payment_amount_usd":"15.00","merchant_amount":"14.70","commission":"0.30",'
    '"is_final":true,"status":"paid","from":"TRbTW3HTrtXWCUrJ3gDC3fiPC5tLz9UZmA","wallet_address_uuid":null,"network":"tron",'
    '"currency":"USD","payer_currency":"USDT","payer_amount":"15.00","payer_amount_exchange_rate":1.0001,"discount_percent":-5,'
    '"additional_data":"\\u041f\\u043e\\u043f\\u043e\\u043b\\u043d\\u0435\\u043d\\u0438\\u0435 \\u0431\\u0430\\u043b\\u0430\\u043d'
    '\\u0441\\u0430 \\u2014 caf\\u00e9 \\u2713 \\ud83d\\ude80",'
    '"url":"https:\\/\\/pay.cryptomus.com\\/pay\\/62f88b36-a9d5-4fa6-aa26-e040c3dbf26d",'
    '"convert":{"to_currency":"USDT","commission":null,"rate":"0.99990000","amount":"14.99"},"is_test":false,'
    '"sign":"3a2e0fe004d336c3d3be8bd327cc1153"}'
)
PHP_PAID_UNESCAPED = (
    '{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"97a75bf8-eda4-4d4a-9dcc-3f3f6a2a2e1d",'
    '"amount":"15.00","payment_amount":"15.00","payment_amount_usd":"15.00","merchant_amount":"14.70","commission":"0.30",'
    '"is_final":true,"status":"paid","from":"TRbTW3HTrtXWCUrJ3gDC3fiPC5tLz9UZmA","wallet_address_uuid":null,"network":"tron",'
    '"currency":"USD","payer_currency":"USDT","payer_amount":"15.00","payer_amount_exchange_rate":1.0001,"discount_percent":-5,'
    '"additional_data":"Пополнение баланса — café ✓ 🚀","url":"https://pay.cryptomus.com/pay/62f88b36-a9d5-4fa6-aa26-e040c3dbf26d",'
    '"convert":{"to_currency":"USDT","commission":null,"rate":"0.99990000","amount":"14.99"},"is_test":false,'
    '"sign":"3a2e0fe004d336c3d3be8bd327cc1153"}'
)
# From PHP: what its receiver check encodes for the paid notification (the string whose base64 is signed).
PHP_PAID_SIGNED = (
    '{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"97a75bf8-eda4-4d4a-9dcc-3f3f6a2a2e1d",'
    '"amount":"15.00","payment_amount":"15.00","payment_amount_usd":"15.00","merchant_amount":"14.70","commission":"0.30",'
    '"is_final":true,"status":"paid","from":"TRbTW3HTrtXWCUrJ3gDC3fiPC5tLz9UZmA","wallet_address_uuid":null,"network":"tron",'
    '"currency":"USD","payer_currency":"USDT","payer_amount":"15.00","payer_amount_exchange_rate":1.0001,"discount_percent":-5,'
    '"additional_data":"Пополнение баланса — café ✓ 🚀","url":"https:\\/\\/pay.cryptomus.com\\/pay\\/62f88b36-a9d5-4fa6-aa26-e040c3dbf26d",'
    '"convert":{"to_currency":"USDT","commission":null,"rate":"0.99990000","amount":"14.99"},"is_test":false}'
)
# From PHP: escapes (quote, backslash, slash, control characters, DEL, U+2028/9), an empty object (PHP's decoder
# makes it an empty array, so it is signed as []), lists, nested objects, a big integer and floats.
PHP_EDGES = (
    '{"type":"payment","uuid":"0b5f0d52-1111-4c1e-9a0e-6f2b7c1d9e01","order_id":"a1b2c3d4-0000-4000-8000-000000000001",'
    '"status":"process","amount":"7.50","currency":"USD","quote":"He said \\"hi\\" \\\\ back\\/slash",'
    '"controls":"tab\\there\\nnew\\rret\\bbs\\fff\\u0001\\u001f\x7f","separators":"line\\u2028para\\u2029end",'
    '"empty_object":{},"empty_list":[],"list":[1,"two\\/2",{"three":3},null,false],"numbered":["a","b"],"sparse":{"1":"one"},'
    '"nested":{"a":{"b":{"c":"https:\\/\\/x.example\\/d?e=f&g=h"}}},"big":9007199254740993,"float":0.1,"exp":1.5e-7,'
    '"sign":"0b6a540255650d4c07fe9771f3e7f0e1"}'
)
# Written by hand; sign from PHP's receiver check: an object keyed "0","1" in order becomes a PHP list, one keyed
# "1","0" stays an object, {} becomes [], and \u escapes of non-ASCII text come back as UTF-8.
PHP_KEYED = (
    '{"type":"payment","uuid":"5d7c3a1e-2b4f-4e8a-9c6d-1f0e2d3c4b5a","order_id":"c0ffee00-0000-4000-8000-00000000c0de",'
    '"status":"paid","amount":"20.00","currency":"USD","keyed":{"0":"a","1":"b"},"unordered":{"1":"b","0":"a"},"empty":{},'
    '"url":"https:\\/\\/pay.cryptomus.com\\/pay\\/x","note":"Zahlung f\\u00fcr \\u00abTest\\u00bb",'
    '"sign":"cf2802612171ca412b0e7d043c914320"}'
)
# From PHP: the invoice request the official SDK would send for the same fields, and its sign header.
PHP_START_BODY = (
    '{"amount":"15.00","currency":"USD","order_id":"97a75bf8-eda4-4d4a-9dcc-3f3f6a2a2e1d",'
    '"url_callback":"https:\\/\\/shop.example\\/payments\\/notify\\/crypto\\/",'
    '"url_return":"https:\\/\\/shop.example\\/balance\\/topups\\/97a75bf8-eda4-4d4a-9dcc-3f3f6a2a2e1d\\/",'
    '"url_success":"https:\\/\\/shop.example\\/balance\\/topups\\/97a75bf8-eda4-4d4a-9dcc-3f3f6a2a2e1d\\/","lifetime":3600}'
)
PHP_START_SIGN = "7a9dcfe80cb4f68b46d08c90e410a40a"


def php_like(data: Any) -> str:
    """json_encode($data, JSON_UNESCAPED_UNICODE) for plain data (no empty or "0".."n" keyed objects, no floats)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # In json.dumps' output "/" and U+2028/9 occur only inside strings, where PHP escapes them.
    return text.replace("/", "\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def sign_of(signed: str, key: str = KEY) -> str:
    return hashlib.md5(base64.b64encode(signed.encode("utf-8")) + key.encode("utf-8"), usedforsecurity=False).hexdigest()


def notification(key: str = KEY, **fields: Any) -> bytes:
    """A notification signed here, sent with Python's default spacing and ASCII escapes (not the signed form)."""
    data = {
        "type": "payment",
        "uuid": UUID_1,
        "order_id": ORDER_1,
        "amount": "15.00",
        "payment_amount": "15.00",
        "is_final": True,
        "status": "paid",
        "currency": "USD",
        **fields,
    }
    return json.dumps({**data, "sign": sign_of(php_like(data), key)}).encode()


def info(**fields: Any) -> dict[str, Any]:
    """A payment/info result as Cryptomus documents it."""
    return {
        "uuid": UUID_1,
        "order_id": ORDER_1,
        "amount": "15.00",
        "payment_amount": "15.00",
        "payer_amount": "15.00",
        "discount_percent": 0,
        "discount": "0.00",
        "payer_currency": "USD",
        "currency": "USD",
        "comments": None,
        "merchant_amount": "14.70",
        "network": "tron",
        "address": "TXhfYSWt2oKRrHAJVJeYRuit6ZzKuoEKXj",
        "from": None,
        "txid": None,
        "payment_status": fields.get("status", "paid"),
        "url": f"https://pay.cryptomus.com/pay/{UUID_1}",
        "expired_at": int(time.time()) + 3600,
        "status": "paid",
        "is_final": True,
        "additional_data": None,
        "created_at": "2023-07-11T20:23:52+03:00",
        "updated_at": "2023-07-11T21:24:17+03:00",
        **fields,
    }


def reply_info(**fields: Any) -> None:
    responses.add(responses.POST, INFO, json={"state": 0, "result": info(**fields)})


def sent_json(call: int = -1) -> dict[str, Any]:
    return json.loads(responses.calls[call].request.body)


def assert_signed_request(call: int = -1) -> None:
    request = responses.calls[call].request
    assert request.headers["merchant"] == MERCHANT
    assert request.headers["sign"] == hashlib.md5(base64.b64encode(request.body) + KEY.encode(), usedforsecurity=False).hexdigest()
    assert request.req_kwargs["timeout"] == (5, 20)


@pytest.fixture
def method() -> PaymentMethod:
    method = PaymentMethod(
        code="crypto", kind="cryptomus", name="Crypto (Cryptomus)", currency="USD", merchant_id=MERCHANT, is_enabled=True
    )
    method.api_key = KEY
    method.save()
    return method


@pytest.fixture
def topup(method: PaymentMethod) -> TopUp:
    return TopUp.objects.create(
        user=UserFactory(), method=method, amount=Decimal("15.00"), currency="USD", public_id=uuid.UUID(ORDER_1), gateway_id=UUID_1
    )


def verify(method: PaymentMethod, body: bytes | str) -> list[Report]:
    return cryptomus.verify(method=method, body=body.encode() if isinstance(body, str) else body, headers={})


# --- signatures ---------------------------------------------------------------------------------------------------


def test_the_test_encoder_agrees_with_php_on_the_paid_vector() -> None:
    without_float = PHP_PAID_SIGNED.replace('"payer_amount_exchange_rate":1.0001,', "")
    assert php_like(json.loads(without_float)) == without_float


def test_encoder_writes_what_php_json_encode_writes() -> None:
    data = json.loads(PHP_PAID_SIGNED.replace("1.0001", "10001"))
    assert cryptomus.php_json_encode(data) == PHP_PAID_SIGNED.replace("1.0001", "10001")
    assert cryptomus.php_json_encode({"a": "x/y", "b": "\u2028\x01\x7f", "c": {}, "d": {"0": 1, "1": 2}, "e": {"1": 1}}) == (
        '{"a":"x\\/y","b":"\\u2028\\u0001\x7f","c":[],"d":[1,2],"e":{"1":1}}'
    )


@pytest.mark.parametrize(
    ("body", "gateway_id"),
    [
        pytest.param(PHP_PAID_ESCAPED, UUID_1, id="php-default-flags"),
        pytest.param(PHP_PAID_UNESCAPED, UUID_1, id="php-unescaped-unicode-and-slashes"),
        pytest.param(PHP_EDGES, "0b5f0d52-1111-4c1e-9a0e-6f2b7c1d9e01", id="php-escapes-and-numbers"),
        pytest.param(PHP_KEYED, "5d7c3a1e-2b4f-4e8a-9c6d-1f0e2d3c4b5a", id="php-arrays-from-objects"),
    ],
)
@responses.activate
def test_signatures_made_by_phps_check_are_accepted(method: PaymentMethod, body: str, gateway_id: str) -> None:
    sent = json.loads(body)
    reply_info(uuid=gateway_id, order_id=sent["order_id"], status=sent["status"])
    [report] = verify(method, body)
    assert report.gateway_id == gateway_id
    assert sent_json() == {"uuid": gateway_id}
    assert_signed_request()


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"url": "https://pay.cryptomus.com/pay/x/y?z=1"}, id="slashes"),
        pytest.param({"additional_data": "Оплата заказа №5 — 東京 ☕ 🚀 «ß»"}, id="non-ascii"),
        pytest.param(
            {"convert": {"to_currency": "USDT", "commission": None, "rate": "0.9999", "deep": {"list": [1, "a/b", True]}}}, id="nested"
        ),
        pytest.param({"amount": "15.00", "discount_percent": -5, "payer_amount": 15, "exp": 12345678901234567}, id="numbers"),
        pytest.param({"from": None, "txid": None, "is_final": False, "is_test": True}, id="null-and-booleans"),
        pytest.param({"additional_data": 'quote " backslash \\ tab \t newline \n bell \x07 line-sep \u2028'}, id="escapes"),
    ],
)
@responses.activate
def test_notifications_signed_over_phps_encoding_are_accepted_whatever_their_own_spacing(method: PaymentMethod, fields: dict) -> None:
    reply_info()
    [report] = verify(method, notification(**fields))
    assert report.state == ReportState.PAID


@responses.activate
def test_numbers_are_signed_as_they_were_written(method: PaymentMethod) -> None:
    signed = f'{{"type":"payment","uuid":"{UUID_1}","order_id":"{ORDER_1}","status":"paid","amount":15.00,"rate":1e2,"n":-0}}'
    reply_info()
    assert verify(method, signed[:-1] + f',"sign":"{sign_of(signed)}"}}')[0].state == ReportState.PAID
    normalised = signed.replace("15.00", "15.0").replace("1e2", "100.0").replace("-0", "0")
    with pytest.raises(NotificationRejected, match="signature"):
        verify(method, signed[:-1] + f',"sign":"{sign_of(normalised)}"}}')


@pytest.mark.parametrize(
    ("body", "why"),
    [
        pytest.param(json.dumps({"uuid": UUID_1, "order_id": ORDER_1, "status": "paid"}), "not signed", id="unsigned"),
        pytest.param(json.dumps({"uuid": UUID_1, "order_id": ORDER_1, "status": "paid", "sign": ""}), "not signed", id="empty-sign"),
        pytest.param(json.dumps({"uuid": UUID_1, "order_id": ORDER_1, "status": "paid", "sign": 12345}), "not signed", id="sign-not-text"),
        pytest.param(json.dumps({"uuid": UUID_1, "sign": None}), "not signed", id="sign-null"),
        pytest.param(notification(key="another-merchants-key"), "signature", id="forged-with-another-key"),
        pytest.param(PHP_PAID_UNESCAPED.replace('"amount":"15.00"', '"amount":"1500.00"'), "signature", id="tampered-amount"),
        pytest.param(PHP_PAID_UNESCAPED.replace('"status":"paid"', '"status":"paid_over"'), "signature", id="tampered-status"),
        pytest.param(PHP_PAID_UNESCAPED.replace('"is_test":false,', ""), "signature", id="field-removed"),
        pytest.param(PHP_PAID_UNESCAPED.replace('"sign":"3a2e', '"sign":"3A2E'), "signature", id="sign-case-changed"),
        pytest.param(
            PHP_PAID_UNESCAPED.replace('"sign":"3a2e0fe004d336c3d3be8bd327cc1153"', '"sign":"3a2e0fe004d336c3d3be8bd327cc115é"'),
            "signature",
            id="sign-non-ascii",
        ),
        pytest.param(b'{"uuid": "x", "sign": "' + b"0" * 32 + b'"', "JSON", id="truncated"),
        pytest.param(b"[]", "object", id="a-list"),
        pytest.param(b'"paid"', "object", id="a-string"),
        pytest.param(b"", "JSON", id="empty"),
        pytest.param(b'{"uuid":"\xff\xfe","sign":"x"}', "JSON", id="not-utf8"),
        pytest.param(b'{"uuid":"a","uuid":"b","sign":"x"}', "JSON", id="repeated-key"),
        pytest.param(b'{"amount":NaN,"sign":"x"}', "JSON", id="nan"),
        pytest.param(b'{"note":"\\ud800","sign":"x"}', "JSON", id="lone-surrogate"),
        pytest.param(b"\xef\xbb\xbf" + notification(), "JSON", id="byte-order-mark"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "too large", id="huge"),
        pytest.param(b'{"a":' * 5000 + b"1" + b"}" * 5000, "JSON", id="deeply-nested"),
        # Parses, but the encoder's recursion would fail on it (RecursionError, a 500) before the signature check.
        pytest.param(b'{"sign":"' + b"0" * 32 + b'","a":' + b'{"a":' * 600 + b"1" + b"}" * 601, "nested too deeply", id="600-deep-signed"),
        pytest.param(b'{"a":' + b"[" * 600 + b"]" * 600 + b',"sign":"x"}', "nested too deeply", id="600-deep-lists"),
    ],
)
@responses.activate
def test_unsigned_forged_tampered_or_malformed_notifications_are_rejected_without_asking_cryptomus(
    method: PaymentMethod, body: str | bytes, why: str
) -> None:
    with pytest.raises(NotificationRejected, match=why):
        verify(method, body)
    assert len(responses.calls) == 0


def nested(levels: int) -> dict[str, Any]:
    """A value that makes a notification ``levels`` deep, the notification itself being level 1."""
    value: Any = "deepest"
    for _ in range(levels - 1):
        value = {"n": value}
    return value


@responses.activate
def test_a_notification_nested_as_deep_as_allowed_is_checked_and_accepted(method: PaymentMethod) -> None:
    reply_info()
    [report] = verify(method, notification(additional_data=nested(cryptomus.MAX_NOTIFICATION_DEPTH)))
    assert report.state == ReportState.PAID


@responses.activate
def test_a_notification_nested_one_level_deeper_is_rejected_before_its_signature_or_any_call(method: PaymentMethod) -> None:
    assert cryptomus.MAX_NOTIFICATION_DEPTH == 32
    with pytest.raises(NotificationRejected, match="nested too deeply"):
        verify(method, notification(additional_data=nested(cryptomus.MAX_NOTIFICATION_DEPTH + 1)))
    assert len(responses.calls) == 0


@responses.activate
def test_a_recursion_error_while_encoding_is_a_rejection_not_a_server_error(method: PaymentMethod, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the depth limit the encoder recurses on a 600-deep body until Python stops it.
    monkeypatch.setattr(cryptomus, "MAX_NOTIFICATION_DEPTH", 100_000)
    with pytest.raises(NotificationRejected, match="nested too deeply"):
        verify(method, b'{"sign":"x","a":' + b'{"a":' * 600 + b"1" + b"}" * 601)
    assert len(responses.calls) == 0


@responses.activate
def test_a_signature_made_without_phps_slash_escaping_is_rejected(method: PaymentMethod) -> None:
    data = {"type": "payment", "uuid": UUID_1, "order_id": ORDER_1, "status": "paid", "url": "https://pay.cryptomus.com/pay/x"}
    naive = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    with pytest.raises(NotificationRejected, match="signature"):
        verify(method, json.dumps({**data, "sign": sign_of(naive)}))


@responses.activate
def test_a_signature_made_with_escaped_unicode_is_rejected(method: PaymentMethod) -> None:
    data = {"type": "payment", "uuid": UUID_1, "order_id": ORDER_1, "status": "paid", "additional_data": "café"}
    escaped = json.dumps(data, separators=(",", ":")).replace("/", "\\/")
    with pytest.raises(NotificationRejected, match="signature"):
        verify(method, json.dumps({**data, "sign": sign_of(escaped)}))


@responses.activate
def test_without_an_api_key_every_notification_is_rejected_even_one_signed_with_an_empty_key(method: PaymentMethod) -> None:
    method.api_key = ""
    with pytest.raises(NotificationRejected, match="not configured"):
        verify(method, notification(key=""))
    assert len(responses.calls) == 0


# --- verify: the report comes from payment/info -------------------------------------------------------------------


@responses.activate
def test_a_paid_notification_is_reported_from_cryptomus_own_record(method: PaymentMethod) -> None:
    reply_info(amount="15.00", currency="USD")
    [report] = verify(method, PHP_PAID_UNESCAPED)
    assert report == Report(
        state=ReportState.PAID,
        gateway_id=UUID_1,
        reference=ORDER_1,
        amount=Decimal("15.00"),
        currency="USD",
        merchant=None,
        event_id=f"{UUID_1}:paid",
        detail=report.detail,
    )
    assert report.detail["status"] == "paid" and report.detail["is_final"] is True
    assert sent_json() == {"uuid": UUID_1}
    assert_signed_request()


@responses.activate
def test_when_the_notification_says_paid_but_payment_info_says_process_the_fetch_wins(method: PaymentMethod) -> None:
    reply_info(status="process", is_final=False)
    [report] = verify(method, PHP_PAID_ESCAPED)
    assert report.state == ReportState.PENDING
    assert report.event_id == f"{UUID_1}:process"
    assert report.detail["notified_status"] == "paid"


@responses.activate
def test_the_amount_reported_is_the_invoice_amount_from_payment_info_not_the_notifications(method: PaymentMethod) -> None:
    reply_info(amount="5.00")
    [report] = verify(method, notification(amount="15.00"))
    assert report.amount == Decimal("5.00")


@pytest.mark.parametrize(
    "disagreement",
    [
        pytest.param({"order_id": "00000000-0000-4000-8000-000000000000"}, id="other-order"),
        pytest.param({"uuid": "11111111-2222-4333-8444-555555555555"}, id="other-uuid"),
        pytest.param({"order_id": None}, id="no-order"),
    ],
)
@responses.activate
def test_a_notification_that_disagrees_with_payment_info_is_rejected(method: PaymentMethod, disagreement: dict) -> None:
    reply_info(**disagreement)
    with pytest.raises(NotificationRejected, match="does not agree"):
        verify(method, PHP_PAID_UNESCAPED)


@pytest.mark.parametrize("missing", ["uuid", "order_id"])
@responses.activate
def test_a_signed_notification_naming_no_payment_is_rejected(method: PaymentMethod, missing: str) -> None:
    body = json.loads(notification())
    del body["sign"], body[missing]
    with pytest.raises(NotificationRejected, match="names no payment"):
        verify(method, json.dumps({**body, "sign": sign_of(php_like(body))}))
    assert len(responses.calls) == 0


@responses.activate
def test_a_static_wallet_notification_reports_nothing_and_asks_nothing(method: PaymentMethod) -> None:
    assert verify(method, notification(type="wallet")) == []
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"status": 502, "body": "<html>Bad gateway</html>"}, id="http-502"),
        pytest.param({"status": 503, "json": {"state": 1, "message": "maintenance"}}, id="http-503"),
        pytest.param({"status": 429, "json": {"message": "Too many requests"}}, id="http-429"),
        pytest.param({"body": requests.exceptions.ConnectTimeout("connect timed out")}, id="connect-timeout"),
        pytest.param({"body": requests.exceptions.ReadTimeout("read timed out")}, id="read-timeout"),
        pytest.param({"body": requests.exceptions.ConnectionError("refused")}, id="refused"),
    ],
)
@responses.activate
def test_when_payment_info_cannot_be_had_the_gateway_is_unavailable(method: PaymentMethod, failure: dict) -> None:
    responses.add(responses.POST, INFO, **failure)
    with pytest.raises(GatewayUnavailable) as caught:
        verify(method, PHP_PAID_UNESCAPED)
    assert KEY not in str(caught.value)
    if isinstance(failure.get("body"), Exception):
        assert caught.value.__cause__ is failure["body"]


# --- status mapping -----------------------------------------------------------------------------------------------

PAST, FUTURE = 1_600_000_000, int(time.time()) + 3600


@pytest.mark.parametrize(
    ("fields", "state", "note"),
    [
        ({"status": "paid"}, ReportState.PAID, ""),
        (
            {"status": "paid_over", "payment_amount": "15.30"},
            ReportState.PAID,
            "paid_over: the payer sent 15.30 USD for 15.00 USD (0.30 more).",
        ),
        (
            {"status": "paid_over", "payment_amount": "0.0003", "payer_currency": "BTC"},
            ReportState.PAID,
            "paid_over: the payer sent 0.0003 BTC for 15.00 USD.",
        ),
        (
            {"status": "wrong_amount", "payment_amount": "9.00"},
            ReportState.MISMATCH,
            "wrong_amount: Cryptomus received 9.00 USD, less than 15.00 USD.",
        ),
        ({"status": "process", "is_final": False}, ReportState.PENDING, ""),
        ({"status": "check", "is_final": False}, ReportState.PENDING, ""),
        ({"status": "confirm_check", "is_final": False}, ReportState.PENDING, ""),
        ({"status": "locked"}, ReportState.PENDING, "locked: Cryptomus holds the funds for an AML check."),
        ({"status": "wrong_amount_waiting", "is_final": False}, ReportState.PENDING, "wrong_amount_waiting"),
        ({"status": "refund_process"}, ReportState.PENDING, "refund_process: Cryptomus is refunding this payment."),
        ({"status": "refund_fail"}, ReportState.PENDING, "refund_fail: a refund of this payment failed; the payment stands."),
        ({"status": "fail"}, ReportState.FAILED, "fail"),
        ({"status": "system_fail"}, ReportState.FAILED, "system_fail"),
        ({"status": "cancel", "expired_at": FUTURE}, ReportState.FAILED, "cancel"),
        ({"status": "cancel", "expired_at": PAST}, ReportState.EXPIRED, "cancel"),
        ({"status": "cancel", "expired_at": None}, ReportState.FAILED, "cancel"),
        ({"status": "refund_paid"}, ReportState.REVERSED, "refund_paid: Cryptomus refunded the payment."),
        ({"status": "teleported"}, ReportState.PENDING, "Unknown Cryptomus status 'teleported': nothing done."),
        ({"status": None, "payment_status": "PAID"}, ReportState.PAID, ""),
    ],
)
@responses.activate
def test_every_cryptomus_status_maps_to_one_report_state(topup: TopUp, fields: dict, state: ReportState, note: str) -> None:
    reply_info(**fields)
    report = cryptomus.fetch(method=topup.method, topup=topup)
    assert report is not None
    assert (report.state, report.gateway_id, report.reference, report.amount, report.currency) == (
        state,
        UUID_1,
        ORDER_1,
        Decimal("15.00"),
        "USD",
    )
    assert report.note.startswith(note) if note else report.note == ""
    assert report.merchant is None
    status = (fields["status"] or fields["payment_status"]).lower()
    assert report.event_id == f"{UUID_1}:{status}"
    assert report.reversed_total == (Decimal("15.00") if state == ReportState.REVERSED else None)
    assert report.reversal == (REFUND if state == ReportState.REVERSED else "")


@responses.activate
def test_a_refund_paid_notification_reports_a_refund_of_the_whole_invoice(method: PaymentMethod) -> None:
    reply_info(status="refund_paid")
    [report] = verify(method, notification(status="refund_paid"))
    assert (report.state, report.reversal, report.reversed_total) == (ReportState.REVERSED, REFUND, Decimal("15.00"))


@pytest.mark.parametrize("amount", ["abc", "-1.00", "NaN", "Infinity", True, [1], None])
@responses.activate
def test_a_payment_info_reply_with_a_bad_amount_is_a_gateway_error(topup: TopUp, amount: Any) -> None:
    reply_info(amount=amount)
    with pytest.raises(GatewayError) as caught:
        cryptomus.fetch(method=topup.method, topup=topup)
    assert not isinstance(caught.value, GatewayUnavailable)


# --- fetch ----------------------------------------------------------------------------------------------------------


@responses.activate
def test_fetch_asks_by_the_invoice_uuid(topup: TopUp) -> None:
    reply_info()
    assert cryptomus.fetch(method=topup.method, topup=topup).state == ReportState.PAID
    assert sent_json() == {"uuid": UUID_1}
    assert_signed_request()


@responses.activate
def test_fetch_asks_by_the_order_id_when_the_invoice_uuid_never_came_back(topup: TopUp) -> None:
    topup.gateway_id = ""
    reply_info()
    assert cryptomus.fetch(method=topup.method, topup=topup).gateway_id == UUID_1
    assert sent_json() == {"order_id": ORDER_1}


@pytest.mark.parametrize("other", [{"order_id": "00000000-0000-4000-8000-000000000000"}, {"uuid": "11111111-2222-4333-8444-555555555555"}])
@responses.activate
def test_fetch_refuses_a_reply_about_another_payment(topup: TopUp, other: dict) -> None:
    reply_info(**other)
    with pytest.raises(GatewayError, match="another payment"):
        cryptomus.fetch(method=topup.method, topup=topup)


# --- start ----------------------------------------------------------------------------------------------------------

URLS = Urls(notify="https://shop.example/payments/notify/crypto/", back=f"https://shop.example/balance/topups/{ORDER_1}/")


def created(**fields: Any) -> None:
    responses.add(responses.POST, CREATE, json={"state": 0, "result": info(status="check", is_final=False, **fields)})


@responses.activate
def test_start_sends_the_invoice_php_would_send_signed_as_php_signs_it(topup: TopUp) -> None:
    created()
    checkout = cryptomus.start(method=topup.method, topup=topup, urls=URLS)
    assert (checkout.gateway_id, checkout.pay_url) == (UUID_1, f"https://pay.cryptomus.com/pay/{UUID_1}")
    request = responses.calls[0].request
    assert request.body == PHP_START_BODY.encode()
    assert request.headers["sign"] == PHP_START_SIGN
    assert request.headers["merchant"] == MERCHANT
    assert request.headers["Content-Type"] == "application/json"
    assert request.req_kwargs["timeout"] == (5, 20)
    assert KEY not in request.body.decode() and KEY not in str(request.headers)


@responses.activate
def test_start_sends_the_amount_with_two_places_and_the_method_api_url(topup: TopUp) -> None:
    topup.amount = Decimal("7.5000")
    topup.method.api_url = "https://cryptomus.test/"
    responses.add(responses.POST, "https://cryptomus.test/v1/payment", json={"state": 0, "result": info()})
    cryptomus.start(method=topup.method, topup=topup, urls=URLS)
    assert sent_json()["amount"] == "7.50"
    assert sent_json()["lifetime"] == 3600
    assert_signed_request()


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        pytest.param(
            {"status": 401, "json": {"state": 1, "message": f"Invalid sign for key {KEY}"}}, "Invalid sign for key [key]", id="echoes-key"
        ),
        pytest.param(
            {"status": 422, "json": {"state": 1, "errors": {"amount": ["validation.min"], "currency": ["validation.in"]}}},
            "invalid amount, currency",
            id="validation",
        ),
        pytest.param({"json": {"state": 1, "message": "Merchant not found"}}, "Merchant not found", id="state-1-with-200"),
        pytest.param({"body": "<html>login</html>"}, "not JSON", id="html"),
        pytest.param({"json": ["not", "an", "object"]}, "unexpected reply", id="list"),
        pytest.param({"json": {"state": 0}}, "without a result", id="no-result"),
        pytest.param({"json": {"state": 0, "result": {"uuid": UUID_1}}}, "no usable invoice", id="no-url"),
        pytest.param({"json": {"state": 0, "result": {"uuid": UUID_1, "url": "javascript:alert(1)"}}}, "no usable invoice", id="bad-url"),
        pytest.param({"json": {"state": 0, "result": info(order_id="someone-else")}}, "another order", id="other-order"),
        pytest.param({"status": 302, "headers": {"Location": "https://evil.example/"}, "body": ""}, "HTTP 302", id="redirect"),
    ],
)
@responses.activate
def test_start_refusals_are_gateway_errors_that_never_show_the_key(topup: TopUp, reply: dict, message: str) -> None:
    responses.add(responses.POST, CREATE, **reply)
    with pytest.raises(GatewayError, match=re.escape(message)) as caught:
        cryptomus.start(method=topup.method, topup=topup, urls=URLS)
    assert not isinstance(caught.value, GatewayUnavailable)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"status": 500, "json": {"state": 1, "message": f"oops {KEY}"}}, id="http-500"),
        pytest.param({"status": 504, "body": ""}, id="http-504"),
        pytest.param({"body": requests.exceptions.ConnectTimeout()}, id="connect-timeout"),
        pytest.param({"body": requests.exceptions.ReadTimeout()}, id="read-timeout"),
        pytest.param({"body": requests.exceptions.ConnectionError()}, id="connection-error"),
    ],
)
@responses.activate
def test_start_transport_failures_and_5xx_are_gateway_unavailable(topup: TopUp, failure: dict) -> None:
    responses.add(responses.POST, CREATE, **failure)
    with pytest.raises(GatewayUnavailable) as caught:
        cryptomus.start(method=topup.method, topup=topup, urls=URLS)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("blank", ["api_key", "merchant_id"])
@responses.activate
def test_start_without_credentials_is_refused_before_any_call(topup: TopUp, blank: str) -> None:
    setattr(topup.method, blank, "")
    with pytest.raises(GatewayError, match="not configured"):
        cryptomus.start(method=topup.method, topup=topup, urls=URLS)
    assert len(responses.calls) == 0


@responses.activate
def test_start_with_a_malformed_api_url_is_a_configuration_error(topup: TopUp) -> None:
    topup.method.api_url = "not a url"
    with pytest.raises(GatewayError, match="not valid") as caught:
        cryptomus.start(method=topup.method, topup=topup, urls=URLS)
    assert not isinstance(caught.value, GatewayUnavailable)


# --- with the crediting code --------------------------------------------------------------------------------------


@responses.activate
def test_a_verified_paid_notification_credits_once_and_its_replay_credits_nothing(topup: TopUp) -> None:
    reply_info()
    reply_info()
    method = topup.method
    outcomes = [topup_report_apply(method=method, report=report) for _ in range(2) for report in verify(method, PHP_PAID_ESCAPED)]
    assert outcomes == [Outcome.CREDITED, Outcome.UNCHANGED]
    assert list(LedgerEntry.objects.filter(topup=topup).values_list("kind", "amount")) == [(LedgerEntry.Kind.TOPUP, Decimal("15.0000"))]


@responses.activate
def test_a_fetched_wrong_amount_puts_the_topup_up_for_review_with_the_reason(topup: TopUp) -> None:
    reply_info(status="wrong_amount", payment_amount="9.00")
    report = cryptomus.fetch(method=topup.method, topup=topup)
    assert topup_report_apply(method=topup.method, report=report, actor=CHECK) == Outcome.REVIEW
    topup.refresh_from_db()
    assert topup.state == "review" and "less than 15.00 USD" in topup.attention_reason
    assert not LedgerEntry.objects.filter(topup=topup).exists()
