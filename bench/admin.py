"""Benchmark: the back office's daily pages on a large shop on PostgreSQL, as a superuser.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/smmshop .venv/bin/python bench/admin.py [--orders N] [--repeat N] [--keep]

Fills a throw-away database with 10,000 services of 3 providers, 100,000
customers with their wallets, N orders (default 1,000,000) over the last 60
days (ids in the order of creation; the last day's still running, older ones finished: mostly Completed,
some Partial and Canceled, a few needing attention), a ledger line for each
charge and refund, and 100,000 top-ups; then renders each admin page an
operator uses daily through Django's full request stack (middleware,
session, templates; no network) ``--repeat`` times, printing the median and
95th percentile time and the SQL queries per render. The same pages are
first measured on a small shop (1,000 orders) to show that the query count
does not grow with the rows. Goal (issue 16): median under 150 ms per page.

``--keep`` keeps the database (test_<name>) for the next run, which then
migrates it and skips the loading if it already holds the orders.
"""

from __future__ import annotations

import argparse
import time

from _common import connection, page_timing

PAGES = {
    "index dashboard": "/admin/",
    "orders list": "/admin/shop/order/",
    "orders, status Completed": "/admin/shop/order/?status__exact=completed",
    "orders, status In progress": "/admin/shop/order/?status__exact=in_progress",
    "orders, needs attention": "/admin/shop/order/?status__exact=needs_attention",
    "orders, one provider": "/admin/shop/order/?provider__id__exact={provider}",
    "orders, one customer": "/admin/shop/order/?user__id__exact={customer}",
    "orders, past 7 days": "/admin/shop/order/?created_at__gte={week_ago}",
    "orders, search number": "/admin/shop/order/?q={order}",
    "orders, search link part": "/admin/shop/order/?q={link_part}",
    "orders, search whole link": "/admin/shop/order/?q={link}",
    "orders, search common word": "/admin/shop/order/?q=instagram",
    "orders, search provider id": "/admin/shop/order/?q={upstream}",
    "orders, search customer": "/admin/shop/order/?q={username}",
    "orders, page 500": "/admin/shop/order/?p={deep}",
    "orders, Completed page 500": "/admin/shop/order/?status__exact=completed&p={deep}",
    "order page": "/admin/shop/order/{order}/change/",
    "customers": "/admin/auth/user/",
    "customers, search": "/admin/auth/user/?q={username}",
    "ledger": "/admin/shop/ledgerentry/",
    "ledger, page 500": "/admin/shop/ledgerentry/?p={deep}",
    "top-ups": "/admin/shop/topup/",
    "retail services": "/admin/shop/service/",
    "retail services, search": "/admin/shop/service/?q=followers+9",
    "provider services": "/admin/shop/providerservice/",
}

ORDER_COLUMNS = """user_id, service_id, provider_id, provider_service_id, link, quantity, total_quantity, extra, rate, charge, refunded,
    status, upstream_order_id, upstream_status, start_count, remains, upstream_charge, error, submit_attempts, checks, finished_at,
    created_at, updated_at"""


def fill(*, orders: int, customers: int, services: int, tag: str) -> None:
    """Bulk-load the shop with SQL (a few minutes for 1,000,000 orders), in one transaction."""
    from django.db import transaction

    from shop.backoffice.rollup import figures_fold

    with transaction.atomic():
        _load(orders=orders, customers=customers, services=services, tag=tag)
    # The loaded orders' differences folded into the dashboard's rollup, as the periodic task keeps it on a live shop,
    # where each fold moves a minute's worth and autovacuum keeps up with the deleted rows.
    figures_fold()
    with connection.cursor() as cursor:  # what autovacuum does on a live database, outside any transaction
        cursor.execute("VACUUM ANALYZE")


