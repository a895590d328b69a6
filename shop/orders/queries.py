"""The orders domain's hand-written SQL: placing an order is the hot path of the API, where compiling querysets cost more than running them.

Each statement names the figure that pays for it; elsewhere the ORM is as fast within noise and is used.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from shop.catalogue.models import Category, CustomerPrice, Provider, ProviderService, Service, ShopSettings
from shop.catalogue.pricing import RETAIL, CustomerPrices
from shop.core import rows
from shop.core.rows import Lateral, Part, Projection
from shop.orders.history import EVENT_FIELDS
from shop.orders.models import Order, OrderEvent
from shop.wallet.models import LedgerEntry, Wallet
from shop.wallet.services import WalletError, WalletOnHold, insufficient_funds, money, wallet_debit

# What validation and pricing read (the provider's encrypted key is not among them).
_SERVICE = Projection(
    (
        Part(
            Service,
            "s",
            ("name", "is_enabled", "markup_percent", "fixed_rate", "min_quantity", "max_quantity", "category", "provider_service"),
        ),
        Part(Category, "c", ("is_visible", "markup_percent")),
        Part(ProviderService, "ps", ("provider", "type", "rate", "min_quantity", "max_quantity", "dripfeed", "is_available")),
        Part(Provider, "p", ("is_active", "exchange_rate")),
        Part(ShopSettings, "ss", ("default_markup_percent", "one_order_per_link")),
    )
)


def service_for_order(*, service_id: int, user_id: int | None = None) -> Service | None:
    """The service with its category, provider service, provider and the shop's settings that placing reads, or None.

    Those settings hang on the service: ``default_markup`` and ``one_order_per_link``. With ``user_id``,
    so do that customer's prices for it (``prices``, what ``customer_prices`` would read for this service).

    One statement instead of a queryset with joins: 0.70 ms against the ORM's 2.39 ms a call (bench/hot_statements.py).
    The customer's prices come in the same statement (two scalar subqueries on the unique
    constraints of ``CustomerPrice``): their own query cost 1.1 ms of Python per API ``add``.
    """
    found = _services_where("s.id = %s", [service_id], user_id=user_id)
    return found[0] if found else None


def services_for_order(*, service_ids: Collection[int]) -> dict[int, Service]:
    """``service_for_order`` for many ids in one statement, by id; ids of no service are left out (the mass order's 500 lines)."""
    ids = sorted(set(service_ids))
    if not ids:
        return {}
    return {service.pk: service for service in _services_where(f"s.id IN ({', '.join(['%s'] * len(ids))})", ids)}


def _services_where(condition: str, params: list[int], *, user_id: int | None = None) -> list[Service]:
    # Prepared when the statement's text is the same on every call (one service), not for a list of ids of any length.
    with rows.prepared_cursor() if len(params) == 1 else connection.cursor() as cursor:
        cursor.execute(
            _services_sql(condition, user_sql="%s" if user_id is not None else None),
            [*([user_id] * 2 if user_id is not None else []), *params],
        )
        return [service_loaded(row, with_prices=user_id is not None) for row in cursor.fetchall()]


def service_for_user_sql(*, user_column: str) -> Lateral:
    """The statement of ``service_for_order`` with ``user_id``, for a LATERAL subquery: its one parameter is the
    service's id, and the customer is named by ``user_column``, a column of the enclosing query (``u.id``).

    The reseller API reads the key's owner and the service of an ``add`` in one statement
    (``reseller_api.queries.key_owner_with``); ``service_loaded(row, with_prices=True)`` turns its columns into the service.
    """
    return Lateral(_services_sql("s.id = %s", user_sql=user_column), _SERVICE.width + 2)


@functools.lru_cache(maxsize=64)  # the same few texts, built once: 0.08 ms of every API add went to writing them
def _services_sql(condition: str, *, user_sql: str | None) -> str:
    service_t, category_t, upstream_t, provider_t, settings_t = (part.table for part in _SERVICE.parts)
    prices = ""
    if user_sql is not None:
        price_t = connection.ops.quote_name(CustomerPrice._meta.db_table)
        # At most one row each: the constraints customer_price_one_discount and customer_price_one_per_service.
        prices = (
            f", (SELECT cp.discount_percent FROM {price_t} cp WHERE cp.user_id = {user_sql} AND cp.service_id IS NULL)"  # noqa: S608
            f", (SELECT cp.fixed_rate FROM {price_t} cp WHERE cp.user_id = {user_sql} AND cp.service_id = s.id)"
        )
    return (
        f"SELECT {_SERVICE.select()}{prices} FROM {service_t} "  # noqa: S608
        f"JOIN {category_t} ON c.id = s.category_id "
        f"JOIN {upstream_t} ON ps.id = s.provider_service_id "
        f"JOIN {provider_t} ON p.id = ps.provider_id "
        f"LEFT JOIN {settings_t} ON ss.id = 1 "
        f"WHERE {condition}"
    )


def service_loaded(row: Sequence[Any], *, with_prices: bool = False) -> Service:
    """The service (with what hangs on it, see ``service_for_order``) from a row of the statement that reads it."""
    loaded, category, upstream, provider, shop_settings = _SERVICE.instances(row)
    upstream.provider = provider
    loaded.category = category
    loaded.provider_service = upstream
    shop_settings = shop_settings or ShopSettings()
    loaded.default_markup = shop_settings.default_markup_percent
    loaded.one_order_per_link = shop_settings.one_order_per_link
    if with_prices:
        discount, fixed = (rows.converted(value, field) for value, field in zip(row[-2:], _PRICE_FIELDS, strict=True))
        has_own = discount is not None or fixed is not None
        fixed_rates = {loaded.pk: fixed} if fixed is not None else {}
        loaded.prices = CustomerPrices(discount_percent=discount, fixed_rates=fixed_rates) if has_own else RETAIL
    return loaded


_PRICE_FIELDS = (CustomerPrice._meta.get_field("discount_percent"), CustomerPrice._meta.get_field("fixed_rate"))


# Where one statement (data-modifying WITH queries) can place and charge an order.
ONE_STATEMENT_VENDORS = frozenset({"postgresql"})
# The event's columns but its order's id, which the statement takes from the order it inserts.
EVENT_COLUMNS = tuple(name for name in EVENT_FIELDS if name != "order_id")


def order_insert_charged(*, user: AbstractBaseUser, order: Order, placed: OrderEvent) -> Order:
    """Insert a new ``order``, debit its charge with the charge's ledger entry, and append its ``placed`` event: all or nothing.

    Raises ``InsufficientFunds`` (nothing written) when the balance is short, and
    ``WalletOnHold`` when it is on hold. The debit is the same conditional update
    as ``wallet_debit`` (``balance >= amount``), and only on a balance not on hold.
    On PostgreSQL the four writes are one statement, atomic by itself: 2.47 ms
    against 6.52 ms for the same steps through the ORM in a transaction
    (bench/hot_statements.py). Other databases take those steps.
    """
    amount = money(order.charge)
    if amount <= 0:
        raise WalletError("A debit must be more than zero.")
    if connection.vendor not in ONE_STATEMENT_VENDORS:
        with transaction.atomic():
            if hold := Wallet.objects.filter(user=user).values_list("hold_reason", flat=True).first():
                raise WalletOnHold(hold)
            order.save(force_insert=True)
            wallet_debit(user=user, amount=amount, kind=LedgerEntry.Kind.ORDER_CHARGE, order=order, reason=f"Order #{order.pk}")
            placed.order_id = order.pk
            placed.save(force_insert=True)
        return order
    table, columns, values = rows.insert_parts(order)
    _, event_columns, event_values = rows.insert_parts(placed, fields=EVENT_COLUMNS)
    now = order.created_at
    quote = connection.ops.quote_name
    wallet_table, ledger_table, order_pk = quote(Wallet._meta.db_table), quote(LedgerEntry._meta.db_table), quote(Order._meta.pk.column)
    event_table = quote(OrderEvent._meta.db_table)
    with rows.prepared_cursor() as cursor:
        cursor.execute(
            f"WITH debited AS (UPDATE {wallet_table} SET balance = balance - %s, updated_at = %s "  # noqa: S608
            "  WHERE user_id = %s AND balance >= %s AND hold_reason = '' RETURNING id, balance), "
            f"placed AS (INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(['%s'] * len(values))} FROM debited "
            f"  RETURNING {order_pk}), "
            f"charged AS (INSERT INTO {ledger_table} (wallet_id, kind, amount, balance_after, order_id, reason, created_at) "
            f"  SELECT debited.id, %s, %s, debited.balance, placed.{order_pk}, %s || placed.{order_pk}, %s FROM debited, placed), "
            f"logged AS (INSERT INTO {event_table} (order_id, {', '.join(event_columns)}) "
            f"  SELECT placed.{order_pk}, {', '.join(['%s'] * len(event_values))} FROM placed) "
            f"SELECT {order_pk} FROM placed",
            [amount, now, user.pk, amount, *values, LedgerEntry.Kind.ORDER_CHARGE, -amount, "Order #", now, *event_values],
        )
        row = cursor.fetchone()
    if row is None:
        raise insufficient_funds(user, amount)
    order = rows.inserted(order, row[0])
    placed.order_id = order.pk
    return order


def order_links_lock(*, links: Iterable[tuple[int, str]]) -> None:
    """Take PostgreSQL's advisory lock of each (service id, link) until the transaction ends (the link rule's check and insert).

    Call it inside the transaction that checks for an unfinished order of the link and
    inserts the new one: a second placing of the same link waits here until the first
    commits, then its check sees the order. The locks are taken in ascending key order,
    in one statement, so two batches sharing links never wait on each other in a circle.
    Does nothing on other databases (SQLite writes one transaction at a time).
    """
    keys = sorted({_link_key(service_id, link) for service_id, link in links})
    if not keys or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # The keys come sorted; ORDER BY keeps them so (PostgreSQL computes a volatile target list after sorting).
        cursor.execute(
            "SELECT pg_advisory_xact_lock(key) FROM unnest(%s::bigint[]) WITH ORDINALITY AS keys(key, n) ORDER BY n",
            [keys],
        )


def _link_key(service_id: int, link: str) -> int:
    """A signed 64-bit key for the advisory lock of a (service id, link), the same in every process (unlike ``hash``)."""
    digest = hashlib.sha256(f"order-link\0{service_id}\0{link}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
