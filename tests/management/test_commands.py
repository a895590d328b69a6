"""Management commands: demo data, catalogue sync with progress, the ledger check."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from shop.models import LedgerEntry, Provider, ProviderService, Wallet
from shop.wallet.services import wallet_credit
from tests.conftest import SANDBOX_KEY
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox_settings(settings, sandbox):
    settings.SANDBOX_PORT = sandbox.port
    settings.SANDBOX_API_KEY = SANDBOX_KEY
    return settings


def test_demo_setup_twice_is_safe(sandbox_settings, sandbox) -> None:
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
    assert SANDBOX_KEY not in first.getvalue() + second.getvalue()


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
