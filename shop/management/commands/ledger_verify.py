"""manage.py ledger_verify: every wallet's balance equals the sum of its ledger entries, and top-ups agree with the ledger."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from shop.payments.audit import topup_ledger_differences
from shop.wallet.models import Wallet
from shop.wallet.selectors import ledger_differences


class Command(BaseCommand):
    help = "Check that each balance equals the sum of its ledger entries and each top-up its entries; exit 1 listing any difference."

    def handle(self, *args: Any, **options: Any) -> None:
        differences = ledger_differences()
        for row in differences:
            self.stderr.write(
                f"wallet {row.wallet_id} ({row.username}): balance {row.balance} but entries sum to {row.entries_total}"
                f" (off by {row.balance - row.entries_total})"
            )
        topups = topup_ledger_differences()
        for problem in topups:
            self.stderr.write(problem)
        if differences or topups:
            raise CommandError(f"{len(differences)} wallet(s) and {len(topups)} top-up problem(s) disagree with the ledger.")
        self.stdout.write(f"OK: {Wallet.objects.count()} wallets agree with their ledgers, and every top-up with its entries.")
