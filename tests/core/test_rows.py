"""Hand-written statements for hot paths give back what the ORM would."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from shop.core import rows
from shop.core.rows import Part, Projection
from shop.models import Category, LedgerEntry, Wallet
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_projection_reads_instances_with_the_orms_types() -> None:
    category = Category.objects.create(name="Likes", markup_percent=Decimal("12.5"), is_visible=False)
    missing = Category.objects.create(name="Other")
    projection = Projection((Part(Category, "c", ("is_visible", "markup_percent")), Part(Category, "d", ("name",))))
    c, d = (part.table for part in projection.parts)
    with connection.cursor() as cursor:
        sql = f"SELECT {projection.select()} FROM {c} LEFT JOIN {d} ON d.id = %s WHERE c.id = %s"  # noqa: S608
        cursor.execute(sql, [-1, category.pk])
        row = cursor.fetchone()
    read, absent = projection.instances(row)
    assert absent is None  # the outer join found nothing
    assert read.pk == category.pk
    assert read.is_visible is False
    assert read.markup_percent == Decimal("12.5") and isinstance(read.markup_percent, Decimal)
    assert read.get_deferred_fields() >= {"name", "position"}
    assert Category.objects.get(pk=missing.pk).name == "Other"


def _insert(instance, **options):
    table, columns, values = rows.insert_parts(instance, **options)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",  # noqa: S608
            values,
        )
        return rows.inserted(instance, cursor.fetchone()[0])


def test_insert_parts_give_the_row_the_orm_would_write() -> None:
    user = UserFactory()
    wallet = Wallet.objects.create(user=user, balance=Decimal("5"))
    entry = _insert(
        LedgerEntry(wallet=wallet, kind=LedgerEntry.Kind.ADJUSTMENT, amount=Decimal("5"), balance_after=Decimal("5"), reason="x")
    )
    assert entry.pk is not None and not entry._state.adding
    stored = LedgerEntry.objects.get(pk=entry.pk)
    assert (stored.wallet_id, stored.kind, stored.amount, stored.balance_after, stored.reason) == (
        wallet.pk,
        "adjustment",
        Decimal("5.0000"),
        Decimal("5.0000"),
        "x",
    )
    assert stored.created_at == entry.created_at is not None  # auto_now_add ran


def test_insert_parts_can_name_the_columns_in_their_order() -> None:
    wallet = Wallet.objects.create(user=UserFactory())
    entry = LedgerEntry(wallet=wallet, kind=LedgerEntry.Kind.DEPOSIT, amount=Decimal("2"), balance_after=Decimal("2"), reason="r")
    table, columns, values = rows.insert_parts(entry, fields=("reason", "wallet_id", "amount"))
    quote = connection.ops.quote_name
    assert table.startswith(quote(LedgerEntry._meta.db_table))
    assert columns == [quote("reason"), quote("wallet_id"), quote("amount")]
    assert values[:2] == ["r", wallet.pk]


def test_rows_written_from_insert_parts_are_held_to_the_databases_constraints() -> None:
    wallet = Wallet.objects.create(user=UserFactory())
    with pytest.raises(IntegrityError), transaction.atomic():
        # An adjustment without a reason is refused by a check constraint.
        _insert(LedgerEntry(wallet=wallet, kind=LedgerEntry.Kind.ADJUSTMENT, amount=Decimal("1"), balance_after=Decimal("1")))
    assert not LedgerEntry.objects.exists()
