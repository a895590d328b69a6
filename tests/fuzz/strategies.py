"""Hypothesis strategies for hostile input: text, numbers, links and line lists that real clients and attackers send.

Each strategy mixes plausible values (so that some examples get through and
the accepted path is checked too) with the nasty ones: every unicode category
but lone surrogates (which a browser cannot send; the JSON tests add them by
escape), NUL and other control characters, bidi marks, numbers far outside
any range, numbers spelt as floats or with separators, non-http links, SQL-
and template-like strings.
"""

from __future__ import annotations

import os
from datetime import timedelta

from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from shop.orders import subscriptions
from shop.orders.types import type_spec
from shop.reseller_api import handlers as api

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def fuzz_settings(ci_examples: int, local_examples: int) -> settings:
    """Many examples under CI=true, fewer locally; no example database (nothing written to .hypothesis/)."""
    return settings(
        max_examples=ci_examples if IN_CI else local_examples,
        deadline=None,
        database=None,
        derandomize=False,
        # The examples share the test's database transaction; each one rolls its writes back itself.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


NASTY = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31m",
    "\x7f",
    "\x85",
    "\x9b",
    "\u200b",
    "\u200e",
    "\u202e",
    "\ufeff",
    "\u2028",
    "\r\n",
    "\t",
    "' OR 1=1 --",
    "'; DROP TABLE shop_order; --",
    '" OR ""="',
    "1; SELECT pg_sleep(10)",
    "%00",
    "%s%s%s%n",
    "{{ 7*7 }}",
    "${jndi:ldap://x/a}",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "NaN",
    "Infinity",
    "-Infinity",
    "null",
    "None",
    "true",
    "[]",
    "{}",
    "ǅ̸͢",
    "🙂" * 50,
    "x" * 5000,
)

#: Any text but lone surrogates: controls (NUL included), format and bidi marks, private use, unassigned.
any_text = st.one_of(st.text(st.characters(exclude_categories=("Cs",)), max_size=300), st.sampled_from(NASTY))

NUMBER_WORDS = (
    "0",
    "-0",
    "+0",
    "00",
    "-1",
    "+5",
    " 100 ",
    "1e5",
    "1E3",
    "1e309",
    "-1e309",
    "1e-5",
    "NaN",
    "nan",
    "sNaN",
    "Infinity",
    "-inf",
    "1_000",
    "1,000",
    "1.000",
    "1.5",
    "100.0",
    "0x10",
    "0b11",
    "٣٠٠",  # Arabic-Indic digits
    "\uff11\uff10\uff10",  # fullwidth digits
    "²",  # a digit to str.isdigit(), not to int()
    "¹⁰⁰",
    "Ⅻ",
    "100\x00",
    "1\u200b00",
    str(2**31),
    str(2**63 - 1),
    str(2**63),
    str(-(2**63)),
    str(2**64),
    str(10**18),
    str(10**18 - 1),
    str(10**30),
    "9" * 400,
    "1" * 5000,
)

#: Numbers as a client might type them: whole numbers far outside any range, decimals, floats, words.
number_text = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.integers(min_value=-5, max_value=200_000).map(str),
    st.sampled_from(NUMBER_WORDS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    any_text,
)

SCHEMES = ("javascript:", "JaVaScRiPt:", "data:text/html,", "file://", "ftp://", "vbscript:", "mailto:", "//", "http:/", "", " https://")
HOSTS = ("instagram.com", "пример.рф", "xn--e1afmkfd.xn--p1ai", "localhost", "127.0.0.1", "a", "", "exa mple.com", "évil.com:99999")


@st.composite
def _crafted_link(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from((*SCHEMES, "http://", "https://", "HTTPS://")))
    host = draw(st.one_of(st.sampled_from(HOSTS), any_text))
    path = draw(
        st.one_of(st.just(""), st.sampled_from(("/p/abc", "/?q=1#x", "/a b", "/\x00", "/\n", "/\u202e")), any_text.map("/".__add__))
    )
    return scheme + host + path


#: Links: valid ones, every non-http scheme, unicode hosts, whitespace and control characters, around and past 2000 characters.
link_text = st.one_of(
    st.just("https://instagram.com/p/abc"),
    _crafted_link(),
    st.integers(min_value=1980, max_value=2010).map(lambda n: "https://instagram.com/" + "a" * (n - len("https://instagram.com/"))),
    st.integers(min_value=2001, max_value=100_000).map(lambda n: "https://a.com/" + "x" * n),
    any_text,
)