def _load(*, orders: int, customers: int, services: int, tag: str) -> None:
    from decimal import Decimal

    from shop.models import Category, PaymentMethod, Provider, ProviderService, Service

    providers = [
        Provider.objects.create(name=f"Panel {tag}-{n}", api_url="http://127.0.0.1:9/api/v2", api_key="bench-key") for n in range(3)
    ]
    categories = Category.objects.bulk_create([Category(name=f"Category {tag}-{n:02d}", position=n) for n in range(50)])
    upstream = ProviderService.objects.bulk_create(
        [
            ProviderService(
                provider=providers[n % 3],
                upstream_id=str(n),
                name=f"Instagram followers {n} [real, refill 30D]",
                type="Default",
                category=categories[n % 50].name,
                rate=Decimal("0.9") + Decimal(n % 97) / 100,
                min_quantity=50,
                max_quantity=100_000,
            )
            for n in range(services)
        ],
        batch_size=2000,
    )
    retail = Service.objects.bulk_create(
        [Service(provider_service=ps, category=categories[n % 50], name=ps.name, position=n) for n, ps in enumerate(upstream)],
        batch_size=2000,
    )
    method = PaymentMethod.objects.create(code=f"bench-{tag}", kind="manual", name="Bank transfer", is_enabled=True)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
            SELECT '!', false, 'customer' || %(tag)s || '-' || g, '', '', 'customer' || %(tag)s || '-' || g || '@example.com',
                false, true, now() - ((g %% 400) || ' days')::interval
            FROM generate_series(1::bigint, %(customers)s) AS g
            """,
            {"customers": customers, "tag": tag},
        )
        cursor.execute("SELECT min(id), max(id) FROM auth_user WHERE username LIKE %s", [f"customer{tag}-%"])
        first_user, last_user = cursor.fetchone()
        assert last_user - first_user + 1 == customers, "the customers' ids are not contiguous"
        cursor.execute(
            "INSERT INTO shop_wallet (user_id, balance, hold_reason, updated_at) "
            "SELECT id, (id %% 1000) / 10.0, '', now() FROM auth_user WHERE id >= %s",
            [first_user],
        )
        # Older than a day: finished. The last day: on their way. A few need attention, whatever their age.
        cursor.execute(
            f"""
            INSERT INTO shop_order ({ORDER_COLUMNS})
            SELECT %(first_user)s + (g * 7919) %% %(customers)s, s.id, ps.provider_id, ps.id,
                CASE g %% 3 WHEN 0 THEN 'https://www.instagram.com/p/' || substr(md5(g::text), 1, 11) || '/'
                            WHEN 1 THEN 'https://www.tiktok.com/@user' || (g %% 50000) || '/video/' || (7000000000000000000 + g)
                            ELSE 'https://www.youtube.com/watch?v=' || substr(md5('y' || g), 1, 11) END,
                1000, 1000, '{{}}', 1.17, 1.17,
                CASE st WHEN 'partial' THEN 0.3510 WHEN 'canceled' THEN 1.17 ELSE 0 END,
                st, (10000000 + g * 7)::text, 'Completed', 1000 + g %% 5000, CASE st WHEN 'partial' THEN 300 ELSE 0 END,
                CASE WHEN st IN ('completed', 'partial') THEN 0.9 END, '', 1, 3,
                CASE WHEN st IN ('completed', 'partial', 'canceled') THEN at + interval '3 hours' END, at, at
            FROM (
                SELECT g, now() - ((%(orders)s + 1 - g) * (60 * 86400.0 / %(orders)s) || ' seconds')::interval AS at,
                    CASE WHEN g %% 5000 = 17 THEN 'needs_attention'
                         WHEN g > %(orders)s - %(orders)s / 60
                              THEN (ARRAY['pending', 'in_progress', 'processing', 'in_progress'])[1 + g %% 4]
                         ELSE (ARRAY['completed', 'completed', 'completed', 'completed', 'completed', 'completed', 'completed',
                                     'completed', 'partial', 'canceled'])[1 + g %% 10] END AS st
                FROM generate_series(1::bigint, %(orders)s) AS g
            ) AS o
            JOIN shop_service s ON s.id = %(first_service)s + (g * 31) %% %(services)s
            JOIN shop_providerservice ps ON ps.id = s.provider_service_id
            """,
            {
                "first_user": first_user,
                "customers": customers,
                "orders": orders,
                "services": services,
                "first_service": retail[0].pk,
            },
        )
        cursor.execute(
            """
            INSERT INTO shop_ledgerentry (wallet_id, kind, amount, balance_after, order_id, reason, created_at)
            SELECT w.id, 'order_charge', -o.charge, 10, o.id, '', o.created_at
            FROM shop_order o JOIN shop_wallet w ON w.user_id = o.user_id WHERE o.user_id >= %(first_user)s
            UNION ALL
            SELECT w.id, 'refund', o.refunded, 10, o.id, '', o.finished_at
            FROM shop_order o JOIN shop_wallet w ON w.user_id = o.user_id WHERE o.user_id >= %(first_user)s AND o.refunded > 0
            ORDER BY 7
            """,
            {"first_user": first_user},
        )
        cursor.execute(
            """
            INSERT INTO shop_topup (public_id, user_id, method_id, amount, fee, bonus, currency, state, gateway_id, gateway_payment,
                pay_url, reference, attention_reason, reversed_amount, reversal_owed, reversal_written_off, refunded_total,
                disputed_total, created_at, updated_at, paid_at)
            SELECT md5(%(tag)s || g)::uuid, %(first_user)s + (g * 104729) %% %(customers)s, %(method)s, 10 + g %% 90, 0, 0, 'USD',
                CASE WHEN g %% 20 = 0 THEN 'expired' ELSE 'paid' END, '', 'pay-' || g, '', '', '', 0, 0, 0, 0, 0,
                now() - ((%(topups)s + 1 - g) * 50 || ' seconds')::interval, now(),
                CASE WHEN g %% 20 = 0 THEN NULL ELSE now() - ((%(topups)s + 1 - g) * 50 || ' seconds')::interval END
            FROM generate_series(1::bigint, %(topups)s) AS g
            """,
            {"tag": tag, "first_user": first_user, "customers": customers, "method": method.pk, "topups": max(100, orders // 10)},
        )


def examples(tag: str) -> dict[str, object]:
    """Values the pages look up: a real order, its link, customer and provider order id."""
    from datetime import timedelta

    from django.utils import timezone

    from shop.models import Order

    theirs = Order.objects.filter(user__username__startswith=f"customer{tag}-").order_by("id")
    order = theirs[min(5000, theirs.count() - 1)]
    return {
        "order": order.pk,
        "link": order.link,
        "link_part": order.link.rstrip("/").rsplit("/", 1)[-1][2:9],
        "upstream": order.upstream_order_id,
        "customer": order.user_id,
        "username": order.user.username,
        "provider": order.provider_id,
        "week_ago": (timezone.now() - timedelta(days=7)).replace(microsecond=0).isoformat(),
        "deep": 499 if tag == "large" else 4,  # page 500 (page 5 of the small shop's 10)
    }


def _second_factor(client, admin) -> None:
    """Staff reach the admin signed in with a second factor (``STAFF_MFA_REQUIRED``): an authenticator, used in this session."""
    import time as clock

    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    from shop.accounts.mfa import SESSION_METHODS

    if not Authenticator.objects.filter(user=admin, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(admin, generate_totp_secret())
    session = client.session
    session[SESSION_METHODS] = [{"method": "mfa", "at": clock.time(), "type": "totp"}]
    session.save()


def measure(label: str, values: dict[str, object], repeat: int, only: str) -> None:
    from urllib.parse import quote

    from django.contrib.auth import get_user_model
    from django.test import Client

    admin, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    _second_factor(client, admin)
    shown = {key: quote(str(value)) for key, value in values.items()}
    print(label)
    for name, url in PAGES.items():
        if only and only not in name:
            continue
        median, p95, queries = page_timing(client, url.format(**shown), repeat)
        print(f"  {name:>28}: median {median:7.1f} ms, p95 {p95:7.1f} ms, {queries:2d} SQL queries", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database for the next run (loaded once)")
    parser.add_argument("--only", default="", help="measure only the pages whose name holds this text")
    args = parser.parse_args()
    print(f"database: {connection.vendor}")
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keep, serialize=False)
    try:
        from shop.models import Order

        started = time.perf_counter()
        if not Order.objects.filter(user__username__startswith="customersmall-").exists():
            fill(orders=1_000, customers=100, services=100, tag="small")
        if not args.only:
            measure("small shop: 100 services, 100 customers, 1,000 orders", examples("small"), args.repeat, args.only)
        if not Order.objects.filter(user__username__startswith="customerlarge-").exists():
            fill(orders=args.orders, customers=100_000, services=10_000, tag="large")
            print(f"(loaded the large shop in {time.perf_counter() - started:.0f} s)")
        label = f"large shop: 10,000 more services, 100,000 more customers, {args.orders:,} more orders"
        measure(label, examples("large"), args.repeat, args.only)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
