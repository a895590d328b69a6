"""Customers' money: wallets, the append-only ledger, credits and debits."""
