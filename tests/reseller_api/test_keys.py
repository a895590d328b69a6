"""Customers' API keys (``shop.reseller_api.keys``): issued once, kept only as a hash, replaced at once, checked for an active owner.

Revoked (when a password changes) they stop working, keeping when and why.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shop.models import ApiKey
from shop.reseller_api.keys import KEY_PREFIX, LAST_USED_PRECISION, api_key_issue, api_key_revoke, api_key_user
from shop.reseller_api.models import Revocation
from tests.factories import UserFactory

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


def test_a_revoked_key_stops_working_and_keeps_when_and_why(customer) -> None:
    key = api_key_issue(user=customer)
    before = timezone.now()
    assert api_key_revoke(user=customer, reason=Revocation.PASSWORD_CHANGED) is True
    assert api_key_user(key=key) is None
    stored = ApiKey.objects.get(user=customer)
    assert stored.revoked_at >= before and stored.revoked_reason == Revocation.PASSWORD_CHANGED
    assert stored.get_revoked_reason_display() == "you changed your password"


def test_revoking_again_keeps_the_first_revocation(customer) -> None:
    api_key_issue(user=customer)
    api_key_revoke(user=customer, reason=Revocation.PASSWORD_RESET)
    first = ApiKey.objects.values_list("revoked_at", "revoked_reason").get(user=customer)
    assert api_key_revoke(user=customer, reason=Revocation.PASSWORD_SET_BY_ADMIN) is False
    assert ApiKey.objects.values_list("revoked_at", "revoked_reason").get(user=customer) == first


def test_revoking_without_a_key_does_nothing(customer) -> None:
    assert api_key_revoke(user=customer, reason=Revocation.PASSWORD_CHANGED) is False
    assert not ApiKey.objects.exists()


def test_revoking_touches_only_that_customers_key(customer) -> None:
    other = UserFactory()
    other_key = api_key_issue(user=other)
    api_key_issue(user=customer)
    api_key_revoke(user=customer, reason=Revocation.PASSWORD_CHANGED)
    assert api_key_user(key=other_key) == other


def test_a_new_key_after_a_revocation_works_and_clears_it(customer) -> None:
    old = api_key_issue(user=customer)
    api_key_revoke(user=customer, reason=Revocation.PASSWORD_CHANGED)
    new = api_key_issue(user=customer)
    assert api_key_user(key=new) == customer and api_key_user(key=old) is None
    assert ApiKey.objects.values_list("revoked_at", "revoked_reason").get(user=customer) == (None, "")


@pytest.mark.parametrize(
    "fields",
    [
        {"revoked_reason": Revocation.PASSWORD_RESET},
        {"revoked_at": timezone.now()},
        {"revoked_at": timezone.now(), "revoked_reason": "why not"},
    ],
)
def test_the_database_refuses_a_revocation_without_both_when_and_a_known_why(customer, fields) -> None:
    api_key_issue(user=customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.filter(user=customer).update(**fields)
