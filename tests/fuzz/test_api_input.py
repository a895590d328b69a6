"""Fuzzing the reseller API (``POST /api/v2``: ``shop.reseller_api``) with form data, JSON bodies and raw bytes.

What it proves, for every generated call: the reply is JSON and never a 500;
the caller's API key never appears in it; an ``add`` that is refused
(``{"error": ...}``) writes nothing, and one that is accepted charges once,
more than zero, exactly the service's rate for its quantity, leaving the
balance equal to the ledger's sum and never negative. The other actions
(status, refill, refill_status, cancel, in single and multiple forms, with
fuzzed ids) create no order, touch nobody else's orders or money, and move
money only as the full refund of the caller's own order canceled before it
was sent. A 10 MB body, as form data or JSON, gets a JSON error and writes nothing.
A JSON body the API cannot read (nested deeper than the stack, NaN, numbers out
of range, a name given twice, invalid UTF-8, not an object) is an "Incorrect
request", with no traceback logged.
"""

from __future__ import annotations

import json
import logging
import sys
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from shop.models import LedgerEntry, Order, OrderStatus
from shop.orders.placement import order_place
from shop.reseller_api.actions import ACTIONS
from shop.reseller_api.keys import api_key_issue
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory
from tests.fuzz.conftest import Books, assert_nothing_written, assert_placed_correctly, rolled_back
from tests.fuzz.strategies import any_text, fuzz_settings, number_text, order_fields

pytestmark = pytest.mark.postgres
URL = "/api/v2"
LINK = "https://instagram.com/p/fuzz"


@pytest.fixture
def key(shopper) -> str:
    return api_key_issue(user=shopper)


def reply_of(response, key: str) -> object:
    """The reply's JSON, after checking what every reply must be: not a 500, JSON, free of the caller's key."""
    assert response.status_code == 200, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    assert key.encode() not in response.content
    return json.loads(response.content)


def check_add(response, key: str, service, before: Books, after: Books) -> bool:
    """An ``add`` either placed one correctly priced order or wrote nothing; returns whether it placed one."""
    reply = reply_of(response, key)
    if set(reply) == {"error"}:
        assert isinstance(reply["error"], str) and reply["error"]
        assert_nothing_written(before, after)
        return False
    assert set(reply) == {"order"}, reply
    order = Order.objects.select_related("service__provider_service").get(pk=reply["order"])
    assert service is None or order.service_id == service.pk
    assert_placed_correctly(order, order.service, before, after)
    return True


# add: form data ---------------------------------------------------------------------------------


def test_add_with_fuzzed_form_data(offers, shopper, key) -> None:
    client = Client()
    outcomes = {True: 0, False: 0}

    @fuzz_settings(ci_examples=250, local_examples=80)
    @given(drawn=order_fields(list(offers.values())), multipart=st.booleans())
    # Found by this test: "²" passes str.isdigit() and then int() raised (a 500 reply).
    @example(drawn=(None, {"service": "²", "link": LINK, "quantity": "100"}), multipart=False)
    # Regression: a NUL byte passed the hashtag check and reached PostgreSQL, which refuses it in JSON text (a 500 reply).
    @example(
        drawn=(
            offers["Mentions Hashtag"],
            {"service": str(offers["Mentions Hashtag"].pk), "link": LINK, "quantity": "10", "hashtag": "#a\x00"},
        ),
        multipart=False,
    )
    @example(drawn=(offers["Default"], {"service": str(offers["Default"].pk), "link": LINK, "quantity": "-0"}), multipart=True)
    def call(drawn, multipart: bool) -> None:
        service, fields = drawn
        data = {"key": key, "action": "add", **fields}
        with rolled_back():
            before = Books.of(shopper)
            if multipart:
                response = client.post(URL, data)
            else:
                response = client.post(URL, urlencode(data), content_type="application/x-www-form-urlencoded")
            outcomes[check_add(response, key, service, before, Books.of(shopper))] += 1

    call()
    assert outcomes[True] > 0 and outcomes[False] > 0, outcomes


# add: JSON -------------------------------------------------------------------------------------------

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    st.sampled_from(("\ud800", "a\udfffb", "https://instagram.com/p/\udc00")),  # lone surrogates: valid JSON escapes, not text
)
json_value = st.recursive(
    json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6
)


@st.composite
def json_call(draw: st.DrawFn, services: list) -> tuple[object, dict[str, object]]:
    """An ``add`` as a JSON object: the order's fields, some of them swapped for any JSON value, and a stray member or two."""
    service, fields = draw(order_fields(services))
    body: dict[str, object] = {"action": "add", **fields}
    for name in draw(st.sets(st.sampled_from(sorted(body)), max_size=2)):
        body[name] = draw(json_value)
    body.update(draw(st.dictionaries(st.text(max_size=8), json_value, max_size=2)))
    # A swapped service id may name another service: then any service may take the order.
    return (service if body["service"] == fields["service"] else None), body


