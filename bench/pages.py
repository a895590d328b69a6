"""Benchmark: render the services, new order and orders pages against a large shop on PostgreSQL.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/smmshop .venv/bin/python bench/pages.py [--repeat N] [--languages en,es]

Fills a throw-away database with 10,000 services in 50 categories and
1,000,000 orders (100,000 of them one customer's), then renders each page
for that customer through Django's full request stack (middleware, session,
templates; no network) N times, printing the median and 95th percentile time
and the SQL queries per render. The same pages are first measured on a small
shop (100 services, 1,000 orders) to show that the query count does not
depend on the row counts. Goal (issue 4): median under 100 ms per page.
With ``--languages en,es`` each page is measured in each language (the language cookie), to show what translation costs.
"""

from __future__ import annotations

import argparse
import time

from _common import connection, page_timing, throwaway_database

PAGES = {
    "services": "/services/",
    "services, category": "/services/?category={category}",
    "new order": "/order/",
    "new order, category": "/order/?category={category}",
    "orders": "/orders/",
    "orders, tab Completed": "/orders/?status=completed",
    "orders, tab Pending": "/orders/?status=pending",
    "orders, page 3": "/orders/?page=3",
}


def fill(*, services: int, orders: int, own_orders: int) -> tuple[int, int]:
    """Bulk-load the shop with SQL; returns (the customer's id, a category id)."""
    from decimal import Decimal

    from shop.models import Category, LedgerEntry, Provider, ProviderService, Service
    from shop.wallet.services import wallet_credit
    from tests.factories import UserFactory

    provider = Provider.objects.create(name=f"Panel {services}", api_url="http://127.0.0.1:9/api/v2", api_key="bench-key")
    categories = Category.objects.bulk_create([Category(name=f"Category {services}-{n:02d}", position=n) for n in range(50)])
    upstream = ProviderService.objects.bulk_create(
        [
            ProviderService(
                provider=provider,
                upstream_id=str(n),
                name=f"Service {n} followers [real, refill 30D]",
                type="Default",
                category=categories[n % 50].name,
                rate=Decimal("0.9") + Decimal(n % 97) / 100,
                min_quantity=50,
                max_quantity=100_000,
                refill=n % 3 == 0,
                dripfeed=n % 5 == 0,
            )
            for n in range(services)
        ],
        batch_size=2000,
    )
    retail = Service.objects.bulk_create(
        [Service(provider_service=ps, category=categories[n % 50], name=ps.name, position=n) for n, ps in enumerate(upstream)],
        batch_size=2000,
    )
    customer = UserFactory(username=f"bench-{services}")
    wallet_credit(user=customer, amount=Decimal("1000"), kind=LedgerEntry.Kind.DEPOSIT)
    others = [UserFactory(username=f"other-{services}-{n}").pk for n in range(100)]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO shop_order (user_id, service_id, provider_id, provider_service_id, link, quantity, total_quantity, extra,
                rate, charge, refunded, status, upstream_order_id, upstream_status, start_count, remains, error, submit_attempts,
                checks, created_at, updated_at)
            SELECT CASE WHEN g <= %(own)s THEN %(customer)s ELSE (%(others)s::bigint[])[1 + g %% 100] END,
                (%(services)s::bigint[])[1 + g %% %(nservices)s], %(provider)s,
                (%(upstream)s::bigint[])[1 + g %% %(nservices)s],
                'https://instagram.com/p/' || g, 1000, 1000, '{}', 1.17, 1.17,
                CASE WHEN g %% 10 = 1 THEN 0.5 ELSE 0 END,
                (ARRAY['completed', 'partial', 'in_progress', 'completed', 'pending',
                       'completed', 'canceled', 'completed', 'processing', 'completed'])[1 + g %% 10],
                'u' || g, 'Completed', 1000 + g %% 5000, g %% 300, '', 1, 3,
                now() - (g || ' seconds')::interval, now()
            FROM generate_series(1, %(total)s) AS g
            """,
            {
                "own": own_orders,
                "customer": customer.pk,
                "others": others,
                "services": [s.pk for s in retail],
                "upstream": [s.pk for s in upstream],
                "nservices": len(retail),
                "provider": provider.pk,
                "total": orders,
            },
        )
    with connection.cursor() as cursor:  # what autovacuum does on a live database, outside any transaction
        cursor.execute("VACUUM ANALYZE")
    return customer.pk, categories[7].pk


def measure(label: str, customer_id: int, category_id: int, repeat: int, languages: list[str]) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(pk=customer_id))
    print(label)
    for (name, url), language in ((page, language) for page in PAGES.items() for language in languages):
        url = url.format(category=category_id)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        if len(languages) > 1:
            name = f"{name} [{language}]"
        median, p95, queries = page_timing(client, url, repeat)
        print(f"  {name:>27}: median {median:6.1f} ms, p95 {p95:6.1f} ms, {queries:2d} SQL queries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--languages", default="en", help="comma-separated language codes, e.g. en,es")
    args = parser.parse_args()
    languages = [code.strip() for code in args.languages.split(",") if code.strip()]
    print(f"database: {connection.vendor}")
    with throwaway_database():
        started = time.perf_counter()
        small = fill(services=100, orders=1_000, own_orders=100)
        measure("small shop: 100 services, 1,000 orders (100 the customer's)", *small, args.repeat, languages)
        large = fill(services=10_000, orders=1_000_000, own_orders=100_000)
        print(f"(loaded the large shop in {time.perf_counter() - started:.0f} s)")
        measure("large shop: 10,000 more services, 1,000,000 more orders (100,000 the customer's)", *large, args.repeat, languages)


if __name__ == "__main__":
    main()
