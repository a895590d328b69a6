"""The shop's fixtures, reused here: a synced catalogue and a customer with money; a logged-in browser and an API caller."""

from __future__ import annotations

import pytest

from shop.reseller_api.keys import api_key_issue
from tests.shop.conftest import catalogue, customer  # noqa: F401


@pytest.fixture
def web(client, customer):  # noqa: F811
    """The customer, logged in to the shop's pages."""
    client.force_login(customer)
    return client


@pytest.fixture
def key(customer) -> str:  # noqa: F811
    """The customer's API key (the whole key, as the customer holds it)."""
    return api_key_issue(user=customer)


@pytest.fixture
def call(client, key):
    """POST one API call with the customer's key; the JSON reply."""

    def call(**params: str):
        response = client.post("/api/v2", {"key": key, **params})
        assert response["Content-Type"] == "application/json"
        return response.json()

    return call
