"""Demo data for a fresh install: the sandbox provider, an admin and a customer. Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from shop.accounts.usernames import username_skeletons_set
from shop.catalogue.models import Provider
from shop.wallet.models import LedgerEntry
from shop.wallet.services import wallet_credit, wallet_get_or_create

SANDBOX_PROVIDER_NAME = "Sandbox panel"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    created: bool


def sandbox_url() -> str:
    return f"http://{settings.SANDBOX_HOST}:{settings.SANDBOX_PORT}/api/v2"


@transaction.atomic
def demo_provider_ensure() -> Provider:
    """The provider row that points at the local sandbox panel, created or brought up to date."""
    provider, created = Provider.objects.get_or_create(
        name=SANDBOX_PROVIDER_NAME,
        defaults={"api_url": sandbox_url(), "api_key": settings.SANDBOX_API_KEY, "currency": "USD"},
    )
    if not created and (provider.api_url != sandbox_url() or provider.api_key != settings.SANDBOX_API_KEY):
        provider.api_url = sandbox_url()
        provider.api_key = settings.SANDBOX_API_KEY
        provider.save(update_fields=["api_url", "api_key", "updated_at"])
    return provider


@transaction.atomic
def demo_user_ensure(*, username: str, password: str, superuser: bool) -> DemoLogin:
    """Create the user with this password if missing; an existing one keeps its password."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        return DemoLogin(username, password, created=False)
    if superuser:
        user = user_model.objects.create_superuser(username=username, email=f"{username}@example.com", password=password)
    else:
        user = user_model.objects.create_user(username=username, email=f"{username}@example.com", password=password)
    username_skeletons_set(user=user)  # so no sign-up can pass for it
    return DemoLogin(username, password, created=True)


DEMO_DEPOSIT = Decimal("100.00")


@transaction.atomic
def demo_customer_fund(*, username: str) -> Decimal:
    """Give the demo customer a first deposit, once; returns the balance."""
    user = get_user_model().objects.get(username=username)
    wallet = wallet_get_or_create(user=user)
    if not LedgerEntry.objects.filter(wallet=wallet).exists():
        wallet_credit(user=user, amount=DEMO_DEPOSIT, kind=LedgerEntry.Kind.DEPOSIT, reason="Demo deposit")
    wallet.refresh_from_db()
    return wallet.balance
