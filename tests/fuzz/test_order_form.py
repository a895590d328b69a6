"""Fuzzing the customer's *New order* page (``shop.storefront.views.order_new``, ``OrderForm``, ``order_place``) over HTTP.

What it proves, for every generated POST (any service type, fuzzed service ids,
links, quantities, line lists, drip-feed fields, unicode and control characters,
SQL-like strings): the page never answers 500; a rejected order answers 400
and writes nothing (no order, no ledger entry, the balance unchanged); an
accepted order redirects to its page and is charged once, more than zero,
exactly the service's rate for its quantity, with the balance equal to the
sum of the ledger and never negative. A 10 MB comment list is refused as a
bad request, with nothing written.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from shop.models import Order
from tests.fuzz.conftest import Books, assert_nothing_written, assert_placed_correctly, rolled_back
from tests.fuzz.strategies import fuzz_settings, order_fields

pytestmark = pytest.mark.postgres
URL = reverse("order-new")


@pytest.fixture
def browser(shopper) -> Client:
    client = Client()  # raise_request_exception: an exception in the view fails the test instead of becoming a 500 page
    client.force_login(shopper)
    return client


def test_order_page_survives_fuzzed_posts(browser, offers, shopper) -> None:
    outcomes = {"placed": 0, "rejected": 0}
    services = list(offers.values())

    @fuzz_settings(ci_examples=250, local_examples=80)
    @given(drawn=order_fields(services))
    # Found by this test: a digit str.isdigit() accepts but int() does not (a 500).
    @example(drawn=(None, {"service": "²", "link": "https://instagram.com/p/x", "quantity": "100"}))
    # Found by this test: a control character accepted in a hashtag.
    @example(
        drawn=(
            offers["Mentions Hashtag"],
            {"service": str(offers["Mentions Hashtag"].pk), "link": "https://a.com/", "quantity": "10", "hashtag": "#a\x01b"},
        )
    )
    # A C1 control character (U+009B, the terminal's CSI) was accepted in a link.
    @example(drawn=(offers["Default"], {"service": str(offers["Default"].pk), "link": "https://a.com/\x9b[2J", "quantity": "10"}))
    def post_order(drawn: tuple[object, dict[str, str]]) -> None:
        service, fields = drawn
        data = {**fields, "dripfeed": "on"} if "runs" in fields else fields
        with rolled_back():
            before = Books.of(shopper)
            response = browser.post(URL, data)
            after = Books.of(shopper)
            assert response.status_code in (302, 400), response.status_code
            if response.status_code == 400:
                outcomes["rejected"] += 1
                assert b'role="alert"' in response.content  # the page says what is wrong
                assert_nothing_written(before, after)
                return
            outcomes["placed"] += 1
            order = Order.objects.select_related("service__provider_service").latest("pk")
            assert response["Location"] == reverse("order-detail", args=[order.pk])
            assert service is None or order.service_id == service.pk
            assert_placed_correctly(order, order.service, before, after)

    post_order()
    # Neither half of the property may be vacuous.
    assert outcomes["placed"] > 0 and outcomes["rejected"] > 0, outcomes


def test_order_page_shows_fuzzed_service_choice_without_error(browser, offers) -> None:
    """The page also reads ?service= and ?category= from the address: any value renders the page."""

    @fuzz_settings(ci_examples=80, local_examples=30)
    @given(service=st.text(max_size=30), category=st.text(max_size=30))
    @example(service="²", category="²")
    @example(service=str(2**63), category=str(10**30))
    def get_page(service: str, category: str) -> None:
        response = browser.get(URL, {"service": service, "category": category})
        assert response.status_code == 200

    get_page()


def test_ten_megabytes_of_comments_are_refused_with_nothing_written(browser, offers, shopper) -> None:
    service = offers["Custom Comments"]
    before = Books.of(shopper)
    comments = "\n".join(["a nice comment"] * (10 * 1024 * 1024 // 15))
    response = browser.post(URL, {"service": str(service.pk), "link": "https://instagram.com/p/x", "comments": comments})
    assert response.status_code in (400, 413)
    assert_nothing_written(before, Books.of(shopper))


def test_a_comment_list_just_under_the_upload_limit_is_refused_by_the_form(browser, offers, shopper) -> None:
    """2 MB is within Django's upload limit: the line limit, not the request size, refuses it, with the page and its message."""
    service = offers["Custom Comments"]
    before = Books.of(shopper)
    comments = "\n".join(f"comment {i}" for i in range(150_000))
    response = browser.post(URL, {"service": str(service.pk), "link": "https://instagram.com/p/x", "comments": comments})
    assert response.status_code == 400
    assert "at most 10000 lines" in response.content.decode()
    assert_nothing_written(before, Books.of(shopper))
