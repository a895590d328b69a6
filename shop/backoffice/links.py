"""Links between the admin's pages that several domains' lists show: a customer's name leads to the customer's overview."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.html import format_html


def customer_overview_url(user_id: int) -> str:
    return reverse("admin:auth_user_overview", args=[user_id])


def customer_link(user: Any) -> str:
    """The customer's username, linked to their overview (balance, orders, top-ups, API key, activity)."""
    return format_html('<a class="bo-link" href="{}">{}</a>', customer_overview_url(user.pk), user.get_username())
