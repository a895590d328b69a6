"""Customers as people: sign-up, and the customer admin with balances and adjustments."""
