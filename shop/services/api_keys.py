"""Customers' API keys: issued once, stored as a hash, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from shop.models import ApiKey

KEY_PREFIX = "smm_"
KEY_BYTES = 32
LAST_USED_PRECISION = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_issue(*, user: AbstractBaseUser) -> str:
    """A new key for the user, replacing any old one (which stops working at once). Returned once, never stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    ApiKey.objects.update_or_create(user=user, defaults={"key_hash": _digest(key), "prefix": key[:10], "last_used_at": None})
    return key


def api_key_user(*, key: str) -> AbstractBaseUser | None:
    """The active user a key belongs to, or None.

    The key is a 32-byte random secret, so looking up its SHA-256 leaks nothing
    useful through timing; the stored hash is compared again in constant time.
    """
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    digest = _digest(key)
    row = ApiKey.objects.select_related("user").filter(key_hash=digest).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest) or not row.user.is_active:
        return None
    now = timezone.now()
    # A write per call would cost more than the call: a minute's precision is enough.
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user
