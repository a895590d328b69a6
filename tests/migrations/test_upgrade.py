"""Nothing is lost on upgrade: a database made by the release before the domain packages migrates forward with every row kept.

The test migrates the shop back to ``0004_api`` (the last migration of that
release), fills it through the historical models of that state (what that
release's code could write), migrates to the newest state, and compares.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from tests.migrations.steps import latest, migrate_to

BEFORE = [("shop", "0004_api")]
TABLES = ("provider", "providerservice", "category", "service", "wallet", "ledgerentry", "order", "refill", "apikey")


def _fill(apps) -> dict[str, object]:
    """What the old release could hold: a provider, its catalogue, two customers' money, orders in every kind of state."""
    User = apps.get_model("auth", "User")
    Provider = apps.get_model("shop", "Provider")
    ProviderService = apps.get_model("shop", "ProviderService")
    Category = apps.get_model("shop", "Category")
    Service = apps.get_model("shop", "Service")
    Wallet = apps.get_model("shop", "Wallet")
    LedgerEntry = apps.get_model("shop", "LedgerEntry")
    Order = apps.get_model("shop", "Order")
    Refill = apps.get_model("shop", "Refill")
    ApiKey = apps.get_model("shop", "ApiKey")

    provider = Provider.objects.create(name="Old panel", api_url="https://panel.example/api/v2")
    upstream = ProviderService.objects.create(
        provider=provider, upstream_id="1", name="Followers", type="Default", rate=Decimal("0.9"), min_quantity=10, max_quantity=10000
    )
    category = Category.objects.create(name="Instagram")
    service = Service.objects.create(provider_service=upstream, category=category, name="Followers")
    created = timezone.now() - timedelta(days=3)
    orders = []
    for number, (status, charge, refunded, remains) in enumerate(
        [
            ("awaiting", "1.0000", "0", None),
            ("submitting", "2.0000", "0", None),
            ("pending", "3.0000", "0", None),
            ("needs_attention", "1.5000", "0", None),
            ("completed", "4.0000", "0", 0),
            ("partial", "5.0000", "2.5000", 500),
            ("canceled", "6.0000", "6.0000", 1000),
            ("failed", "0.5000", "0.5000", None),
        ]
    ):
        user = User.objects.create(username=f"old-customer-{number}")
        wallet = Wallet.objects.create(user=user, balance=Decimal("100") - Decimal(charge) + Decimal(refunded))
        LedgerEntry.objects.create(wallet=wallet, kind="deposit", amount=Decimal("100"), balance_after=Decimal("100"), reason="top-up")
        order = Order.objects.create(
            user=user,
            service=service,
            provider=provider,
            provider_service=upstream,
            link=f"https://instagram.com/p/{number}",
            quantity=1000,
            total_quantity=1000,
            rate=Decimal("1"),
            charge=Decimal(charge),
            refunded=Decimal(refunded),
            status=status,
            remains=remains,
            upstream_order_id=None if status in {"awaiting", "submitting", "needs_attention", "failed"} else f"up-{number}",
        )
        Order.objects.filter(pk=order.pk).update(created_at=created + timedelta(minutes=number))
        balance = Decimal("100") - Decimal(charge)
        LedgerEntry.objects.create(wallet=wallet, kind="order_charge", amount=-Decimal(charge), balance_after=balance, order=order)
        if Decimal(refunded):
            LedgerEntry.objects.create(
                wallet=wallet, kind="refund", amount=Decimal(refunded), balance_after=balance + Decimal(refunded), order=order
            )
        orders.append(order)
    Refill.objects.create(order=orders[4], upstream_refill_id="r-1", status="Cancelled")
    Refill.objects.create(order=orders[4], upstream_refill_id="r-2", status="Completed")
    ApiKey.objects.create(user=orders[0].user, key_hash="a" * 64, prefix="smm_abcdef")
    return {"awaiting": orders[0].pk, "created": created}


def _rows() -> dict[str, list[tuple]]:
    """Every row of the old tables, all columns, in id order (the columns the old release had)."""
    rows = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT * FROM shop_{table} ORDER BY id")  # noqa: S608 - fixed names
            names = [column[0] for column in cursor.description]
            rows[table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return rows


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_previous_release_migrates_forward_with_every_row_kept() -> None:
    newest = latest()
    try:
        executor = migrate_to(BEFORE)
        filled = _fill(executor.loader.project_state(BEFORE).apps)
        before = _rows()
        migrate_to(newest)
        after = _rows()
    finally:
        migrate_to(newest)

    for table, old_rows in before.items():
        assert len(after[table]) == len(old_rows), table
        for old, new in zip(old_rows, after[table], strict=True):
            changed = {name for name, value in old.items() if new[name] != value}
            # The one value this release rewrites: a refill's "Cancelled" is spelled "Canceled" now.
            assert changed <= ({"status"} if table == "refill" and old["status"] == "Cancelled" else set()), (table, old["id"], changed)
            assert set(new) >= set(old)

    from shop.models import Order, OrderEvent, Refill

    assert sorted(Refill.objects.values_list("status", flat=True)) == ["Canceled", "Completed"]
    awaiting = Order.objects.get(pk=filled["awaiting"])
    assert awaiting.next_attempt_at == awaiting.created_at
    assert not Order.objects.exclude(status="awaiting").exclude(next_attempt_at=None).exists()
    # Every order gets the event of its placing, dated when it was placed; customers see "Order placed."
    events = list(OrderEvent.objects.order_by("order_id").values_list("order_id", "kind", "actor", "created_at"))
    assert events == [(order.pk, "placed", "system", order.created_at) for order in Order.objects.order_by("pk")]
    call_command("ledger_verify")  # exits 1 (SystemExit) on any difference
