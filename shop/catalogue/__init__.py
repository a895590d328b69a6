"""Providers, their synced catalogues, the retail services customers order, categories, pricing and markup."""
