"""Figures as people read them on the services and balance pages: rates without trailing zeros, packages at their flat
price, balances with no more places than they need (the exact figures stay in the database and the API)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from shop.models import LedgerEntry
from shop.wallet.services import wallet_credit
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_services_show_rates_per_1000_and_packages_at_their_flat_price(client) -> None:
    ServiceFactory(name="Followers", provider_service__rate=Decimal("10.4"), markup_percent=Decimal("0"))
    ServiceFactory(name="Starter pack", provider_service__type="Package", provider_service__rate=Decimal("25"), markup_percent=Decimal("0"))
    html = client.get(reverse("services")).content.decode()
    assert '<td class="num">10.4 USD per 1000</td>' in html
    assert '<td class="num">25.00 USD</td>' in html
    assert "10.400000" not in html and "25.000000" not in html and "25 USD per 1000" not in html


def test_the_balance_page_shows_money_with_the_places_it_needs(web, customer) -> None:
    wallet_credit(user=customer, amount=Decimal("1150.0045"), kind=LedgerEntry.Kind.DEPOSIT)
    html = web.get(reverse("balance")).content.decode()
    assert '<p class="balance"><span class="money">1,250.0045 USD</span></p>' in html
    assert ">+1,150.0045<" in html and ">+100.00<" in html
