"""Management commands: demo data, catalogue sync with progress, the ledger check."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from shop.core.demo import demo_payment_methods_ensure
from shop.models import LedgerEntry, Provider, ProviderService, Wallet
from shop.payments.gateway import gateway_for
from shop.payments.interface import Urls
from shop.payments.models import PaymentMethod, TopUp
from shop.payments.sandbox import SandboxServer
from shop.wallet.services import wallet_credit
from tests.conftest import SANDBOX_KEY
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox_settings(settings, sandbox):
    settings.SANDBOX_PORT = sandbox.port
    settings.SANDBOX_API_KEY = SANDBOX_KEY
    return settings


def test_demo_setup_twice_is_safe(sandbox_settings, sandbox, settings) -> None:
    first, second = StringIO(), StringIO()
    call_command("demo_setup", stdout=first)
    call_command("demo_setup", stdout=second)

    assert Provider.objects.count() == 1
    assert ProviderService.objects.count() == len(sandbox.panel.services)
    assert get_user_model().objects.filter(username__in=["admin", "demo"]).count() == 2
    assert get_user_model().objects.get(username="admin").is_superuser
    assert LedgerEntry.objects.filter(wallet__user__username="demo").count() == 1
    assert "Admin login: admin / admin-demo" in first.getvalue()
    assert "The demo customer's balance: 100.0000" in second.getvalue()
    assert "Payment methods: Sandbox (test payments), Bank transfer\n" in second.getvalue()
    assert sorted(PaymentMethod.objects.values_list("code", flat=True)) == ["bank-transfer", "sandbox"]
    output = first.getvalue() + second.getvalue()
    for secret in (SANDBOX_KEY, settings.PAY_SANDBOX_API_KEY, settings.PAY_SANDBOX_WEBHOOK_SECRET):
        assert secret not in output


def test_demo_payment_methods_point_at_the_local_sandbox_gateway_and_a_bank_transfer(settings) -> None:
    sandbox, bank = demo_payment_methods_ensure()

    assert (sandbox.code, sandbox.kind, sandbox.name, sandbox.is_enabled) == ("sandbox", "sandbox", "Sandbox (test payments)", True)
    sandbox.refresh_from_db()  # the secrets went through the encrypted field
    assert sandbox.api_url == f"http://{settings.PAY_SANDBOX_HOST}:{settings.PAY_SANDBOX_PORT}"
    assert (sandbox.merchant_id, sandbox.api_key, sandbox.webhook_secret) == (
        settings.PAY_SANDBOX_MERCHANT,
        settings.PAY_SANDBOX_API_KEY,
        settings.PAY_SANDBOX_WEBHOOK_SECRET,
    )
    assert (bank.code, bank.kind, bank.name, bank.is_enabled, bank.min_amount) == ("bank-transfer", "manual", "Bank transfer", True, 10)
    assert "IBAN" in bank.instructions


def test_demo_payment_methods_follow_the_settings_and_keep_what_an_admin_changed(settings) -> None:
    demo_payment_methods_ensure()
    PaymentMethod.objects.filter(code="sandbox").update(is_enabled=False, fee_percent=Decimal("2.5"))
    PaymentMethod.objects.filter(code="bank-transfer").update(min_amount=Decimal("50"), instructions="Ask support.")
    settings.PAY_SANDBOX_PORT = 18002
    settings.PAY_SANDBOX_WEBHOOK_SECRET = "rotated-whsec"

    demo_payment_methods_ensure()

    sandbox = PaymentMethod.objects.get(code="sandbox")
    assert (sandbox.api_url, sandbox.webhook_secret) == (f"http://{settings.PAY_SANDBOX_HOST}:18002", "rotated-whsec")
    assert (sandbox.is_enabled, sandbox.fee_percent) == (False, Decimal("2.5"))
    bank = PaymentMethod.objects.get(code="bank-transfer")
    assert (bank.min_amount, bank.instructions) == (Decimal("50"), "Ask support.")
    assert PaymentMethod.objects.count() == 2


def test_demo_payment_methods_in_production_have_no_sandbox(settings) -> None:
    settings.PRODUCTION = True

    [bank] = demo_payment_methods_ensure()

    assert bank.code == "bank-transfer"
    assert not PaymentMethod.objects.filter(kind=PaymentMethod.Kind.SANDBOX).exists()


def test_the_demo_sandbox_method_pays_through_the_gateway_runshop_starts(settings) -> None:
    """The settings the demo writes into the method are the ones runshop gives the gateway: a payment starts."""
    with SandboxServer(
        merchant=settings.PAY_SANDBOX_MERCHANT, api_key=settings.PAY_SANDBOX_API_KEY, webhook_secret=settings.PAY_SANDBOX_WEBHOOK_SECRET
    ) as server:
        settings.PAY_SANDBOX_PORT = server.port
        [method, _] = demo_payment_methods_ensure()
        topup = TopUp.objects.create(user=UserFactory(), method=method, amount=Decimal("10.00"), currency=method.currency)

        checkout = gateway_for(method).start(
            method=method, topup=topup, urls=Urls(notify="http://127.0.0.1:9/", back="http://127.0.0.1:9/")
        )

        assert server.payment(checkout.gateway_id).reference == str(topup.public_id)


def test_sync_catalogue_command_shows_progress(provider) -> None:
    out = StringIO()
    call_command("sync_catalogue", provider.name, stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[Sandbox] Fetching the catalogue of Sandbox"
    assert any(line.startswith("[Sandbox] Created ") for line in lines)
    assert "services received" in lines[-1]


def test_sync_catalogue_command_fails_loudly(db) -> None:
    Provider.objects.create(name="Down", api_url="http://127.0.0.1:9/api/v2", api_key="k")
    with pytest.raises(CommandError, match="1 of 1 syncs failed"):
        call_command("sync_catalogue", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="No provider named"):
        call_command("sync_catalogue", "nope")


def test_ledger_verify_passes_then_reports_a_tampered_balance(capsys) -> None:
    user = UserFactory(username="tampered")
    wallet_credit(user=user, amount=Decimal("3"), kind=LedgerEntry.Kind.DEPOSIT)
    call_command("ledger_verify")
    assert "OK: 1 wallets" in capsys.readouterr().out

    Wallet.objects.filter(user=user).update(balance=Decimal("4"))
    with pytest.raises(CommandError, match="1 wallet"):
        call_command("ledger_verify")
    assert "tampered): balance 4.0000 but entries sum to 3.0000" in capsys.readouterr().err