#: One-per-line lists: a few weird lines, thousands of lines, and the 10,000-line limit from both sides.
lines_text = st.one_of(
    st.lists(any_text, max_size=20).map("\n".join),
    st.lists(st.sampled_from(("nice", "@user_1", "#tag", "", "  ", "x" * 501, "bad\x07line")), max_size=3000).map("\r\n".join),
    st.integers(min_value=9_995, max_value=10_005).map(lambda n: "\n".join(f"line{i}" for i in range(n))),
)


# Orders -------------------------------------------------------------------------------------

# What the API's add takes, less the drip-feed pair (fuzzed on their own terms).
ORDER_FIELDS = tuple(name for name in api.ORDER_FIELDS if name not in ("runs", "interval"))
word = st.text("abcxyz_019", min_size=1, max_size=12)
good_lines = st.lists(st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=40), min_size=1, max_size=15)


def _good(field: str, low: int, high: int) -> st.SearchStrategy[str]:
    """A value a careful customer would send for ``field``."""
    return {
        "link": word.map("https://instagram.com/p/".__add__),
        "media": word.map("https://instagram.com/p/".__add__),
        "quantity": st.integers(min_value=low, max_value=min(high, low + 5000)).map(str),
        "comments": good_lines.map("\n".join),
        "usernames": st.lists(word, min_size=1, max_size=10).map("\n".join),
        "hashtags": st.lists(word.map("#".__add__), min_size=1, max_size=5).map("\n".join),
        "hashtag": word.map("#".__add__),
        "username": word,
        "answer_number": st.integers(min_value=1, max_value=100).map(str),
        "groups": st.lists(word, min_size=1, max_size=5).map("\n".join),
        "keywords": good_lines.map("\n".join),
        # Subscriptions (``shop.orders.subscriptions``); ``order_fields`` puts min and max in order.
        "min": st.integers(min_value=low, max_value=min(high, low + 500)).map(str),
        "max": st.integers(min_value=low, max_value=min(high, low + 500)).map(str),
        "posts": st.integers(min_value=1, max_value=10).map(str),
        "old_posts": st.integers(min_value=0, max_value=5).map(str),
        "delay": st.sampled_from(subscriptions.DELAYS).map(str),
        "expiry": st.builds(
            lambda days, iso: (timezone.localdate() + timedelta(days=days)).strftime("%Y-%m-%d" if iso else subscriptions.EXPIRY_FORMAT),
            st.integers(min_value=1, max_value=subscriptions.MAX_EXPIRY_DAYS),
            st.booleans(),
        ),
    }[field]


#: Dates as people and scripts write them, right and wrong: today, the past, beyond ten years, impossible days, other orders.
DATE_WORDS = ("31/12/2099", "29/02/2023", "32/01/2030", "00/00/0000", "1/1/1", "2030-13-01", "12/31/2030", "31.12.2030", "01/01/2000")


def _bad(field: str) -> st.SearchStrategy[str]:
    if field in ("link", "media"):
        return link_text
    if field in ("quantity", "answer_number", "min", "max", "posts", "old_posts", "delay"):
        return number_text
    if field == "expiry":
        return st.one_of(st.sampled_from(DATE_WORDS), any_text)
    if field in ("comments", "usernames", "hashtags", "groups", "keywords"):
        return lines_text
    return any_text


@st.composite
def order_fields(draw: st.DrawFn, services: list) -> tuple[object, dict[str, str]]:
    """A service and the fields of an order for it: mostly well-formed, with up to three fields (of any type) fuzzed.

    Returns the service (None when the service id itself is fuzzed) and the fields as strings.
    """
    service = draw(st.sampled_from(services))
    upstream = service.provider_service
    spec = type_spec(upstream.type)
    own = spec.fields if spec is not None and spec.subscription else ()  # a subscription needs all of them to go through
    fuzzed = draw(st.sets(st.sampled_from((*ORDER_FIELDS, "service", "dripfeed")), max_size=3))
    fields: dict[str, str] = {}
    for name in ORDER_FIELDS:
        if name in fuzzed:
            fields[name] = draw(_bad(name))
        elif name in ("link", "quantity", *own) or draw(st.integers(0, 4)) == 0:  # fields of other types now and then
            fields[name] = draw(_good(name, upstream.min_quantity, upstream.max_quantity))
    if own and not {"min", "max"} & fuzzed and int(fields["min"]) > int(fields["max"]):
        fields["min"], fields["max"] = fields["max"], fields["min"]
    if "dripfeed" in fuzzed or (upstream.dripfeed and draw(st.booleans())):
        fields["runs"] = draw(st.one_of(st.integers(2, 10).map(str), number_text))
        fields["interval"] = draw(st.one_of(st.integers(1, 1440).map(str), number_text))
    if "service" in fuzzed:
        fields["service"] = draw(number_text)
        return None, fields
    fields["service"] = str(service.pk)
    return service, fields
