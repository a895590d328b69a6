"""Admin for wallets and the ledger: read-only here, changed only through the wallet services."""

from __future__ import annotations

from django.contrib import admin

from shop.core.admin import ReadOnlyAdmin
from shop.wallet.models import LedgerEntry, Wallet


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ["created_at", "kind", "amount", "balance_after", "reason", "created_by"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ["user", "balance", "updated_at"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    inlines = [LedgerEntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "wallet", "kind", "amount", "balance_after", "reason", "created_by"]
    list_filter = ["kind"]
    search_fields = ["wallet__user__username", "reason"]
    list_select_related = ["wallet__user", "created_by"]
    date_hierarchy = "created_at"
    show_full_result_count = False
