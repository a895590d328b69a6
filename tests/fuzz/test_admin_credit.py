"""Fuzzing the admin's credit/debit page of a customer (``CustomerAdmin.balance_view``, ``AdjustBalanceForm``, ``wallet_adjust``).

What it proves, for every generated POST (amounts such as "-0", "1e309", "NaN",
huge or with many decimal places, numbers in other scripts; any direction;
reasons with control characters, SQL-like or too long; debits larger than the
balance; fuzzed customer ids in the address): the page never answers 500; a
refused adjustment re-renders the form with a message and writes nothing; an
accepted one writes exactly one adjustment entry, signed by its direction, of
exactly the amount typed, naming the admin and the trimmed reason, and the
balance moves by it, stays the sum of the ledger and never goes below zero.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st

from shop.models import LedgerEntry
from tests.fuzz.conftest import Books, assert_no_controls, assert_nothing_written, rolled_back
from tests.fuzz.strategies import any_text, fuzz_settings, number_text

pytestmark = pytest.mark.postgres

amount_text = st.one_of(
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("600"), places=4).map(str),
    st.decimals(min_value=Decimal("-1000"), max_value=Decimal("10") ** 15, places=8).map(str),
    st.sampled_from(("-0", "0.0000", "0.00001", "0.00005", "1e309", "1E-309", "1e2", "99999999999999.9999", "100000000000000", "0.1e5")),
    number_text,
)
direction_text = st.one_of(st.sampled_from(("credit", "debit")), any_text)
reason_text = st.one_of(
    st.text("abcdefgh ", min_size=1, max_size=60),
    st.sampled_from(
        ("x" * 255, "x" * 256, " " * 10, " Goodwill ", "Refund\x07", "Refund\x9b", "a\u202eb", "'; DROP TABLE shop_ledgerentry; --")
    ),
    any_text,
)


def test_balance_page_survives_fuzzed_adjustments(admin_client, admin_user, shopper) -> None:
    url = reverse("admin:auth_user_balance", args=[shopper.pk])
    outcomes = {"applied": 0, "refused": 0}

    @fuzz_settings(ci_examples=250, local_examples=80)
    @given(amount=amount_text, direction=direction_text, reason=reason_text)
    # Found by this test: a credit valid on its own overflowed the balance column (a 500).
    @example(amount="99999999999999.9999", direction="credit", reason="Huge")
    @example(amount="500.0001", direction="debit", reason="More than the balance")
    @example(amount="500", direction="debit", reason="All of it")
    @example(amount="NaN", direction="credit", reason="Not a number")
    @example(amount="5", direction="credit", reason="Bell\x07")
    def post(amount: str, direction: str, reason: str) -> None:
        with rolled_back():
            before = Books.of(shopper)
            response = admin_client.post(url, {"amount": amount, "direction": direction, "reason": reason})
            after = Books.of(shopper)
            assert response.status_code in (200, 302), response.status_code
            if response.status_code == 200:
                outcomes["refused"] += 1
                assert b"Nothing was changed" in response.content
                assert_nothing_written(before, after)
                return
            outcomes["applied"] += 1
            assert response["Location"] == reverse("admin:auth_user_overview", args=[shopper.pk])  # back to the overview
            (entry,) = LedgerEntry.objects.filter(wallet__user=shopper).order_by("-pk")[:1]
            typed = Decimal(amount.strip())
            assert entry.kind == LedgerEntry.Kind.ADJUSTMENT and entry.created_by == admin_user
            assert entry.amount == (typed if direction == "credit" else -typed) and typed > 0
            assert entry.reason == reason.strip() and entry.reason
            assert_no_controls(entry.reason)
            assert after.entries == before.entries + 1 and after.orders == before.orders
            assert after.balance == before.balance + entry.amount == entry.balance_after
            after.assert_consistent()

    post()
    assert outcomes["applied"] > 0 and outcomes["refused"] > 0, outcomes


def test_balance_page_of_a_fuzzed_id_is_not_found_unless_it_names_a_user(admin_client, shopper) -> None:
    @fuzz_settings(ci_examples=60, local_examples=20)
    @given(object_id=st.one_of(number_text, any_text).filter(lambda text: text.strip("/") and "/" not in text))
    @example(object_id=str(2**63))
    @example(object_id="-1")
    def post(object_id: str) -> None:
        with rolled_back():
            before = Books.of(shopper)
            response = admin_client.post(
                f"/admin/auth/user/{quote(object_id, safe='')}/balance/", {"amount": "5", "direction": "credit", "reason": "x"}
            )
            if _names_a_user(object_id):  # the customer, or the admin: a real account, credited
                assert response.status_code == 302
                return
            assert response.status_code == 404, response.status_code
            assert_nothing_written(before, Books.of(shopper))

    post()


def test_ten_megabytes_of_reason_are_refused_with_nothing_written(admin_client, shopper) -> None:
    before = Books.of(shopper)
    url = reverse("admin:auth_user_balance", args=[shopper.pk])
    response = admin_client.post(url, {"amount": "5", "direction": "credit", "reason": "r" * (10 * 1024 * 1024)})
    assert response.status_code in (400, 413)
    assert_nothing_written(before, Books.of(shopper))


def _names_a_user(object_id: str) -> bool:
    """Whether the admin reads ``object_id`` as a user's id (it takes "+1", " 1" or an Arabic-Indic one for 1, as int() does)."""
    user_model = get_user_model()
    try:
        pk = user_model._meta.pk.to_python(object_id)
    except (ValidationError, ValueError):
        return False
    return user_model.objects.filter(pk=pk).exists()