def test_add_with_fuzzed_json(offers, shopper, key) -> None:
    client = Client()
    outcomes = {True: 0, False: 0}

    @fuzz_settings(ci_examples=250, local_examples=80)
    @given(drawn=json_call(list(offers.values())))
    # Found by this test: a lone surrogate (a valid JSON escape) cannot be encoded for hashing or for PostgreSQL (a 500 reply).
    @example(
        drawn=(
            offers["Default"],
            {"action": "add", "service": str(offers["Default"].pk), "link": "https://a.com/\udc00", "quantity": "100"},
        )
    )
    @example(drawn=(offers["Default"], {"action": "add", "service": offers["Default"].pk, "link": LINK, "quantity": 100}))
    @example(drawn=(offers["Default"], {"action": "add", "service": str(offers["Default"].pk), "link": LINK, "quantity": 1e400}))
    def call(drawn) -> None:
        service, body = drawn
        with rolled_back():
            before = Books.of(shopper)
            # "key" last: a fuzzed member named "key" must not replace it; NaN and Infinity go out as Python's json writes them.
            response = client.post(URL, json.dumps({**body, "key": key}), content_type="application/json")
            outcomes[check_add(response, key, service, before, Books.of(shopper))] += 1

    call()
    assert outcomes[True] > 0 and outcomes[False] > 0, outcomes


def test_a_lone_surrogate_in_a_json_key_is_an_incorrect_request(shopper, key) -> None:
    response = Client().post(URL, '{"key": "smm_\\ud800", "action": "balance"}', content_type="application/json")
    assert reply_of(response, key) == {"error": "Incorrect request"}


# Odd JSON: nesting, numbers and names Python's parser takes or chokes on -----------------------------------

# Nested this deep, no parse can succeed whatever the stack already holds. Not the recursion limit itself:
# inside a test, Hypothesis raises the limit to the current depth + 2,000 (``ensure_free_stackframes``),
# so a body nested 1,000 to about 2,000 deep may parse or not; the depths drawn stay clear of that band.
STACK = 10 * max(sys.getrecursionlimit(), 2_000)


