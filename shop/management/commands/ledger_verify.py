"""manage.py ledger_verify: every wallet's balance equals the sum of its ledger entries."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from shop.wallet.models import Wallet
from shop.wallet.selectors import ledger_differences


class Command(BaseCommand):
    help = "Check that each balance equals the sum of its ledger entries; exit 1 listing any difference."

    def handle(self, *args: Any, **options: Any) -> None:
        differences = ledger_differences()
        for row in differences:
            self.stderr.write(
                f"wallet {row.wallet_id} ({row.username}): balance {row.balance} but entries sum to {row.entries_total}"
                f" (off by {row.balance - row.entries_total})"
            )
        if differences:
            raise CommandError(f"{len(differences)} wallet(s) disagree with their ledger.")
        self.stdout.write(f"OK: {Wallet.objects.count()} wallets agree with their ledgers.")
