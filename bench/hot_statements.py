"""Benchmark: each hand-written statement of the shop against the ORM doing the same, in-process, on PostgreSQL.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/smmshop .venv/bin/python bench/hot_statements.py [--repeat N]

The rule (README, "How it is built"): hand-written SQL stays only where it is
faster than the ORM beyond noise. For each statement this prints the median
time per call (Python and database together, on one connection, no network
between them but the loopback socket) of the hand-written form and of the
ORM form, over N calls in interleaved rounds, on a throw-away database with a
reseller holding 100,000 orders.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from _common import connection, throwaway_database

ROUNDS = 5


def fill() -> dict[str, object]:
    from shop.models import Category, LedgerEntry, Order, OrderStatus, Provider, ProviderService, Service
    from shop.reseller_api.keys import api_key_issue
    from shop.wallet.services import wallet_credit
    from tests.factories import UserFactory

    provider = Provider.objects.create(name="Panel", api_url="http://127.0.0.1:9/api/v2", api_key="bench-key")
    upstream = ProviderService.objects.create(
        provider=provider, upstream_id="1", name="Followers", type="Default", rate=Decimal("0.9"), min_quantity=10, max_quantity=10**6
    )
    service = Service.objects.create(provider_service=upstream, category=Category.objects.create(name="Instagram"), name="Followers")
    user = UserFactory(username="reseller")
    wallet_credit(user=user, amount=Decimal("100000000"), kind=LedgerEntry.Kind.DEPOSIT)
    key = api_key_issue(user=user)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO shop_order (user_id, service_id, provider_id, provider_service_id, link, quantity, total_quantity, extra, rate,"
            " charge, refunded, status, upstream_order_id, upstream_status, error, submit_attempts, checks, created_at, updated_at,"
            " next_check_at, remains, start_count)"
            " SELECT %s, %s, %s, %s, 'https://instagram.com/p/' || g, 1000, 1000, '{}', 0.9, 0.9, 0,"
            " (ARRAY['pending', 'in_progress', 'completed'])[1 + g %% 3], 'up-' || g, '', '', 1, 0, now(), now(), now(), 500, 10"
            " FROM generate_series(1, 100000) g",
            [user.pk, service.pk, provider.pk, upstream.pk],
        )
        cursor.execute("ANALYZE")
    ids = list(Order.objects.filter(user=user).order_by("-id").values_list("pk", flat=True)[:100])
    active = list(Order.objects.filter(user=user, status__in=OrderStatus.ACTIVE).order_by("pk").values_list("pk", flat=True)[:100])
    return {"user": user, "service": service, "key": key, "ids": ids, "active": active}


def measure(repeat: int, forms: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Median milliseconds per call of each form, over interleaved rounds."""
    times: dict[str, list[float]] = {name: [] for name in forms}
    per_round = max(1, repeat // ROUNDS)
    for _ in range(ROUNDS):
        for name, call in forms.items():
            for _ in range(per_round):
                started = time.perf_counter()
                call()
                times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1000)
    repeat = parser.parse_args().repeat
    from django.db import transaction

    from shop.catalogue.models import ShopSettings
    from shop.core.bulk import update_from_values
    from shop.models import ApiKey, Order, OrderStatus, Service
    from shop.orders import queries
    from shop.orders.history import Actor, Kind, event
    from shop.reseller_api.keys import _digest, api_key_user
    from shop.reseller_api.queries import STATUS_FIELDS, status_rows

    with throwaway_database():
        data = fill()
        user, service, key, ids, active = data["user"], data["service"], data["key"], data["ids"], data["active"]

        def new_order() -> Order:
            return Order(
                user=user,
                service=service,
                provider_id=service.provider_service.provider_id,
                provider_service=service.provider_service,
                link="https://instagram.com/p/bench",
                quantity=1000,
                total_quantity=1000,
                rate=Decimal("0.9"),
                charge=Decimal("0.9"),
                status=OrderStatus.AWAITING,
            )

        def place(one_statement: bool) -> Callable[[], object]:
            def call() -> object:
                vendors = queries.ONE_STATEMENT_VENDORS
                if not one_statement:
                    queries.ONE_STATEMENT_VENDORS = frozenset()
                try:
                    placed = event(order_id=0, kind=Kind.PLACED, actor=Actor.web(user), status=OrderStatus.AWAITING, charge="0.9")
                    return queries.order_insert_charged(user=user, order=new_order(), placed=placed)
                finally:
                    queries.ONE_STATEMENT_VENDORS = vendors

            return call

        def orm_service() -> object:
            loaded = Service.objects.select_related("category", "provider_service__provider").get(pk=service.pk)
            loaded.default_markup = ShopSettings.load().default_markup_percent
            return loaded

        def orm_key() -> object:
            keys = ApiKey.objects.select_related("user").only("key_hash", "last_used_at", "user__is_active")
            return keys.get(key_hash=_digest(key), revoked_at__isnull=True).user

        def bulk(hand_written: bool) -> Callable[[], object]:
            rows = [{"pk": pk, "remains": 400, "checks": 1} for pk in active]

            def call() -> object:
                with transaction.atomic():
                    if hand_written:
                        return update_from_values(Order, rows, fields=["remains", "checks"], status_in=OrderStatus.ACTIVE)
                    orders = [Order(pk=row["pk"], remains=row["remains"], checks=row["checks"]) for row in rows]
                    return Order.objects.filter(pk__in=active, status__in=OrderStatus.ACTIVE).bulk_update(orders, ["remains", "checks"])

            return call

        comparisons = {
            "service read for an order (orders.queries.service_for_order)": {
                "hand-written": lambda: queries.service_for_order(service_id=service.pk),
                "ORM": orm_service,
            },
            "order + debit + ledger entry + event (orders.queries.order_insert_charged)": {
                "one statement": place(True),
                "ORM steps in a transaction": place(False),
            },
            "API key lookup (reseller_api.queries.key_owner)": {
                "hand-written": lambda: api_key_user(key=key),
                "ORM": orm_key,
            },
            "status of 100 orders (reseller_api.queries.status_rows)": {
                "hand-written": lambda: status_rows(user_id=user.pk, order_ids=set(ids)),
                "ORM": lambda: list(Order.objects.filter(user_id=user.pk, pk__in=set(ids)).values(*STATUS_FIELDS)),
            },
            "100 orders' readings stored (core.bulk.update_from_values)": {
                "hand-written": bulk(True),
                "ORM bulk_update": bulk(False),
            },
        }
        print(f"PostgreSQL {connection.pg_version}, {repeat} calls per form in {ROUNDS} interleaved rounds; median ms per call")
        for title, forms in comparisons.items():
            result = measure(repeat if "100 orders'" not in title else max(ROUNDS, repeat // 10), forms)
            (first, fast), (second, slow) = result.items()
            print(f"{title}\n    {first}: {fast:.3f} ms   {second}: {slow:.3f} ms   ratio {slow / fast:.2f}x")


if __name__ == "__main__":
    main()
