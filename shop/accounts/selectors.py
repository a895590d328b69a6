"""Reads that more than one caller needs, returning querysets or plain values."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, DecimalField, F, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from shop.accounts.models import UsernameSkeleton
from shop.accounts.usernames import username_skeletons
from shop.orders.models import Order
from shop.wallet.models import MONEY_DIGITS, MONEY_PLACES


def user_list_with_balance(*, users: QuerySet[AbstractBaseUser] | None = None) -> QuerySet[AbstractBaseUser]:
    """Users annotated with ``balance`` (0 without a wallet) and ``order_count``, in one query however many rows.

    The count is a correlated subquery rather than a join and GROUP BY, so a page of users
    costs one pass over each user's orders (index ``order_user_recent``).
    """
    if users is None:
        users = get_user_model().objects.all()
    orders = Order.objects.filter(user=OuterRef("pk")).order_by().values("user").annotate(n=Count("pk")).values("n")
    return users.annotate(
        balance=Coalesce(
            F("wallet__balance"), Value(Decimal("0")), output_field=DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
        ),
        order_count=Coalesce(Subquery(orders, output_field=IntegerField()), 0),
    )


def username_lookalike_exists(*, username: str, user_id: int | None = None) -> bool:
    """Whether another user's username has a skeleton of ``username`` (one indexed lookup); ``user_id`` is the renamed user's own."""
    taken = UsernameSkeleton.objects.filter(skeleton__in=username_skeletons(username))
    if user_id is not None:
        taken = taken.exclude(user_id=user_id)
    return taken.exists()
