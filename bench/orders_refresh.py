"""Benchmark: refresh 100,000 active orders across 2 providers from sandbox panels, on PostgreSQL.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/smmshop .venv/bin/python bench/orders_refresh.py [--orders N]

Each provider is a sandbox panel in its own process, holding N/2 orders. The
shop's orders are bulk-created to match, all due for a check, then refreshed
twice: once while they are still running (bulk updates), once after the
panels' clocks moved past their end (one transaction per finished order,
with refunds). Printed per pass: upstream calls (goal: ceil(N/100) per
provider), SQL queries, wall time, time spent waiting on HTTP, and the
shop-side time per order (wall minus HTTP; goal: <= 0.2 ms).
"""

from __future__ import annotations

import argparse
import math
import time
from decimal import Decimal
from pathlib import Path

import requests
from _common import connection, sandbox_process, throwaway_database
from django.utils import timezone

KEY = "bench-key-0123456789"


class QueryCounter:
    """Counts every SQL statement (Django's query log stops at 9000)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def preload(count: int, seed: int):
    """Write a sandbox journal holding ``count`` orders of service 4 (TikTok-like likes, cheap)."""

    def prepare(state: Path) -> None:
        from panelapi.sandbox import SandboxPanel

        panel = SandboxPanel(KEY, seed=seed, balance=Decimal("100000000"), stage_seconds=3600, state_path=state)
        for index in range(count):
            panel.handle({"key": KEY, "action": "add", "service": "4", "link": f"https://example.com/p/{index}", "quantity": "100"})

    return prepare


def load_orders(providers, per_provider: int) -> None:
    from shop.catalogue.retail import services_import
    from shop.catalogue.sync import catalogue_sync
    from shop.models import LedgerEntry, Order, OrderStatus
    from shop.wallet.services import wallet_credit
    from tests.factories import UserFactory

    user = UserFactory(username="bench")
    wallet_credit(user=user, amount=Decimal("1000000"), kind=LedgerEntry.Kind.DEPOSIT)
    now = timezone.now()
    for provider in providers:
        catalogue_sync(provider=provider)
        services_import(provider_services=provider.services.all())
        service = provider.services.get(upstream_id="4").retail_services.get()
        Order.objects.bulk_create(
            (
                Order(
                    user=user,
                    service=service,
                    provider=provider,
                    provider_service=service.provider_service,
                    link=f"https://example.com/p/{index}",
                    quantity=100,
                    total_quantity=100,
                    rate=Decimal("0.01625"),
                    charge=Decimal("0.0016"),
                    status=OrderStatus.PENDING,
                    upstream_order_id=str(10001 + index),
                    next_check_at=now,
                )
                for index in range(per_provider)
            ),
            batch_size=5000,
        )


def refresh_pass(label: str, providers, total: int) -> None:
    from shop.models import Order, UpstreamCall
    from shop.orders.refresh import orders_refresh

    Order.objects.update(next_check_at=timezone.now())
    first_call = UpstreamCall.objects.order_by("-id").values_list("id", flat=True).first() or 0
    results = []
    queries = QueryCounter()
    with connection.execute_wrapper(queries):
        started = time.perf_counter()
        for provider in providers:
            results.append(orders_refresh(provider=provider))
        wall = time.perf_counter() - started
    http_ms = sum(UpstreamCall.objects.filter(id__gt=first_call).values_list("duration_ms", flat=True))
    shop_side = wall - http_ms / 1000
    calls = [result.calls for result in results]
    print(
        f"{label}: {sum(r.orders for r in results)} orders, upstream calls {calls} "
        f"(goal {[math.ceil(r.orders / 100) for r in results]}), {queries.count} SQL queries, wall {wall:.2f} s, "
        f"HTTP {http_ms / 1000:.2f} s, shop-side {shop_side:.2f} s = {shop_side / total * 1000:.3f} ms per order; "
        f"finished {sum(r.finished for r in results)}, refunded {sum(r.refunded for r in results)}, errors {sum(r.errors for r in results)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    per_provider = args.orders // 2
    print(f"database: {connection.vendor}; {args.orders} active orders over 2 providers")
    started = time.perf_counter()
    with (
        throwaway_database(),
        sandbox_process(KEY, prepare=preload(per_provider, seed=1), stage_seconds=3600) as first,
        sandbox_process(KEY, prepare=preload(per_provider, seed=2), stage_seconds=3600) as second,
    ):
        from shop.models import Provider

        providers = [Provider.objects.create(name=f"Panel {n}", api_url=url, api_key=KEY) for n, url in enumerate([first, second])]
        load_orders(providers, per_provider)
        print(f"set-up: {time.perf_counter() - started:.1f} s")
        refresh_pass("running orders ", providers, args.orders)
        for url in (first, second):
            requests.post(url.replace("/api/v2", "/_sandbox/advance"), json={"seconds": 100_000}, timeout=10)
        refresh_pass("finishing orders", providers, args.orders)
        from shop.wallet.selectors import ledger_differences

        print(f"ledger differences after refunds: {len(ledger_differences())}")


if __name__ == "__main__":
    main()
