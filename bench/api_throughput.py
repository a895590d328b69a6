"""Benchmark: throughput of the API's add and 100-id status under gunicorn on PostgreSQL, against a minimal view.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/smmshop REDIS_URL=redis://127.0.0.1:6379/0 \\
       .venv/bin/python bench/api_throughput.py [--seconds 10] [--workers 2] [--clients 8]

Starts gunicorn (config.wsgi, sync workers) on a throw-away database, then
for each target runs the same closed-loop load (client processes with
keep-alive sessions, on loopback) and prints requests per second, p50/p95
latency and the ratio to /healthz, a minimal Django view served by the same
gunicorn. Goals (issue 5): status >= 0.5 and add >= 0.3 of the minimal view.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from decimal import Decimal

from _common import ROOT, connection, free_port, throwaway_database

BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")


def load(url: str, data: dict[str, str] | None, seconds: float, threads: int) -> list[float]:
    """One client process: ``threads`` sessions posting in a loop; returns the latencies (ms) of successes."""
    import requests

    def worker() -> list[float]:
        session = requests.Session()
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            reply = session.post(url, data=data, timeout=10) if data is not None else session.get(url, timeout=10)
            if reply.status_code == 200 and "error" not in reply.text[:20]:
                latencies.append((time.perf_counter() - started) * 1000)
        return latencies

    with ThreadPoolExecutor(threads) as pool:
        return [latency for result in pool.map(lambda _: worker(), range(threads)) for latency in result]


def measure(label: str, url: str, data: dict[str, str] | None, args: argparse.Namespace) -> float:
    processes = 2
    with ProcessPoolExecutor(processes) as pool:
        results = pool.map(load, [url] * processes, [data] * processes, [args.seconds] * processes, [args.clients // processes] * processes)
        latencies = sorted(latency for result in results for latency in result)
    rate = len(latencies) / args.seconds
    p95 = latencies[int(len(latencies) * 0.95)] if latencies else float("nan")
    median = statistics.median(latencies) if latencies else float("nan")
    print(f"  {label:>22}: {rate:7.1f} req/s, p50 {median:6.1f} ms, p95 {p95:6.1f} ms")
    return rate


def prepare() -> tuple[str, str]:
    """A customer with money, a key, an orderable service and 100 orders; returns (key, orders)."""
    from shop.models import Category, LedgerEntry, Order, OrderStatus, Provider, ProviderService, Service
    from shop.services.api_keys import api_key_issue
    from shop.services.wallet import wallet_credit
    from tests.factories import UserFactory

    provider = Provider.objects.create(name="Bench", api_url="http://127.0.0.1:9/api/v2", api_key="bench-provider-key")
    upstream = ProviderService.objects.create(
        provider=provider,
        upstream_id="1",
        name="Followers",
        type="Default",
        category="Bench",
        rate=Decimal("0.9"),
        min_quantity=10,
        max_quantity=100000,
    )
    service = Service.objects.create(provider_service=upstream, category=Category.objects.create(name="Bench"), name="Followers")
    customer = UserFactory(username="reseller")
    wallet_credit(user=customer, amount=Decimal("10000000"), kind=LedgerEntry.Kind.DEPOSIT)
    orders = Order.objects.bulk_create(
        Order(
            user=customer,
            service=service,
            provider=provider,
            provider_service=upstream,
            link=f"https://instagram.com/p/{n}",
            quantity=1000,
            total_quantity=1000,
            rate=Decimal("1.17"),
            charge=Decimal("1.17"),
            status=OrderStatus.IN_PROGRESS,
            upstream_order_id=str(n),
            start_count=100,
            remains=500,
        )
        for n in range(100)
    )
    return api_key_issue(user=customer), ",".join(str(order.pk) for order in orders), str(service.pk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn worker processes (2 per core)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client connections")
    args = parser.parse_args()
    print(
        f"database: {connection.vendor}; gunicorn with {args.workers} sync workers; "
        f"{args.clients} keep-alive clients, {args.seconds:.0f} s each"
    )
    with throwaway_database():
        key, orders, service = prepare()
        port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SHOP_ENV": "test",
            "DEBUG": "false",
            "DATABASE_URL": _database_url(),
            "API_RATE_LIMIT": "0",
            "API_ADD_RATE_LIMIT": "0",
            "LOG_LEVEL": "WARNING",
            # Submissions queued by add go to a Redis database of their own, emptied afterwards.
            "CELERY_BROKER_URL": BROKER,
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        try:
            time.sleep(3)
            base = f"http://127.0.0.1:{port}"
            minimal = measure("minimal view /healthz", f"{base}/healthz", None, args)
            status = measure("status, 100 ids", f"{base}/api/v2", {"key": key, "action": "status", "orders": orders}, args)
            add = measure(
                "add",
                f"{base}/api/v2",
                {"key": key, "action": "add", "service": service, "link": "https://x.example/p", "quantity": "100"},
                args,
            )
            print(f"ratios to the minimal view: status {status / minimal:.2f} (goal >= 0.5), add {add / minimal:.2f} (goal >= 0.3)")
        finally:
            server.terminate()
            server.wait(timeout=10)
            import redis

            redis.Redis.from_url(BROKER).flushdb()
            from tests.processes import wait_for_other_sessions_to_end

            wait_for_other_sessions_to_end()


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


if __name__ == "__main__":
    main()
