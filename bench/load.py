"""Load: many customers at once against the whole shop, then the ledger check.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/smmshop REDIS_URL=redis://127.0.0.1:6379/0 \\
       .venv/bin/python bench/load.py [--users 200] [--seconds 300] [--spawn-rate 20]

Builds a throw-away shop (Django's test database): the sandbox panel in its
own process with a large balance, its catalogue synced and offered, and
``--users`` customers with money, an API key and a session. Then it starts
what production runs, on loopback only: gunicorn (sync workers), a Celery
worker, Celery beat (status refresh and sweep every 15 s, so orders complete,
go Partial or Canceled and are refunded during the run) and Redis for the
broker and the API limits. locust (headless, bounded by ``--seconds``) drives
the customers with bench/locustfile.py: pages, web orders, API orders, status
polling, balance. It prints requests per second, p50/p95/p99 latency and
errors per request kind and in all, how the orders ended, and finally the
ledger verification (exit 1 if any balance disagrees with its ledger).
Not part of the test suite: it takes minutes and all of the machine.

``--capacity`` (issue 16) raises the load step by step instead: locust runs
``--step-seconds`` at each number of customers of ``--steps``, and the steps
stop at the first one whose p95 over all requests passes 500 ms or that has
errors. It prints each step's rate and p95 per kind of request and the orders
placed, sent to the panel and finished per second (from the shop's own
records of that step), then the highest rates sustained: the last step that
held. ``--web-workers`` and ``--worker-concurrency`` set the processes, to
see how the ceiling moves with them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("ORDER_POLL_INTERVAL", "15")
os.environ.setdefault("ORDER_SWEEP_INTERVAL", "15")

from _common import ROOT, connection, free_port, gunicorn_command, sandbox_process, throwaway_database

KEY = "load-sandbox-key-5d1e"
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12")


def prepare(sandbox_url: str, users: int, folder: Path) -> Path:
    """The shop's data: provider, offered catalogue, customers with money, keys and sessions. Returns the accounts file."""
    from django.test import Client

    from shop.catalogue.retail import services_import
    from shop.catalogue.sync import catalogue_sync
    from shop.core.schedule import periodic_tasks_ensure
    from shop.models import LedgerEntry, Provider
    from shop.reseller_api.keys import api_key_issue
    from shop.wallet.services import wallet_credit
    from tests.factories import UserFactory

    provider = Provider.objects.create(name="Sandbox", api_url=sandbox_url, api_key=KEY)
    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    periodic_tasks_ensure()
    from shop.catalogue.selectors import orderable_services

    offered = orderable_services().filter(provider_service__type="Default", provider_service__min_quantity__lte=1000)
    services = [{"id": s.pk, "min": max(s.min_quantity or 0, s.provider_service.min_quantity)} for s in offered]
    accounts = []
    for _ in range(users):
        user = UserFactory()
        wallet_credit(user=user, amount=Decimal("100000"), kind=LedgerEntry.Kind.DEPOSIT)
        client = Client()  # one each: logging out would delete the session
        client.force_login(user)
        accounts.append({"key": api_key_issue(user=user), "session": client.cookies["sessionid"].value})
    path = folder / "accounts.json"
    path.write_text(json.dumps({"accounts": accounts, "services": services}))
    print(f"prepared {users} customers, {len(services)} orderable Default services")
    return path


def start(name: str, command: list[str], env: dict[str, str], folder: Path) -> subprocess.Popen[bytes]:
    log = open(folder / f"{name}.log", "wb")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def report(stats_csv: Path) -> None:
    rows = list(csv.DictReader(stats_csv.open()))
    print(f"{'request':>28} {'count':>7} {'errors':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}  (ms)")
    for row in rows:
        label = row["Name"] if row["Name"] != "Aggregated" else "ALL"
        print(
            f"{label[:28]:>28} {row['Request Count']:>7} {row['Failure Count']:>6} {float(row['Requests/s']):7.1f} "
            f"{row['50%']:>6} {row['95%']:>6} {row['99%']:>6}"
        )


def errors(failures_csv: Path) -> None:
    for row in csv.DictReader(failures_csv.open()):
        print(f"  error x{row['Occurrences']}: {row['Method']} {row['Name']}: {row['Error'][:200]}")


P95_LIMIT_MS = 500


def step_rows(stats_csv: Path) -> dict[str, dict[str, float]]:
    """locust's figures of one step by request name ("ALL" for the whole): req/s, p95 ms, failures."""
    rows = {}
    for row in csv.DictReader(stats_csv.open()):
        label = row["Name"] if row["Name"] != "Aggregated" else "ALL"
        p95 = float(row["95%"]) if row["95%"] not in ("", "N/A") else 0.0
        rows[label] = {"rate": float(row["Requests/s"]), "p95": p95, "failures": int(row["Failure Count"])}
    return rows


def order_rates(started, ended) -> dict[str, float]:
    """Orders placed, sent to the panel and finished per second between two moments, from the shop's records."""
    from shop.models import Order
    from shop.orders.models import OrderEvent

    seconds = (ended - started).total_seconds()
    window = {"created_at__gte": started, "created_at__lt": ended}
    return {
        "placed": Order.objects.filter(**window).count() / seconds,
        "sent": OrderEvent.objects.filter(kind=OrderEvent.Kind.SENT, **window).count() / seconds,
        "finished": Order.objects.filter(finished_at__gte=started, finished_at__lt=ended).count() / seconds,
    }


