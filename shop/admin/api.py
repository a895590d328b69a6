"""Admin for API keys (prefix and use only: the hash stays out of sight) and refills."""

from __future__ import annotations

from django.contrib import admin

from shop.admin.providers import ReadOnlyAdmin
from shop.models import ApiKey, Refill


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["user", "prefix", "created_at", "last_used_at"]
    search_fields = ["user__username", "prefix"]
    fields = ["user", "prefix", "created_at", "last_used_at"]
    list_select_related = ["user"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting a key is how an admin revokes it; customers make a new one on their API page.
        return request.user.is_superuser


@admin.register(Refill)
class RefillAdmin(ReadOnlyAdmin):
    list_display = ["id", "order", "upstream_refill_id", "status", "error", "created_at", "updated_at"]
    list_filter = ["status"]
    search_fields = ["=order__id", "upstream_refill_id"]
    list_select_related = ["order"]
