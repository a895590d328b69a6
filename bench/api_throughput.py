"""Benchmark: throughput of the API's add and 100-id status under gunicorn on PostgreSQL, against a minimal view.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/smmshop REDIS_URL=redis://127.0.0.1:6379/0 \\
       .venv/bin/python bench/api_throughput.py [--seconds 10] [--workers 2] [--clients 8]

Starts gunicorn (config.wsgi, sync workers) on a throw-away database, then
runs the same closed-loop load (client processes with keep-alive connections, on
loopback) against each target in turn, for several interleaved rounds so that
a slow moment of the machine weighs on all targets alike. Prints each
target's median requests per second over the rounds, p50/p95 latency and the
ratio to /healthz, a minimal Django view served by the same gunicorn. The rate
limits stay on (at a ceiling the load never reaches), so their cost is counted.

It also prints each target's cost per call: the CPU time (user + system, from
/proc) that the processes serving it spent during its rounds, divided by the
calls answered: gunicorn's master and workers, the PostgreSQL server (its
backends of the throw-away database and its own background processes) and
the Redis server (rate limits, the submit task's message). The load clients
are not counted. Goals (issue 16): a 100-id status at most 2.0 ms, an add at
most 3.5 ms. Other work on the machine's PostgreSQL and Redis servers at the
same time would be counted too: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from decimal import Decimal

from _common import ROOT, connection, free_port, gunicorn_command, throwaway_database

HISTORY = 100_000
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")


def load(url: str, data: dict[str, str] | None, seconds: float, threads: int) -> list[float]:
    """One client process: ``threads`` connections posting in a loop; returns the latencies (ms) of successes.

    ``http.client`` with the request's body encoded once: about 0.1 ms of the client's CPU per call,
    against about 0.5 ms for ``requests``. The clients share the 2 cores with the processes whose CPU
    is counted, and the less they take, the less they slow those processes (their caches, the scheduler).
    """
    import http.client
    from urllib.parse import urlencode, urlsplit

    target = urlsplit(url)
    body = urlencode(data).encode() if data is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if data is not None else {}

    def worker() -> list[float]:
        client = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            client.request("POST" if body is not None else "GET", target.path, body=body, headers=headers)
            reply = client.getresponse()
            text = reply.read()  # a reply that closes the connection closes the client too; the next request reopens it
            if reply.status == 200 and b"error" not in text[:20]:
                latencies.append((time.perf_counter() - started) * 1000)
        client.close()
        return latencies

    with ThreadPoolExecutor(threads) as pool:
        return [latency for result in pool.map(lambda _: worker(), range(threads)) for latency in result]


def measure(url: str, data: dict[str, str] | None, args: argparse.Namespace) -> tuple[float, list[float]]:
    """One round against one target: (requests per second, latencies in ms)."""
    processes = 2
    with ProcessPoolExecutor(processes) as pool:
        results = pool.map(load, [url] * processes, [data] * processes, [args.seconds] * processes, [args.clients // processes] * processes)
        latencies = [latency for result in results for latency in result]
    return len(latencies) / args.seconds, latencies


def _ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 if it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process on the machine."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            args = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append((int(entry), int(stat.rsplit(")", 1)[1].split()[1]), args))
    return found


PARTS = ("web", "database", "redis")


def serving_pids(server: int, database: str) -> dict[str, list[int]]:
    """gunicorn's processes, the PostgreSQL server's (without other databases' sessions) and the Redis server's."""
    pids: dict[str, list[int]] = {part: [] for part in PARTS}
    for pid, parent, args in _processes():
        if pid == server or parent == server:
            pids["web"].append(pid)
        elif args.startswith("redis-server"):
            pids["redis"].append(pid)
        elif args.startswith("postgres: ") or "/bin/postgres" in args.split(" ", 1)[0]:
            session = "(" in args or "[local]" in args  # "postgres: 15/main: user database 127.0.0.1(50000) idle"
            if not session or f" {database} " in args:
                pids["database"].append(pid)
    return pids


def cpu_ms(pids: dict[str, list[int]]) -> dict[str, float]:
    tick = 1000 / os.sysconf("SC_CLK_TCK")
    return {part: sum(_ticks(pid) for pid in pids[part]) * tick for part in PARTS}


def report(label: str, rates: list[float], latencies: list[float]) -> float:
    latencies.sort()
    rate = statistics.median(rates)
    p95 = latencies[int(len(latencies) * 0.95)] if latencies else float("nan")
    median = statistics.median(latencies) if latencies else float("nan")
    spread = f"{min(rates):.0f}-{max(rates):.0f}"
    print(f"  {label:>22}: {rate:7.1f} req/s (rounds {spread:>9}), p50 {median:6.1f} ms, p95 {p95:6.1f} ms")
    return rate


def prepare() -> tuple[str, str]:
    """A reseller with money, a key, an orderable service and a history of orders; returns (key, 100 order ids, service id).

    The history (``HISTORY`` orders, statistics analysed) is what a working
    reseller has; it also keeps the planner's picture true while the add
    rounds create a few thousand more.
    """
    from shop.models import Category, LedgerEntry, Order, OrderStatus, Provider, ProviderService, Service
    from shop.reseller_api.keys import api_key_issue
    from shop.wallet.services import wallet_credit
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
        for n in range(HISTORY)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Order._meta.db_table}")
    polled = orders[-200::2]  # a reseller polls its recent orders
    return api_key_issue(user=customer), ",".join(str(order.pk) for order in polled), str(service.pk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of one round against one target")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn worker processes (2 per core)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client connections")
    args = parser.parse_args()
    print(
        f"database: {connection.vendor}; gunicorn with {args.workers} sync workers; "
        f"{args.clients} keep-alive clients; {args.rounds} rounds of {args.seconds:.0f} s per target"
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
            "API_RATE_LIMIT": "100000000",
            "API_ADD_RATE_LIMIT": "100000000",
            "API_IDS_RATE_LIMIT": "100000000",
            "LOG_LEVEL": "WARNING",
            # Submissions queued by add go to a Redis database of their own, emptied afterwards.
            "CELERY_BROKER_URL": BROKER,
            # The request metrics as production keeps them (config/gunicorn.py), in a folder of this run's own.
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-"),
        }
        server = subprocess.Popen(gunicorn_command(workers=args.workers, port=port), cwd=ROOT, env=env)
        try:
            time.sleep(3)
            base = f"http://127.0.0.1:{port}"
            targets = {
                "minimal view /healthz": (f"{base}/healthz", None),
                "status, 100 ids": (f"{base}/api/v2", {"key": key, "action": "status", "orders": orders}),
                "add": (
                    f"{base}/api/v2",
                    {"key": key, "action": "add", "service": service, "link": "https://x.example/p", "quantity": "100"},
                ),
            }
            rates: dict[str, list[float]] = {label: [] for label in targets}
            latencies: dict[str, list[float]] = {label: [] for label in targets}
            costs: dict[str, list[dict[str, float]]] = {label: [] for label in targets}
            database = connection.settings_dict["NAME"]
            warm_up = argparse.Namespace(**{**vars(args), "seconds": 1.0})
            for url, data in targets.values():  # every worker opens its database session before anything is counted
                measure(url, data, warm_up)
            for _ in range(args.rounds):
                for label, (url, data) in targets.items():
                    pids = serving_pids(server.pid, database)  # the sessions the previous round opened are among them
                    before = cpu_ms(pids)
                    rate, times = measure(url, data, args)
                    after = cpu_ms(pids)
                    costs[label].append({part: (after[part] - before[part]) / max(len(times), 1) for part in PARTS})
                    rates[label].append(rate)
                    latencies[label] += times
            minimal, status, add = (report(label, rates[label], latencies[label]) for label in targets)
            print(f"ratios to the minimal view: status {status / minimal:.2f}, add {add / minimal:.2f}")
            print("CPU time per call of web, database and Redis processes (median of rounds):")
            for label, goal in zip(targets, ("", " (goal <= 2.0 ms)", " (goal <= 3.5 ms)"), strict=True):
                totals = [sum(cost.values()) for cost in costs[label]]
                parts = ", ".join(f"{part} {statistics.median(cost[part] for cost in costs[label]):.2f}" for part in PARTS)
                spread = f"{min(totals):.2f}-{max(totals):.2f}"
                print(f"  {label:>22}: {statistics.median(totals):5.2f} ms (rounds {spread}; {parts}){goal}")
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
