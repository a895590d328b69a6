"""Referrals in admin, read-only: who referred whom, what each paid top-up earned, and the payouts to balances.

The share and the payout minimum are in *Shop settings*. Earnings and payouts are written only by
``shop.affiliates.services`` (a credited top-up, a referrer's payout), never here.
"""

from __future__ import annotations

from django.contrib import admin

from shop.affiliates.models import Referral, ReferralEarning, ReferralPayout
from shop.backoffice.links import customer_link
from shop.core.admin import ReadOnlyAdmin


class ReferrerColumn:
    """The referrer, linked to their customer page, as a column of any referral record."""

    @admin.display(description="referrer", ordering="referrer__username")
    def referrer_link(self, record: Referral | ReferralEarning | ReferralPayout) -> str:
        return customer_link(record.referrer)


@admin.register(Referral)
class ReferralAdmin(ReferrerColumn, ReadOnlyAdmin):
    list_display = ["referee_link", "referrer_link", "created_at"]
    search_fields = ["referee__username", "referrer__username"]
    list_select_related = ["referee", "referrer"]
    list_filter = ["created_at"]
    show_full_result_count = False

    @admin.display(description="referee", ordering="referee__username")
    def referee_link(self, referral: Referral) -> str:
        return customer_link(referral.referee)


@admin.register(ReferralEarning)
class ReferralEarningAdmin(ReferrerColumn, ReadOnlyAdmin):
    list_display = ["id", "referrer_link", "topup", "percent", "amount", "payout", "created_at"]
    search_fields = ["=id", "referrer__username", "=topup__id"]
    list_select_related = ["referrer", "topup", "payout"]
    list_filter = [("payout", admin.EmptyFieldListFilter), "created_at"]
    show_full_result_count = False


@admin.register(ReferralPayout)
class ReferralPayoutAdmin(ReferrerColumn, ReadOnlyAdmin):
    list_display = ["id", "referrer_link", "amount", "entry", "created_at"]
    search_fields = ["=id", "referrer__username"]
    list_select_related = ["referrer", "entry"]
    list_filter = ["created_at"]
    show_full_result_count = False
