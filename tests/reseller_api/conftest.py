"""The shop's fixtures, reused here: a synced catalogue and a customer with money."""

from tests.shop.conftest import catalogue, customer  # noqa: F401
