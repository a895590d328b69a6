"""Customers' API keys, stored only as a hash."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Revocation(models.TextChoices):
    """Why a key stopped working; each label completes "revoked ... because"."""

    PASSWORD_CHANGED = "password_changed", _("you changed your password")
    PASSWORD_RESET = "password_reset", _("your password was reset")
    PASSWORD_SET_BY_ADMIN = "password_set_by_admin", _("an administrator changed your password")


class ApiKey(models.Model):
    """One key per customer. Only the SHA-256 of the key is kept: a database leak reveals none.

    A revoked key stays, with when and why, so the API page can tell the customer; it authenticates nothing.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_key")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The key's first characters, to tell keys apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="Set when the key stopped working; a new key clears it.")
    revoked_reason = models.CharField(max_length=32, choices=Revocation.choices, blank=True)

    class Meta:
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_reason="") | Q(revoked_at__isnull=False, revoked_reason__in=Revocation.values),
                name="api_key_revoked_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user}){' revoked' if self.revoked_at else ''}"
