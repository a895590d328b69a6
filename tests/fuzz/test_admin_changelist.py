"""Fuzzing the query string of the orders' admin list (``OrderAdmin`` on ``shop.core.admin.ShopChangeList``).

What it proves, for every generated query string (the list's own filters and date drill-down, lookups on
its fields, ordering, page, "show all", facets and search, with values that are NUL characters, numbers
far outside any range, years past 9999, unknown choices, broken regular expressions or any text; and
keys of any text): the page never answers 500. It lists orders (200); or sends the admin to the whole
list with a message saying why (302 to ``?e=1``), first dropping a stray ``e`` of Django's; or, for a
lookup across relations the admin does not offer, refuses it as Django does (400).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from django.contrib import admin, messages
from django.contrib.admin.views.main import ERROR_FLAG, IGNORED_PARAMS
from django.contrib.messages import get_messages
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from shop.models import Order, OrderStatus
from tests.fuzz.conftest import rolled_back
from tests.fuzz.strategies import any_text, fuzz_settings, number_text
from tests.helpers import order_row

KEYS = (
    "status__exact",
    "status__in",
    "status",
    "status__isnull",
    "user__id__exact",
    "provider__id__exact",
    "provider__isnull",
    "created_at__gte",
    "created_at__lt",
    "created_at__year",
    "created_at__month",
    "created_at__day",
    "created_at__date",
    "id",
    "id__in",
    "id__gt",
    "id__range",
    "link__contains",
    "link__regex",
    "upstream_order_id",
    "charge__gte",
    "remains__lte",
    "quantity",
    "user__username",  # across a relation the list does not offer: Django's 400
    "q",
    "o",
    "p",
    "e",
    "all",
    "_facets",
)
key_text = st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS).map(lambda key: f"{key}__exact"), any_text.map(lambda text: text[:40]))
value_text = st.one_of(
    st.sampled_from((*OrderStatus.values, "", "1", "0", "true", "2024", "12", "31", "2024-01-01", "9999-12-31", "(", "a{1,256}", "1,2")),
    st.dates().map(str),
    st.datetimes().map(str),
    number_text,
    any_text,
)
query_pairs = st.lists(st.tuples(key_text, value_text), min_size=1, max_size=5)


@pytest.fixture
def orders(db, customer) -> list[Order]:
    return [order_row(customer, status=status) for status in (OrderStatus.PENDING, OrderStatus.COMPLETED, OrderStatus.NEEDS_ATTENTION)]


# A date typed without its zone is read in the shop's zone, with Django's warning (an error under the test settings).
@pytest.mark.filterwarnings("ignore:DateTimeField Order.created_at received a naive datetime:RuntimeWarning")
def test_order_list_survives_fuzzed_query_strings(admin_client, orders) -> None:
    url = reverse("admin:shop_order_changelist")
    model_admin = admin.site._registry[Order]
    outcomes = {200: 0, 302: 0, 400: 0}

    @fuzz_settings(ci_examples=300, local_examples=80)
    @given(pairs=query_pairs)
    # The two addresses of issue 17, each a 500 before.
    @example(pairs=[("status__exact", "a\x00b")])
    @example(pairs=[("created_at__year", "99999999999")])
    @example(pairs=[("created_at__year", "9999")])
    @example(pairs=[("id__in", f"1,{2**64}")])
    @example(pairs=[("e", "1"), ("status__exact", "bogus")])
    @example(pairs=[("link__regex", "a{1,256}")])
    @example(pairs=[("created_at__gte", "00010101")])
    @example(pairs=[("id__range", "1")])  # fails only as the statement is compiled
    @example(pairs=[("q", " ".join(["word"] * 500))])
    @example(pairs=[("q", "100\x00"), ("status__exact__exact", "awaiting")])  # two messages: the search's and the filter's
    def get(pairs: list[tuple[str, str]]) -> None:
        admin_client.cookies.pop("messages", None)  # each example reads only its own messages
        with rolled_back():
            response = admin_client.get(f"{url}?{urlencode(pairs)}")
        assert response.status_code in outcomes, response.status_code
        outcomes[response.status_code] += 1
        filters = [(key, value) for key, value in pairs if key not in IGNORED_PARAMS]
        if response.status_code == 400:
            assert not all(model_admin.lookup_allowed(key, value, response.wsgi_request) for key, value in filters), pairs
            return
        if response.status_code == 200:
            assert response.context["cl"].model is Order
            return
        keys = {key for key, _ in pairs}
        if ERROR_FLAG in keys and keys != {ERROR_FLAG}:
            path, _, query = response["Location"].partition("?")
            kept = [(key, value) for key, value in pairs if key != ERROR_FLAG]
            assert path == url and sorted(parse_qsl(query, keep_blank_values=True)) == sorted(kept)
            return
        assert response["Location"] == f"{url}?{ERROR_FLAG}=1"
        said = [str(message) for message in get_messages(response.wsgi_request) if message.level == messages.ERROR]
        whole = [text for text in said if text.startswith("The whole list is shown: ")]
        assert len(whole) == 1, said
        # Besides, Django's own search form says why it refused a search (a NUL in it), and only then.
        searched_nul = any(key == "q" and "\x00" in value for key, value in pairs)
        assert [text for text in said if text not in whole] == (["Null characters are not allowed."] if searched_nul else []), said

    get()
    assert outcomes[200] > 0 and outcomes[302] > 0, outcomes
