"""What mail a customer (or staff member) wants. No row means every kind is on."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationSettings(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="notification_settings")
    order_refunded = models.BooleanField(_("an order ends Partial or Canceled and is refunded"), default=True)
    topup_credited = models.BooleanField(_("a payment is added to my balance"), default=True)
    ticket_answered = models.BooleanField(_("support answers my ticket"), default=True)
    staff_alerts = models.BooleanField(
        _("staff: orders needing attention, top-ups to check, a provider's balance running low"), default=True
    )

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notifications of {self.user}"
