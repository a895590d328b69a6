"""The storefront: providers, catalogue, customers, orders."""
