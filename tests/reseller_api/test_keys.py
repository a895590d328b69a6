"""Customers' API keys (``shop.reseller_api.keys``): issued once, kept only as a hash, replaced at once, checked for an active owner."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shop.models import ApiKey
from shop.reseller_api.keys import KEY_PREFIX, LAST_USED_PRECISION, api_key_issue, api_key_user

pytestmark = pytest.mark.django_db


def last_used(user):
    return ApiKey.objects.values_list("last_used_at", flat=True).get(user=user)


def test_keys_are_random_hashed_and_replaced_at_once(customer) -> None:
    first = api_key_issue(user=customer)
    stored = ApiKey.objects.get(user=customer)
    assert len(first) >= 47 and first not in stored.key_hash and stored.prefix == first[:10]
    second = api_key_issue(user=customer)
    assert second != first
    assert api_key_user(key=first) is None
    assert api_key_user(key=second) == customer


def test_only_the_hash_and_a_short_prefix_are_stored(customer) -> None:
    key = api_key_issue(user=customer)
    row = ApiKey.objects.filter(user=customer).values().get()
    assert key.startswith(KEY_PREFIX)
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["prefix"] == key[:10] and len(row["prefix"]) < len(key) // 4
    assert not any(key in str(value) for value in row.values())


def test_a_customer_has_one_key_and_a_new_one_starts_unused(customer) -> None:
    api_key_user(key=api_key_issue(user=customer))
    assert last_used(customer) is not None
    api_key_issue(user=customer)
    assert ApiKey.objects.filter(user=customer).count() == 1
    assert last_used(customer) is None


def test_the_owner_comes_back_with_what_an_api_call_reads(customer) -> None:
    user = api_key_user(key=api_key_issue(user=customer))
    assert (user.pk, user.is_active) == (customer.pk, True)


def test_a_use_is_recorded_to_the_minute_not_at_every_call(customer) -> None:
    key = api_key_issue(user=customer)
    before = timezone.now()
    api_key_user(key=key)
    first = last_used(customer)
    assert first >= before

    with CaptureQueriesContext(connection) as queries:
        assert api_key_user(key=key) == customer
    assert last_used(customer) == first
    assert len(queries) == 1  # the lookup only: no write within the minute

    a_while_ago = timezone.now() - LAST_USED_PRECISION - timedelta(seconds=1)
    ApiKey.objects.filter(user=customer).update(last_used_at=a_while_ago)
    api_key_user(key=key)
    assert last_used(customer) > a_while_ago + LAST_USED_PRECISION


def test_the_key_of_an_inactive_customer_is_refused(customer) -> None:
    key = api_key_issue(user=customer)
    customer.is_active = False
    customer.save()
    assert api_key_user(key=key) is None
    assert last_used(customer) is None  # a refused key is not recorded as used

    customer.is_active = True
    customer.save()
    assert api_key_user(key=key) == customer


@pytest.mark.parametrize(
    "key",
    ["", "nope", "SMM_" + "x" * 43, " smm_" + "x" * 43, "smm_" + "y" * 200, None, 42, ["smm_x"]],
    ids=["blank", "no-prefix", "upper-prefix", "leading-space", "too-long", "none", "int", "list"],
)
def test_a_malformed_key_is_refused_without_a_query(customer, key) -> None:
    api_key_issue(user=customer)
    with CaptureQueriesContext(connection) as queries:
        assert api_key_user(key=key) is None
    assert len(queries) == 0


def test_an_unknown_well_formed_key_is_refused(customer) -> None:
    key = api_key_issue(user=customer)
    assert api_key_user(key=key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert api_key_user(key=key + " ") is None
