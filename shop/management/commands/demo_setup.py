"""manage.py demo_setup: the sandbox provider, its synced catalogue, payment methods, an admin and a demo customer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from shop.catalogue.retail import services_import
from shop.catalogue.sync import CatalogueSyncError, catalogue_sync
from shop.core.demo import demo_customer_fund, demo_payment_methods_ensure, demo_provider_ensure, demo_user_ensure
from shop.core.schedule import periodic_tasks_ensure


class Command(BaseCommand):
    help = "Load the demo data (safe to run again). The sandbox provider must be running for the sync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-sync", action="store_true", help="Do not sync the sandbox catalogue.")
        parser.add_argument(
            "--site-url",
            default="http://127.0.0.1:8000",
            help="Where the shop is served, for the logins it prints (runshop passes its own).",
        )

    def handle(self, *args: Any, no_sync: bool = False, site_url: str = "http://127.0.0.1:8000", **options: Any) -> None:
        provider = demo_provider_ensure()
        periodic_tasks_ensure()
        if not no_sync:
            try:
                catalogue_sync(provider=provider, progress=lambda message: self.stdout.write(f"[sync] {message}"))
            except CatalogueSyncError as exc:
                self.stderr.write(self.style.WARNING(f"[sync] {exc}"))
        added = services_import(provider_services=provider.services.filter(is_available=True))
        if added:
            self.stdout.write(f"Offered {added} sandbox services in the shop at the default markup.")
        methods = demo_payment_methods_ensure()
        self.stdout.write("Payment methods: " + ", ".join(method.name + ("" if method.is_enabled else " [off]") for method in methods))
        # Demo-only accounts on a local install; their passwords are printed below.
        admin = demo_user_ensure(username="admin", password="admin-demo", superuser=True)  # noqa: S106
        customer = demo_user_ensure(username="demo", password="demo-customer", superuser=False)  # noqa: S106
        balance = demo_customer_fund(username=customer.username)
        for label, login, where in (("Admin", admin, "/admin/"), ("Customer", customer, "/")):
            note = "" if login.created else "  (existing account: unless its password was changed)"
            self.stdout.write(
                self.style.SUCCESS(f"{label} login: {login.username} / {login.password}  at {site_url.rstrip('/')}{where}{note}")
            )
        self.stdout.write(f"The demo customer's balance: {balance} {settings.SHOP_CURRENCY}")
