"""Django admin for running the shop, one module per sub-domain."""

from . import catalogue, customers, dashboard, orders, providers, wallet  # noqa: F401
