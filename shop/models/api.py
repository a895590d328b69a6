"""Customers' API keys (stored only as a hash) and refill requests made through the API or the pages."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .orders import Order


class ApiKey(models.Model):
    """One key per customer. Only the SHA-256 of the key is kept: a database leak reveals none."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_key")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The key's first characters, to tell keys apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class Refill(models.Model):
    """A refill asked for an order, forwarded to the provider."""

    class Status(models.TextChoices):
        PENDING = "Pending"
        IN_PROGRESS = "In progress"
        COMPLETED = "Completed"
        REJECTED = "Rejected"
        ERROR = "Error"
        CANCELLED = "Cancelled"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refills")
    upstream_refill_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, default=Status.PENDING)
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Refill #{self.pk} of order #{self.order_id}"
