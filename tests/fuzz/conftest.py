"""Fixtures for the fuzz tests: one offered service of every supported type, a customer with money, and the books to compare."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.cache import cache
from django.db import transaction
from django.db.models import Sum

from shop.models import LedgerEntry, Order, Service, Wallet
from shop.orders.types import TYPES
from shop.wallet.services import wallet_credit
from tests.factories import CategoryFactory, ProviderServiceFactory, ServiceFactory, UserFactory

# Fixed retail rates per 1000, from far below a cent per order to hundreds: each type gets one.
RATES = (
    Decimal("1.25"),
    Decimal("0.000001"),
    Decimal("3.5"),
    Decimal("900"),
    Decimal("0.333333"),
    Decimal("12"),
    Decimal("0.9"),
)
START_BALANCE = Decimal("500.0000")


@pytest.fixture
def offers(provider) -> dict[str, Service]:
    """One enabled, orderable service per type of ``order_types.TYPES`` (the Default one with drip-feed), on the sandbox provider."""
    category = CategoryFactory(name="Fuzz")
    services: dict[str, Service] = {}
    for index, type_name in enumerate(TYPES):
        package = TYPES[type_name].package
        upstream = ProviderServiceFactory(
            provider=provider,
            type=type_name,
            min_quantity=1 if package else 10,
            max_quantity=1 if package else 100_000,
            dripfeed=type_name == "Default",
        )
        services[type_name] = ServiceFactory(provider_service=upstream, category=category, fixed_rate=RATES[index % len(RATES)])
    return services


@pytest.fixture
def shopper(db):
    user = UserFactory(username="fuzz-shopper")
    wallet_credit(user=user, amount=START_BALANCE, kind=LedgerEntry.Kind.DEPOSIT)
    return user


@contextmanager
def rolled_back() -> Iterator[None]:
    """One hypothesis example: its writes are undone afterwards and rate-limit counters start at zero."""
    cache.clear()
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@dataclass(frozen=True)
class Books:
    """What a request could change: every order, every ledger entry, and one customer's balance."""

    orders: int
    entries: int
    balance: Decimal
    entries_total: Decimal

    @classmethod
    def of(cls, user) -> Books:
        wallet = Wallet.objects.get(user=user)
        total = LedgerEntry.objects.filter(wallet=wallet).aggregate(total=Sum("amount"))["total"] or Decimal("0")
        return cls(Order.objects.count(), LedgerEntry.objects.count(), wallet.balance, total)

    def assert_consistent(self) -> None:
        assert self.balance == self.entries_total, f"balance {self.balance} != ledger total {self.entries_total}"
        assert self.balance >= 0


def expected_charge(service: Service, total_quantity: int) -> Decimal:
    """The charge worked out by hand from the README.

    rate x quantity / 1000 (a package: the rate), rounded half-up to 4 places, at least 0.0001.
    """
    rate = service.fixed_rate
    exact = rate if TYPES[service.provider_service.type].package else rate * total_quantity / 1000
    return max(exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), Decimal("0.0001"))


def assert_placed_correctly(order: Order, service: Service, before: Books, after: Books) -> None:
    """One order, one charge: positive, exactly the service's price, and the balance down by it."""
    assert after.orders == before.orders + 1 and after.entries == before.entries + 1
    assert order.service_id == service.pk
    assert order.charge > 0
    spec = TYPES[service.provider_service.type]
    # A package's rate is its price, rounded as it is charged (``pricing.customer_rate``).
    assert order.rate == (expected_charge(service, 1) if spec.package else service.fixed_rate)
    assert order.charge == expected_charge(service, order.total_quantity)
    (entry,) = LedgerEntry.objects.filter(order=order)
    assert entry.kind == LedgerEntry.Kind.ORDER_CHARGE and entry.amount == -order.charge
    assert after.balance == before.balance - order.charge
    after.assert_consistent()
    upstream = service.provider_service
    if not spec.package:
        assert upstream.min_quantity <= order.quantity <= upstream.max_quantity
    if spec.quantity_from:
        assert order.quantity == len(order.extra[spec.quantity_from].split("\n"))
    if spec.needs_link:
        assert_clean_link(order.link)
    for value in order.extra.values():
        assert_no_controls(str(value).replace("\n", ""))


def assert_clean_link(link: str) -> None:
    assert link.lower().startswith(("http://", "https://")), link
    assert len(link) <= 2000
    assert not any(char.isspace() for char in link), link
    assert_no_controls(link)


def assert_no_controls(text: str) -> None:
    # A tab inside a line is text; every other C0 and C1 control is not.
    bad = [char for char in text if (ord(char) < 0x20 and char != "\t") or 0x7F <= ord(char) <= 0x9F]
    assert not bad, f"control characters {bad!r} accepted in {text[:80]!r}"


def assert_nothing_written(before: Books, after: Books) -> None:
    assert after == before, f"a rejected request changed the books: {before} -> {after}"
