"""Benchmark: the refill fan-out of issue 17.3, API calls of 100 ids against a provider taking 0.3 s per call.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/smmshop REDIS_URL=redis://127.0.0.1:6379/0 \\
       .venv/bin/python bench/refill_fanout.py [--delay 0.3]

The provider is a sandbox panel in its own process; its "slow" fault makes
every call take --delay seconds (default 0.3). On a throw-away database a
customer holds orders of a refillable service that the panel finished (the
shop learns their ends from its own refresh) and 100 still running. Each API call is a
POST /api/v2 with the customer's key through Django's test client (the whole
middleware stack and view, in this process); the broker's send is replaced by
a list append. Printed per call: its wall time, the upstream calls the sandbox
counted during it (goal: 0), refill rows created and tasks queued. Before the
fix, refill with one id 100 times made 100 upstream calls and 100 rows: 31 s.
Then each queued task runs here, as a Celery worker would: its wall time and
upstream calls (goal: one multiple-id call per provider per 100 ids).
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal

import requests
from _common import connection, sandbox_process, throwaway_database
from django.utils import timezone

KEY = "bench-key-0123456789"
LINK = "https://instagram.com/p/bench"
ROW = "{:<44} {:>4} {:>8} {:>9} {:>7} {:>6}  {}"


def place(user, service, count: int) -> list[int]:
    """``count`` orders of ``service`` placed and sent to the panel."""
    from shop.orders.placement import order_place
    from shop.orders.submission import order_submit

    orders = [order_place(user=user, service=service, link=LINK, quantity=50) for _ in range(count)]
    for order in orders:
        order_submit(order_id=order.pk)
    return [order.pk for order in orders]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.3, help="seconds the panel takes per call")
    delay = parser.parse_args().delay
    print(f"database: {connection.vendor}; every upstream call takes {delay} s")
    with throwaway_database(), sandbox_process(KEY) as url:
        from django.test import Client

        from shop.catalogue.retail import services_import
        from shop.catalogue.sync import catalogue_sync
        from shop.models import LedgerEntry, Order, OrderStatus, Provider, Refill, Service
        from shop.orders import tasks
        from shop.orders.refresh import orders_refresh
        from shop.reseller_api.keys import api_key_issue
        from shop.wallet.services import wallet_credit
        from tests.factories import UserFactory

        control = url.replace("/api/v2", "/_sandbox")
        provider = Provider.objects.create(name="Panel", api_url=url, api_key=KEY)
        catalogue_sync(provider=provider)
        services_import(provider_services=provider.services.all())
        service = Service.objects.get(provider_service__provider=provider, provider_service__upstream_id="1")  # refill, cancel
        user = UserFactory(username="reseller")
        wallet_credit(user=user, amount=Decimal("1000"), kind=LedgerEntry.Kind.DEPOSIT)
        key = api_key_issue(user=user)
        finished = place(user, service, 240)
        requests.post(f"{control}/advance", json={"seconds": 100_000}, timeout=10).raise_for_status()
        Order.objects.update(next_check_at=timezone.now())
        orders_refresh(provider=provider)  # Completed, Partial (refillable) or Canceled, as the panel drew them
        done = Order.objects.filter(pk__in=finished, status__in=OrderStatus.REFILLABLE)
        refillable = list(done.order_by("pk").values_list("pk", flat=True))
        assert len(refillable) >= 102, f"only {len(refillable)} orders are refillable"
        running = place(user, service, 100)
        requests.post(f"{control}/faults", json={"kind": "slow", "delay": delay, "times": 0}, timeout=10).raise_for_status()

        queued: list[tuple[str, list[int]]] = []
        for name in ("refills_send_task", "orders_cancel_send_task"):
            getattr(tasks, name).delay = lambda ids, name=name: queued.append((name, ids))

        def upstream_calls() -> int:
            return sum(requests.get(f"{control}/stats", timeout=10).json()["calls"].values())

        client = Client(HTTP_HOST="127.0.0.1")
        client.post("/api/v2", {"key": key, "action": "balance"})  # warm-up: the first request loads what the later ones reuse

        def api(label: str, count: int, **params: str) -> None:
            calls, rows, tasks_before = upstream_calls(), Refill.objects.count(), len(queued)
            started = time.perf_counter()
            response = client.post("/api/v2", {"key": key, **params})
            wall = time.perf_counter() - started
            reply = response.json()
            items = reply if isinstance(reply, list) else [reply]
            refused = sum(any(isinstance(v, dict) or k == "error" for k, v in item.items()) for item in items)
            answer = f"{len(items)} answers, {refused} refused" if response.status_code == 200 else f"HTTP {response.status_code}"
            new_rows, new_tasks = Refill.objects.count() - rows, len(queued) - tasks_before
            print(ROW.format(label, count, f"{wall:.3f}", upstream_calls() - calls, new_rows, new_tasks, answer))

        def joined(ids: list[int]) -> str:
            return ",".join(map(str, ids))

        print(f"\n{len(refillable)} finished refillable orders, {len(running)} running; API calls:")
        print(ROW.format("request", "ids", "wall s", "upstream", "refills", "tasks", "reply"))
        api("refill order=<id>", 1, action="refill", order=str(refillable[0]))
        api("refill orders=<the same id x100>", 100, action="refill", orders=joined([refillable[1]] * 100))
        distinct = refillable[2:102]
        api("refill orders=<100 distinct ids>", 100, action="refill", orders=joined(distinct))
        refill_ids = list(Refill.objects.filter(order_id__in=distinct).order_by("pk").values_list("pk", flat=True))
        api("refill_status refills=<100 ids>", len(refill_ids), action="refill_status", refills=joined(refill_ids))
        api("cancel orders=<100 running ids>", 100, action="cancel", orders=joined(running))

        print("\nqueued tasks, run in process:")
        print(ROW.format("task", "ids", "wall s", "upstream", "", "", "result"))
        for name, ids in queued:
            calls, started = upstream_calls(), time.perf_counter()
            result = getattr(tasks, name)(ids)
            wall = time.perf_counter() - started
            print(ROW.format(name, len(ids), f"{wall:.3f}", upstream_calls() - calls, "", "", result))


if __name__ == "__main__":
    main()
