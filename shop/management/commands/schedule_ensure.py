"""manage.py schedule_ensure: create the periodic tasks beat needs, once."""

from typing import Any

from django.core.management.base import BaseCommand

from shop.core.schedule import periodic_tasks_ensure


class Command(BaseCommand):
    help = "Create the shop's periodic tasks (sync, balances, pruning) if missing; admins edit them afterwards."

    def handle(self, *args: Any, **options: Any) -> None:
        created = periodic_tasks_ensure()
        self.stdout.write(f"Periodic tasks created: {', '.join(created)}" if created else "Periodic tasks already present.")
