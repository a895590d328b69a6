"""Fixtures for shop tests: a synced and offered catalogue, a customer with money."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.catalogue.retail import services_import
from shop.catalogue.sync import catalogue_sync
from shop.models import LedgerEntry, Service
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory


@pytest.fixture
def catalogue(provider) -> dict[str, Service]:
    """The sandbox catalogue synced and offered in the shop, by upstream service id."""
    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    return {s.provider_service.upstream_id: s for s in Service.objects.select_related("provider_service__provider", "category")}


@pytest.fixture
def customer(db):
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("100"), kind=LedgerEntry.Kind.DEPOSIT)
    return user
