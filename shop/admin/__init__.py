"""Django admin for running the shop, one module per sub-domain."""

from . import catalogue, orders, providers, wallet  # noqa: F401