def capacity(*, steps: list[int], seconds: int, port: int, accounts: Path, folder: Path, processes: dict) -> None:
    """Raise the customers step by step until p95 passes P95_LIMIT_MS or errors appear; print the highest sustained rates."""
    from django.utils import timezone

    held: tuple[int, dict[str, dict[str, float]], dict[str, float]] | None = None
    for number, users in enumerate(steps):
        started = timezone.now()
        prefix = folder / f"step{number}"
        run_locust(users=users, spawn_rate=max(users / 5, 1), seconds=seconds, port=port, accounts=accounts, prefix=prefix)
        ended = timezone.now()
        for name, process in processes.items():
            if process.poll() is not None:
                raise SystemExit(f"{name} exited during the step of {users} customers")
        rows, orders = step_rows(Path(f"{prefix}_stats.csv")), order_rates(started, ended)
        total = rows.get("ALL", {"rate": 0.0, "p95": 0.0, "failures": 0})
        print(
            f"step {number + 1}: {users:4d} customers: {total['rate']:6.1f} req/s, p95 {total['p95']:5.0f} ms, "
            f"{total['failures']} errors; orders/s placed {orders['placed']:.1f}, sent {orders['sent']:.1f}, "
            f"finished {orders['finished']:.1f}",
            flush=True,
        )
        if total["failures"] or total["p95"] > P95_LIMIT_MS:
            errors(Path(f"{prefix}_failures.csv"))
            break
        held = (users, rows, orders)
    if held is None:
        print("no step held: the first already passed the limits")
        return
    users, rows, orders = held
    print(f"highest sustained (step of {users} customers, p95 <= {P95_LIMIT_MS} ms, no errors):")
    for name, row in sorted(rows.items()):
        print(f"  {name[:32]:>32}: {row['rate']:7.1f} req/s (p95 {row['p95']:.0f} ms)")
    print(f"  orders: placed {orders['placed']:.1f}/s, sent {orders['sent']:.1f}/s, finished {orders['finished']:.1f}/s")


def run_locust(*, users: int, spawn_rate: float, seconds: int, port: int, accounts: Path, prefix: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "--only-summary",
         "-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s", "--stop-timeout", "10",
         "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--loglevel", "WARNING"],
        cwd=ROOT, env={**os.environ, "LOAD_ACCOUNTS": str(accounts)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )  # fmt: skip


def outcome() -> None:
    from django.db.models import Count

    from shop.models import Order

    counts = dict(Order.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    print("orders by status: " + ", ".join(f"{status} {n}" for status, n in sorted(counts.items())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--spawn-rate", type=float, default=20)
    parser.add_argument("--web-workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--capacity", action="store_true", help="raise the load step by step until p95 > 500 ms or errors")
    parser.add_argument("--steps", default="10,25,50,100,200,400,800", help="customers at each step of --capacity")
    parser.add_argument("--step-seconds", type=int, default=40)
    args = parser.parse_args()
    steps = [int(users) for users in args.steps.split(",")]
    users = max(steps) if args.capacity else args.users
    shape = f"{args.users} customers for {args.seconds} s"
    if args.capacity:
        shape = f"steps of {args.steps} customers, {args.step_seconds} s each"
    print(
        f"database: {connection.vendor}; {shape}; gunicorn with {args.web_workers} workers, "
        f"a Celery worker of {args.worker_concurrency} processes on all queues"
    )
    with tempfile.TemporaryDirectory() as tmp, throwaway_database():
        folder = Path(tmp)
        with sandbox_process(KEY, balance=Decimal("100000000"), stage_seconds=20, seed=3) as sandbox_url:
            accounts = prepare(sandbox_url, users, folder)
            db = connection.settings_dict
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "SHOP_ENV": "test",
                "DEBUG": "false",
                "LOG_LEVEL": "WARNING",
                "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
                "CELERY_BROKER_URL": BROKER,
                "PYTHONUNBUFFERED": "1",
                "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),  # config/gunicorn.py's request metrics, this run's own
            }
            import redis

            redis.Redis.from_url(BROKER).flushdb()
            port = free_port()
            python = sys.executable
            web = gunicorn_command(workers=args.web_workers, port=port)
            celery = [python, "-m", "celery", "-A", "config"]
            worker = [*celery, "worker", "--loglevel", "WARNING", "--concurrency", str(args.worker_concurrency)]
            processes = {
                "web": start("web", web, env, folder),
                "worker": start("worker", worker, env, folder),
                "beat": start("beat", [*celery, "beat", "--loglevel", "WARNING", "--pidfile="], env, folder),
            }
            try:
                time.sleep(4)
                for name, process in processes.items():
                    if process.poll() is not None:
                        raise SystemExit(f"{name} exited early:\n{(folder / f'{name}.log').read_text()[-3000:]}")
                started = time.monotonic()
                if args.capacity:
                    capacity(steps=steps, seconds=args.step_seconds, port=port, accounts=accounts, folder=folder, processes=processes)
                else:
                    run_locust(
                        users=args.users, spawn_rate=args.spawn_rate, seconds=args.seconds, port=port, accounts=accounts,
                        prefix=folder / "load",
                    )  # fmt: skip
                    report(folder / "load_stats.csv")
                    errors(folder / "load_failures.csv")
                print(f"locust ran {time.monotonic() - started:.0f} s")
                # Let the worker and beat finish what is in flight before the books are checked.
                time.sleep(20)
            finally:
                for process in processes.values():
                    process.terminate()
                for process in processes.values():
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()
                redis.Redis.from_url(BROKER).flushdb()
        outcome()
        from django.core.management import call_command
        from django.core.management.base import CommandError

        try:
            call_command("ledger_verify")
            failed = False
        except CommandError as exc:
            print(f"ledger_verify: {exc}")
            failed = True
        from tests.processes import wait_for_other_sessions_to_end

        wait_for_other_sessions_to_end()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
