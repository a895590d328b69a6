"""Reads of payments that the customer pages, tasks and admin share."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from shop.payments.models import PaymentMethod, TopUp, TopUpState


def methods_offered() -> QuerySet[PaymentMethod]:
    """The methods a customer may choose, in the admins' order. One in another currency could only be refused, so it is not offered."""
    return PaymentMethod.objects.filter(is_enabled=True, currency=settings.SHOP_CURRENCY).order_by("position", "id")


def method_by_code(*, code: str) -> PaymentMethod | None:
    """The method a notification URL names, enabled or not: a disabled method still hears about its payments."""
    return PaymentMethod.objects.filter(code=code).first()


def topups_for_user(*, user: AbstractBaseUser) -> QuerySet[TopUp]:
    """The customer's top-ups, newest first (the ``topup_user_recent`` index answers it)."""
    return TopUp.objects.filter(user=user).select_related("method").order_by("-id")


def topup_for_user(*, user: AbstractBaseUser, public_id: UUID) -> TopUp | None:
    """One of the customer's own top-ups; None for anyone else's, as for one that does not exist."""
    return TopUp.objects.select_related("method").filter(user=user, public_id=public_id).first()


def needs_attention(*, through: str = "") -> Q:
    """Top-ups staff must look at: under review, or reversed by the gateway beyond what the balance covered.

    ``through`` is the path to the top-up from the queried model (e.g. ``"live__"``), empty on top-ups themselves.
    """
    return Q(**{f"{through}state": TopUpState.REVIEW}) | Q(**{f"{through}reversal_owed__gt": 0})
