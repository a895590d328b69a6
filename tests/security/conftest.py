"""Fixtures for the security checks: two customers, A with orders in every requestable state, and a URLconf walk."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from shop.models import LedgerEntry, Order, OrderStatus, Refill
from shop.orders.placement import order_place
from shop.orders.requests import order_refill
from shop.orders.submission import order_submit
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory
from tests.helpers import order_finish

LINK = "https://instagram.com/p/abc"


@dataclass(frozen=True)
class Route:
    """One URL pattern of the site, with the full route and the view it calls."""

    route: str
    name: str | None
    view: object
    defaults: tuple[tuple[str, str], ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")

    @property
    def params(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.route)

    def url(self, **values: object) -> str:
        """The route with each parameter replaced by ``values[name]`` (else a value its pattern matches, else 1)."""
        values = {**dict(self.defaults), **values}
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda match: str(values.get(match.group(1), 1)), self.route)


def site_routes() -> list[Route]:
    """Every URL pattern of the site, walking included URLconfs (the admin's among them)."""
    routes: list[Route] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                route, defaults = _as_route(prefix + str(pattern.pattern))
                routes.append(Route(route, pattern.name, pattern.callback, defaults))

    walk(get_resolver().url_patterns, "")
    return routes


def _as_route(pattern: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A regex pattern written as a route: each named group becomes ``<name>``, valued by its first alternative."""
    defaults: list[tuple[str, str]] = []

    def group(match: re.Match[str]) -> str:
        first = match.group(2).split("|")[0]
        defaults.append((match.group(1), first if re.fullmatch(r"\w+", first) else "x"))
        return f"<{match.group(1)}>"

    route = re.sub(r"\(\?P<(\w+)>([^)]*)\)", group, pattern).replace("^", "").replace("$", "")
    assert "(" not in route, f"cannot write {pattern!r} as a route"
    return route, tuple(defaults)


def database_snapshot() -> dict[str, list[tuple]]:
    """Every row of every model (sessions and login attempts aside): what "writes nothing" compares."""
    skip = {"sessions", "axes"}
    snapshot: dict[str, list[tuple]] = {}
    for model in apps.get_models():
        if model._meta.app_label in skip or model._meta.proxy:
            continue
        columns = [field.column for field in model._meta.concrete_fields]
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(connection.ops.quote_name(c) for c in columns)} FROM {model._meta.db_table} ORDER BY 1")  # noqa: S608
            snapshot[model._meta.label] = [tuple(map(str, row)) for row in cursor.fetchall()]
    return snapshot


@dataclass
class OrdersOfA:
    awaiting: Order
    running: Order
    completed: Order
    refill: Refill

    @property
    def all(self) -> list[Order]:
        return [self.awaiting, self.running, self.completed]


@pytest.fixture
def shopper_b(db):
    user = UserFactory(username="shopper-b")
    wallet_credit(user=user, amount=Decimal("50"), kind=LedgerEntry.Kind.DEPOSIT)
    return user


@pytest.fixture
def orders_of_a(catalogue, customer, sandbox) -> OrdersOfA:
    """Customer A's orders: one not sent yet, one running that A could cancel, one completed that A could refill."""
    service = catalogue["1"]  # offers refills and cancellations
    awaiting = order_place(user=customer, service=service, link=LINK, quantity=1000)
    running = order_place(user=customer, service=service, link=LINK, quantity=1000)
    completed = order_place(user=customer, service=service, link=LINK, quantity=1000)
    order_submit(order_id=running.pk)
    order_submit(order_id=completed.pk)
    order_finish(order_id=completed.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    sandbox.panel.advance(10_000)
    completed.refresh_from_db()
    refill = order_refill(order=completed)
    for order in (awaiting, running, completed):
        order.refresh_from_db()
    assert (awaiting.status, running.status, completed.status) == (OrderStatus.AWAITING, OrderStatus.PENDING, OrderStatus.COMPLETED)
    return OrdersOfA(awaiting, running, completed, refill)


@pytest.fixture
def upstream_calls(sandbox) -> Callable[[], int]:
    """How many calls the sandbox has answered so far."""
    return lambda: sum(sandbox.panel.calls.values())
