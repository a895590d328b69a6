"""The notifications page's form: one checkbox per kind of mail (staff alerts only for staff)."""

from __future__ import annotations

from typing import Any

from django import forms

from shop.notifications.models import NotificationSettings


class NotificationSettingsForm(forms.ModelForm):
    class Meta:
        model = NotificationSettings
        fields = ["order_refunded", "topup_credited", "ticket_answered", "staff_alerts"]

    def __init__(self, *args: Any, staff: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not staff:
            del self.fields["staff_alerts"]
        for field in self.fields.values():
            field.label = field.label[:1].upper() + field.label[1:]
