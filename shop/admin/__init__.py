"""Django admin for running the shop, one module per sub-domain."""

from . import providers, wallet  # noqa: F401
