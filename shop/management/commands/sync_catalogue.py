"""manage.py sync_catalogue [PROVIDER ...]: sync catalogues now, showing progress."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shop.catalogue.models import Provider
from shop.catalogue.sync import CatalogueSyncError, catalogue_sync
from shop.core.numbers import id_number


class Command(BaseCommand):
    help = "Sync the service catalogue of the named providers (by name or id), or of every active one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("providers", nargs="*", help="Provider names or ids; default: all active providers.")

    def handle(self, *args: Any, providers: list[str], **options: Any) -> None:
        if providers:
            rows = [self._find(ref) for ref in providers]
        else:
            rows = list(Provider.objects.filter(is_active=True))
        if not rows:
            raise CommandError("No active provider to sync. Add one in admin first.")
        failed = 0
        for provider in rows:
            try:
                catalogue_sync(provider=provider, progress=lambda message, p=provider: self.stdout.write(f"[{p.name}] {message}"))
            except CatalogueSyncError as exc:
                failed += 1
                self.stderr.write(self.style.ERROR(f"[{provider.name}] {exc}"))
        if failed:
            raise CommandError(f"{failed} of {len(rows)} syncs failed.")

    def _find(self, ref: str) -> Provider:
        number = id_number(ref)
        query = Provider.objects.filter(pk=number) if number is not None else Provider.objects.filter(name=ref)
        provider = query.first()
        if provider is None:
            raise CommandError(f"No provider named or numbered {ref!r}.")
        return provider
