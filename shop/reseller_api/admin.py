"""Admin for API keys: prefix and use only, the hash stays out of sight."""

from __future__ import annotations

from django.contrib import admin

from shop.core.admin import ReadOnlyAdmin
from shop.reseller_api.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["user__username", "prefix"]
    fields = ["user", "prefix", "created_at", "last_used_at", "revoked_at", "revoked_reason"]
    list_select_related = ["user"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting a key is how an admin revokes it; customers make a new one on their API page.
        return request.user.is_superuser
