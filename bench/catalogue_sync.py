"""Benchmark: sync a 10,000-service catalogue from the sandbox, then re-sync it unchanged.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/smmshop .venv/bin/python bench/catalogue_sync.py [--services N]

It creates a throw-away database (Django's test database, test_<name>), serves
the catalogue from a sandbox panel over loopback HTTP, and prints wall time and
SQL query count of each sync. Goals (issue 2): first sync <= 3 s, unchanged
re-sync <= 1.5 s, query count growing by batches, not by services.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SHOP_ENV", "test")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from panelapi.sandbox import SandboxPanel, SandboxServer  # noqa: E402

KEY = "bench-key-0123456789"


def run(services: int) -> None:
    from shop.catalogue.retail import services_import
    from shop.catalogue.sync import catalogue_sync
    from shop.catalogue.updates import service_updates_record
    from shop.models import Provider

    panel = SandboxPanel(KEY, seed=1, catalogue_size=services)
    server = SandboxServer(panel).start()
    try:
        provider = Provider.objects.create(name="Bench", api_url=server.url, api_key=KEY)
        print(f"database: {connection.vendor} ({connection.settings_dict['NAME']}), services: {services}")
        for label in ("first sync", "unchanged re-sync"):
            timed(label, lambda: catalogue_sync(provider=provider))
        for service in panel.services[: services // 100]:
            panel.replace_service(service.service, rate=service.rate + Decimal("0.01"))
        timed("re-sync, 1% repriced", lambda: catalogue_sync(provider=provider))
        # Retail services follow their provider's description (issue 14): one UPDATE, whatever the count.
        services_import(provider_services=provider.services.all())
        for service in panel.services[: services // 100]:
            panel.replace_service(service.service, desc=f"{service.desc} (new)")
        timed("re-sync, 1% redescribed", lambda: catalogue_sync(provider=provider))
        # The service updates log over the whole retail catalogue.
        timed("updates: first snapshot", service_updates_record)
        timed("updates: nothing changed", service_updates_record)
        for service in panel.services[: services // 100]:
            panel.replace_service(service.service, rate=service.rate + Decimal("0.02"))
        catalogue_sync(provider=provider)
        timed("updates: 1% repriced", service_updates_record)
    finally:
        server.stop()


def timed(label: str, sync) -> None:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = sync()
        elapsed = time.perf_counter() - started
    outcome = result.summary() if hasattr(result, "summary") else f"{result} updates written"
    print(f"{label:>24}: {elapsed:6.3f} s wall, {len(queries):3d} SQL queries  ({outcome})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("warning: DATABASE_URL is not PostgreSQL; the goals are stated for PostgreSQL", file=sys.stderr)
    creation = connection.creation
    old_name = creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.services)
    finally:
        creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
