"""Benchmark: a mass order of 500 lines, previewed and placed (issue 14.1: under 2 s each), on PostgreSQL.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/smmshop .venv/bin/python bench/mass_order.py [--repeat 7] [--lines 500]

On a throw-away database a customer with a large balance orders --lines lines
over 5 services (both field orders, as panels write them), with the shop's link
rule off. Printed: the median wall time (Python and database together, one
connection on loopback) of ``mass_preview`` and of ``mass_place`` (which
previews again to compare with the digest confirmed) over --repeat runs, each
place a new batch; the broker's send after the commit is
replaced by a list append (the queue is not what is measured). For comparison,
the same orders placed one ``order_insert_charged`` each (the single order's
one-statement charge) inside one transaction: the way not taken.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from decimal import Decimal

from _common import connection, throwaway_database

LINK = "https://instagram.com/p/bench-{}"


def fill(lines: int) -> tuple[object, str]:
    from shop.models import Category, LedgerEntry, Provider, ProviderService, Service
    from shop.wallet.services import wallet_credit
    from tests.factories import UserFactory

    provider = Provider.objects.create(name="Panel", api_url="http://127.0.0.1:9/api/v2", api_key="bench-key")
    category = Category.objects.create(name="Instagram")
    services = []
    for number in range(5):
        upstream = ProviderService.objects.create(
            provider=provider,
            upstream_id=str(number),
            name=f"Likes {number}",
            type="Default",
            rate=Decimal("0.9"),
            min_quantity=10,
            max_quantity=10**6,
        )
        services.append(Service.objects.create(provider_service=upstream, category=category, name=f"Likes {number}"))
    user = UserFactory(username="reseller")
    wallet_credit(user=user, amount=Decimal("100000000"), kind=LedgerEntry.Kind.DEPOSIT)
    rows = [
        f"{services[n % 5].pk} | {LINK.format(n)} | {100 + n}" if n % 2 else f"{services[n % 5].pk}|{100 + n}|{LINK.format(n)}"
        for n in range(lines)
    ]
    return user, "\n".join(rows)


def median_ms(runs: list[float]) -> str:
    return f"{statistics.median(runs) * 1000:8.1f} ms  (min {min(runs) * 1000:.1f}, max {max(runs) * 1000:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--lines", type=int, default=500)
    args = parser.parse_args()
    from django.db import transaction

    from shop.orders import mass
    from shop.orders.history import Actor, Kind, event
    from shop.orders.models import OrderStatus
    from shop.orders.queries import order_insert_charged

    queued: list[int] = []
    mass._enqueue_submit = queued.append  # type: ignore[assignment]
    with throwaway_database():
        user, text = fill(args.lines)
        preview_runs, place_runs, single_runs = [], [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            preview = mass.mass_preview(user=user, text=text)
            preview_runs.append(time.perf_counter() - started)
            assert len(preview.valid) == args.lines, [r.rejected for r in preview.refused][:3]

            started = time.perf_counter()
            placed = mass.mass_place(user=user, text=text, batch=uuid.uuid4(), confirmed=preview.digest)
            place_runs.append(time.perf_counter() - started)
            assert len(placed) == args.lines

            started = time.perf_counter()
            with transaction.atomic():
                for result in mass.mass_preview(user=user, text=text).valid:
                    order = result.order
                    placed_event = event(
                        order_id=0, kind=Kind.PLACED, actor=Actor.web(user), status=OrderStatus.AWAITING, charge=order.charge
                    )
                    order_insert_charged(user=user, order=order, placed=placed_event)
            single_runs.append(time.perf_counter() - started)
        print(f"database: {connection.vendor}; {args.lines} lines, {args.repeat} runs; median (min, max)")
        print(f"preview (mass_preview)                                 {median_ms(preview_runs)}")
        print(f"place (mass_place: one debit, bulk inserts)            {median_ms(place_runs)}")
        print(f"for comparison: preview + order_insert_charged x {args.lines}  {median_ms(single_runs)}")
        assert len(queued) == args.lines * args.repeat


if __name__ == "__main__":
    main()
