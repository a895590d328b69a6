"""Django admin for running the shop, one module per sub-domain."""

from . import api, catalogue, customers, dashboard, orders, providers, wallet  # noqa: F401
