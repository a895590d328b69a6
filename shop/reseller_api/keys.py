"""Customers' API keys: issued once, stored as a hash, checked in constant time, revoked when the password changes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shop.reseller_api.models import ApiKey, Revocation
from shop.reseller_api.queries import OwnerRow, key_owner

T = TypeVar("T")

KEY_PREFIX = "smm_"
KEY_BYTES = 32
#: How much of a key is kept in the clear, to tell keys apart (the API page and the order history show it).
KEY_PREFIX_LENGTH = 10
LAST_USED_PRECISION = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_issue(*, user: AbstractBaseUser) -> str:
    """A new key for the user, replacing any old one (which stops working at once). Returned once, never stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    ApiKey.objects.update_or_create(
        user=user,
        defaults={
            "key_hash": _digest(key),
            "prefix": key[:KEY_PREFIX_LENGTH],
            "last_used_at": None,
            "revoked_at": None,
            "revoked_reason": "",
        },
    )
    return key


def api_key_revoke(*, user: AbstractBaseUser, reason: Revocation) -> bool:
    """Stop the user's key working at once, recording when and why; whether there was a working key to revoke.

    Called wherever a password changes: whoever knew the old password may have taken the key too.
    The row stays, so the API page can say what happened; ``api_key_issue`` replaces it.
    """
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_reason=reason) > 0


def api_key_user(*, key: str) -> AbstractBaseUser | None:
    """The active user a key belongs to, or None.

    The key is a 32-byte random secret, so looking up its SHA-256 leaks nothing
    useful through timing; the stored hash is compared again in constant time.
    """
    return api_key_caller(key=key)[0]


def api_key_caller(*, key: str, read: Callable[[str], tuple[OwnerRow | None, T]] | None = None) -> tuple[AbstractBaseUser | None, T | None]:
    """``api_key_user``, and what ``read`` read for the key's user: (user or None, what was read or None).

    ``read(key_hash)`` reads the key's owner (as ``key_owner`` does) with something else for that user,
    in one statement (``queries.key_owner_with``). What it read is dropped unless the key passes every check.
    """
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None, None
    digest = _digest(key)
    if read is None:
        row, data = key_owner(key_hash=digest), None
    else:
        row, data = read(digest)
    if row is None:
        return None, None
    key_id, stored, last_used_at, user_id, is_active = row
    last_used_at = _aware(last_used_at)
    if not hmac.compare_digest(stored, digest) or not is_active:
        return None, None
    now = timezone.now()
    # A write per call would cost more than the call: a minute's precision is enough.
    if last_used_at is None or now - last_used_at > LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key_id).update(last_used_at=now)
    # A user with just the fields an API call reads (saving it would save only those).
    return get_user_model().from_db(connection.alias, ["id", "is_active"], [user_id, is_active]), data


def _aware(value: datetime | str | None) -> datetime | None:
    """A timestamp read by raw SQL: PostgreSQL gives it aware, SQLite as naive UTC or as text."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value
