"""A text field encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import logging
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

logger = logging.getLogger(__name__)


@cache
def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        # Derived from SECRET_KEY, which production requires to be set and secret.
        digest = hashlib.sha256(f"field-encryption:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


class EncryptedTextField(models.TextField):
    """Stores ``Fernet(value)``; Python code sees the plain text.

    It cannot be searched or filtered on: every encryption of the same text differs.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        try:
            return _fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            # A key was rotated away: the provider then has no usable key, and
            # calls fail with a clear "no API key is set" instead of a crash.
            logger.error("%s.%s: stored value cannot be decrypted with FIELD_ENCRYPTION_KEYS", self.model.__name__, self.name)
            return ""

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return _fernet().encrypt(str(value).encode()).decode()