@st.composite
def odd_member(draw: st.DrawFn) -> tuple[str, bool]:
    """A JSON value (as text) that is hard on the parser: (the text, whether the API must refuse it)."""
    kind = draw(st.sampled_from(("nested", "constant", "huge float", "tiny float", "long integer", "plain")))
    if kind == "nested":
        depth = draw(st.one_of(st.integers(1, 60), st.integers(STACK, STACK + 5_000)))
        # A short drawn pattern of openers, repeated to the depth (Hypothesis draws lists of at most a few thousand).
        pattern = draw(st.lists(st.sampled_from(("[", '{"a": ', '[1, {"b": ')), min_size=1, max_size=min(depth, 8)))
        openers = (pattern * (depth // len(pattern) + 1))[:depth]
        closers = {"[": "]", '{"a": ': "}", '[1, {"b": ': "}]"}
        inner = draw(st.sampled_from(("1", '"x"', "null", "[]", "{}", "-0.5e-3")))
        return "".join(openers) + inner + "".join(closers[opener] for opener in reversed(openers)), depth >= STACK
    if kind == "constant":
        return draw(st.sampled_from(("NaN", "Infinity", "-Infinity", "[NaN]", '{"c": -Infinity}'))), True
    if kind == "huge float":  # beyond a float's range: Python reads infinity
        return f"{draw(st.sampled_from(('', '-')))}{draw(st.integers(1, 9))}.5e{draw(st.integers(309, 999_999))}", True
    if kind == "tiny float":  # below a float's precision: Python reads 0.0, a number like any other
        return f"1e-{draw(st.integers(400, 999_999))}", False
    if kind == "long integer":  # more digits than Python converts (ValueError), or just below that
        digits = draw(st.one_of(st.integers(sys.get_int_max_str_digits() + 1, 50_000), st.integers(300, sys.get_int_max_str_digits())))
        return "9" * digits, digits > sys.get_int_max_str_digits()
    return json.dumps(draw(json_value)), False


@st.composite
def odd_json_body(draw: st.DrawFn, key: str, service_id: int) -> tuple[bytes, bool]:
    """A call (balance, or a valid add) as JSON with something odd in it: (the body, whether the API must refuse it)."""
    members = [("key", json.dumps(key))]
    if draw(st.booleans()):
        members += [("action", '"add"'), ("service", json.dumps(str(service_id))), ("link", json.dumps(LINK)), ("quantity", '"100"')]
    else:
        members.append(("action", '"balance"'))
    refuse = False
    for _ in range(draw(st.integers(0, 2))):
        value, must = draw(odd_member())
        members.insert(draw(st.integers(0, len(members))), (draw(st.sampled_from(("x", "y", "comments"))), value))
        refuse |= must
    if draw(st.booleans()):  # a name given twice: which one counts would be a guess
        name, value = draw(st.sampled_from(members))
        members.append((name, draw(st.sampled_from((value, '"other"')))))
        refuse = True
    body = ("{" + ", ".join(f"{json.dumps(name)}: {value}" for name, value in members) + "}").encode()
    shape = draw(st.sampled_from(("object", "object", "in a list", "cut short", "a bad byte")))
    if shape == "in a list":
        body = b"[" + body + b"]"
    elif shape == "cut short":
        body = body[: draw(st.integers(1, len(body) - 1))]  # (an empty body is an empty object)
    elif shape == "a bad byte":
        at = body.index(b'"key"') + 1
        body = body[:at] + draw(st.sampled_from((b"\xff", b"\xc3", b"\xed\xa0\x80"))) + body[at:]
    return body, refuse or shape != "object"


def test_nested_and_odd_json_bodies_get_a_json_reply_and_no_traceback(offers, shopper, key, caplog) -> None:
    client = Client()
    service = offers["Default"]
    outcomes = {"refused": 0, "answered": 0}

    @fuzz_settings(ci_examples=150, local_examples=50)
    @given(drawn=odd_json_body(key, service.pk))
    # Issue 17: 1,000 nested brackets raised RecursionError before any key check (an HTML 500 and a logged traceback).
    @example(drawn=(b"[" * 1000 + b"]" * 1000, True))
    @example(drawn=(f'{{"key": "{key}", "action": "balance", "x": {"[" * 5000}{"]" * 5000}}}'.encode(), True))
    @example(drawn=(f'{{"key": "{key}", "action": "balance", "x": 1e999999}}'.encode(), True))
    @example(drawn=(f'{{"key": "{key}", "action": "balance", "x": NaN}}'.encode(), True))
    @example(drawn=(f'{{"key": "smm_a-guess", "key": "{key}", "action": "balance"}}'.encode(), True))
    def call(drawn: tuple[bytes, bool]) -> None:
        body, refuse = drawn
        caplog.clear()
        with rolled_back():
            before = Books.of(shopper)
            reply = reply_of(client.generic("POST", URL, body, content_type="application/json"), key)
            if refuse:
                assert reply == {"error": "Incorrect request"}, body[:200]
            if isinstance(reply, dict) and set(reply) == {"order"}:
                assert_placed_correctly(Order.objects.get(pk=reply["order"]), service, before, Books.of(shopper))
            else:
                assert_nothing_written(before, Books.of(shopper))
        assert not [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]
        outcomes["refused" if reply == {"error": "Incorrect request"} else "answered"] += 1

    call()
    assert outcomes["refused"] > 0 and outcomes["answered"] > 0, outcomes


# Other actions ---------------------------------------------------------------------------------------


@pytest.fixture
def placed(offers, shopper) -> dict[str, list[Order]]:
    """Two orders of the caller and one of a stranger, all awaiting submission (so no call leaves for the provider)."""
    stranger = UserFactory(username="fuzz-stranger")
    wallet_credit(user=stranger, amount=Decimal("50"), kind=LedgerEntry.Kind.DEPOSIT)
    return {
        "own": [order_place(user=shopper, service=offers["Default"], link=LINK, quantity=100 + i) for i in range(2)],
        "stranger": [order_place(user=stranger, service=offers["Default"], link=LINK, quantity=100)],
    }


def stranger_money(user) -> tuple[Decimal, int]:
    books = Books.of(user)
    return books.balance, LedgerEntry.objects.filter(wallet__user=user).count()


def id_text(real: list[str]) -> st.SearchStrategy[str]:
    """An id or a comma-separated list of ids: real ones (own and a stranger's), numbers of any size, any text; past the 100-id limit."""
    one = st.one_of(st.sampled_from(real), number_text, st.integers(min_value=1, max_value=50).map(str))
    return st.one_of(one, st.lists(one, max_size=120).map(",".join), st.lists(one, max_size=5).map(" , ".join))


def test_other_actions_with_fuzzed_ids(placed, shopper, key) -> None:
    client = Client()
    own, stranger = placed["own"], placed["stranger"][0]
    real = [str(order.pk) for order in [*own, stranger]]
    names = sorted({definition.action for definition in ACTIONS} - {"add"})
    stranger_books = stranger_money(stranger.user)
    before_entries = list(LedgerEntry.objects.values_list("pk", flat=True))

    @fuzz_settings(ci_examples=200, local_examples=60)
    @given(
        action=st.one_of(st.sampled_from(names), any_text),
        params=st.dictionaries(st.sampled_from(("order", "orders", "refill", "refills")), id_text(real), max_size=2),
        as_json=st.booleans(),
    )
    @example(action="status", params={"orders": "²,1"}, as_json=False)
    @example(action="cancel", params={"orders": ",".join(real)}, as_json=False)
    @example(action="cancel", params={"order": real[0]}, as_json=True)
    def call(action: str, params: dict[str, str], as_json: bool) -> None:
        data = {**params, "action": action, "key": key}
        with rolled_back():
            before = Books.of(shopper)
            if as_json:
                response = client.post(URL, json.dumps(data), content_type="application/json")
            else:
                response = client.post(URL, urlencode(data), content_type="application/x-www-form-urlencoded")
            reply_of(response, key)
            after = Books.of(shopper)
            assert after.orders == before.orders
            after.assert_consistent()
            assert stranger_money(stranger.user) == stranger_books
            assert Order.objects.get(pk=stranger.pk).status == OrderStatus.AWAITING
            # The only money that may move: the full refund of an own order canceled before it was sent.
            for entry in LedgerEntry.objects.filter(wallet__user=shopper).exclude(pk__in=before_entries):
                order = Order.objects.get(pk=entry.order_id)
                assert entry.kind == LedgerEntry.Kind.REFUND and order.user_id == shopper.pk
                assert order.status == OrderStatus.CANCELED and entry.amount == order.charge == order.refunded

    call()


# Raw bodies and size ---------------------------------------------------------------------------------


def test_raw_bodies_get_a_json_reply_and_write_nothing(offers, shopper, key) -> None:
    client = Client()
    service = offers["Default"]
    prefix = f"key={key}&action=add&service={service.pk}&link={LINK}&".encode()

    @fuzz_settings(ci_examples=100, local_examples=40)
    @given(
        body=st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(prefix.__add__)),
        content_type=st.sampled_from(
            (
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=xyz",
                "text/plain",
                "application/json; charset=latin-1",
                "application/x-www-form-urlencoded; charset=latin-1",
                "multipart/form-data",
            )
        ),
    )
    @example(body=b'{"key": "smm_x", "action": "add", "quantity": ' + b"9" * 5000 + b"}", content_type="application/json")
    @example(body=prefix + b"quantity=100\xff\xfe", content_type="application/x-www-form-urlencoded")
    @example(body=b"[1, 2, 3]", content_type="application/json")
    # Found by this test: these got Django's HTML 400 page instead of a JSON error.
    @example(body=prefix + b"quantity=100", content_type="application/x-www-form-urlencoded; charset=latin-1")
    @example(body=prefix + b"quantity=100", content_type="multipart/form-data")
    @example(body=prefix + b"&".join(b"f%d=1" % i for i in range(1001)), content_type="application/x-www-form-urlencoded")
    def call(body: bytes, content_type: str) -> None:
        with rolled_back():
            before = Books.of(shopper)
            # generic() sends the bytes as they are whatever the charset named (post() would re-encode them).
            response = client.generic("POST", URL, body, content_type=content_type)
            reply = reply_of(response, key)
            # A raw body may happen to place the order (a valid prefix and "quantity=100"): then it is placed correctly.
            if isinstance(reply, dict) and set(reply) == {"order"}:
                order = Order.objects.select_related("service__provider_service").get(pk=reply["order"])
                assert_placed_correctly(order, order.service, before, Books.of(shopper))
            else:
                assert_nothing_written(before, Books.of(shopper))

    call()


TEN_MB = 10 * 1024 * 1024


def test_ten_megabytes_of_comments_as_form_data_get_a_json_error(offers, shopper, key) -> None:
    before = Books.of(shopper)
    comments = "\n".join(["a nice comment"] * (TEN_MB // 15))
    data = {"key": key, "action": "add", "service": str(offers["Custom Comments"].pk), "link": LINK, "comments": comments}
    response = Client().post(URL, urlencode(data), content_type="application/x-www-form-urlencoded")
    assert reply_of(response, key) == {"error": "Incorrect request"}
    assert_nothing_written(before, Books.of(shopper))


def test_ten_megabytes_of_comments_as_json_get_a_json_error(offers, shopper, key) -> None:
    before = Books.of(shopper)
    comments = "\n".join(["a nice comment"] * (TEN_MB // 15))
    body = json.dumps({"key": key, "action": "add", "service": str(offers["Custom Comments"].pk), "link": LINK, "comments": comments})
    response = Client().post(URL, body, content_type="application/json")
    assert reply_of(response, key) == {"error": "Incorrect request"}
    assert_nothing_written(before, Books.of(shopper))
