"""Fuzzing the live status refresh of the customer's pages (``shop.storefront.views.orders_status_json``, ``GET /orders/status.json?ids=``).

What it proves: whatever ``ids`` holds (numbers of any size, digits of other
scripts such as "²" that ``str.isdigit()`` accepts and ``int()`` refuses, any
text), the reply is JSON with status 200, and it names only the caller's own
orders among the ids sent, never a stranger's.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from shop.models import LedgerEntry
from shop.orders.placement import order_place
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory
from tests.fuzz.strategies import any_text, fuzz_settings, number_text

pytestmark = pytest.mark.postgres
URL = reverse("orders-status")


def test_live_status_takes_any_ids(offers, shopper) -> None:
    own = order_place(user=shopper, service=offers["Default"], link="https://instagram.com/p/a", quantity=100)
    stranger = UserFactory(username="fuzz-stranger")
    wallet_credit(user=stranger, amount=Decimal("10"), kind=LedgerEntry.Kind.DEPOSIT)
    theirs = order_place(user=stranger, service=offers["Default"], link="https://instagram.com/p/b", quantity=100)
    browser = Client()
    browser.force_login(shopper)
    one = st.one_of(st.sampled_from((str(own.pk), str(theirs.pk))), number_text, any_text)

    @fuzz_settings(ci_examples=60, local_examples=20)
    @given(ids=st.one_of(one, st.lists(one, max_size=120).map(",".join)))
    # Found by this test: "²" passed str.isdigit() and int() raised (a 500).
    @example(ids=f"²,{own.pk},{theirs.pk}")
    def get(ids: str) -> None:
        response = browser.get(URL, {"ids": ids})
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        named = set(json.loads(response.content)["orders"])
        assert named <= {str(own.pk)}
        parts = ids.split(",")
        if str(own.pk) in parts and len(parts) <= 100:
            assert named == {str(own.pk)}

    get()
