"""Writing an order's history: who did what to it, appended as events in the same transaction as the change itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from shop.orders.models import OrderEvent

Kind = OrderEvent.Kind


@dataclass(frozen=True)
class Actor:
    """Who caused a change: a customer on the web or through the API (with the key's prefix), an admin, or the shop itself."""

    kind: str
    user_id: int | None = None
    key_prefix: str = ""

    @classmethod
    def web(cls, user: AbstractBaseUser) -> Actor:
        return cls(OrderEvent.Actor.CUSTOMER, user.pk)

    @classmethod
    def api(cls, user: AbstractBaseUser, *, key_prefix: str) -> Actor:
        return cls(OrderEvent.Actor.API, user.pk, key_prefix)

    @classmethod
    def admin(cls, user: AbstractBaseUser) -> Actor:
        return cls(OrderEvent.Actor.ADMIN, user.pk)


SYSTEM = Actor(OrderEvent.Actor.SYSTEM)


def event(*, order_id: int, kind: str, actor: Actor = SYSTEM, status: str = "", **detail: Any) -> OrderEvent:
    """An unsaved event; ``detail`` values are kept as JSON (amounts as text, so no precision is lost)."""
    return OrderEvent(
        order_id=order_id,
        kind=kind,
        actor=actor.kind,
        actor_user_id=actor.user_id,
        key_prefix=actor.key_prefix,
        status=status,
        detail=_plain(detail),
    )


def event_record(*, order_id: int, kind: str, actor: Actor = SYSTEM, status: str = "", **detail: Any) -> OrderEvent:
    """Append one event. Call it in the transaction that makes the change it records."""
    entry = event(order_id=order_id, kind=kind, actor=actor, status=status, **detail)
    entry.save(force_insert=True)
    return entry


def event_row(*, order_id: int, kind: str, status: str, now: datetime, **detail: Any) -> dict[str, Any]:
    """One event by the system as plain values (``EVENT_FIELDS``), for bulk inserts: a batch of readings makes thousands."""
    return {
        "order_id": order_id,
        "kind": kind,
        "actor": OrderEvent.Actor.SYSTEM,
        "actor_user_id": None,
        "key_prefix": "",
        "status": status,
        "detail": _plain(detail),
        "created_at": now,
    }


EVENT_FIELDS = ("order_id", "kind", "actor", "actor_user_id", "key_prefix", "status", "detail", "created_at")


def _plain(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {name: str(value) if isinstance(value, Decimal) else value for name, value in detail.items() if value not in (None, "")}
