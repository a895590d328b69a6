"""Demo data for a fresh install: the sandbox provider, payment methods, an admin and a customer. Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from shop.accounts.usernames import username_skeletons_set
from shop.catalogue.models import Provider
from shop.payments.models import PaymentMethod
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
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)  # allauth: it may log in at once
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


SANDBOX_METHOD_CODE = "sandbox"
BANK_TRANSFER_CODE = "bank-transfer"
BANK_TRANSFER_INSTRUCTIONS = """Transfer the amount to:
Bank: Example Bank
IBAN: XX00 0000 0000 0000 0000 00
Account holder: Demo SMM Shop

Then enter your transfer's reference below. Staff check that it arrived and credit your balance, usually within one working day."""


def pay_sandbox_url() -> str:
    return f"http://{settings.PAY_SANDBOX_HOST}:{settings.PAY_SANDBOX_PORT}"


@transaction.atomic
def demo_payment_methods_ensure() -> list[PaymentMethod]:
    """The sandbox gateway's method (not in production) and a bank transfer, created if missing.

    The sandbox method's connection (URL, merchant, key, secret) is brought up to
    date from the settings; everything else, as whether it is enabled, stays as an
    admin left it.
    """
    methods = []
    if not settings.PRODUCTION:
        connection = {
            "api_url": pay_sandbox_url(),
            "merchant_id": settings.PAY_SANDBOX_MERCHANT,
            "api_key": settings.PAY_SANDBOX_API_KEY,
            "webhook_secret": settings.PAY_SANDBOX_WEBHOOK_SECRET,
        }
        sandbox, _ = PaymentMethod.objects.get_or_create(
            code=SANDBOX_METHOD_CODE,
            defaults={
                "kind": PaymentMethod.Kind.SANDBOX,
                "name": "Sandbox (test payments)",
                "is_enabled": True,
                "position": 0,
                "currency": settings.SHOP_CURRENCY,
                **connection,
            },
        )
        if sandbox.kind == PaymentMethod.Kind.SANDBOX:  # the code may have been given to another method: leave that alone
            stale = [name for name, value in connection.items() if getattr(sandbox, name) != value]
            if stale:
                for name in stale:
                    setattr(sandbox, name, connection[name])
                sandbox.save(update_fields=[*stale, "updated_at"])
            methods.append(sandbox)
    bank, _ = PaymentMethod.objects.get_or_create(
        code=BANK_TRANSFER_CODE,
        defaults={
            "kind": PaymentMethod.Kind.MANUAL,
            "name": "Bank transfer",
            "is_enabled": True,
            "position": 1,
            "currency": settings.SHOP_CURRENCY,
            "min_amount": Decimal("10"),
            "instructions": BANK_TRANSFER_INSTRUCTIONS,
        },
    )
    methods.append(bank)
    return methods
