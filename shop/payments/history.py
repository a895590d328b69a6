"""A top-up's history: who or what changed it (the actor) and the outcome of each report, appended as events."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from shop.payments.models import TopUp, TopUpEvent
from shop.wallet.services import CONTROL_CHARS

Kind = TopUpEvent.Kind
ActorKind = TopUpEvent.Actor


@dataclass(frozen=True)
class Actor:
    kind: str
    user_id: int | None = None

    @classmethod
    def staff(cls, user: AbstractBaseUser) -> Actor:
        return cls(ActorKind.STAFF, user.pk)

    @classmethod
    def customer(cls, user: AbstractBaseUser) -> Actor:
        return cls(ActorKind.CUSTOMER, user.pk)


GATEWAY = Actor(ActorKind.GATEWAY)
CHECK = Actor(ActorKind.CHECK)
SYSTEM = Actor(ActorKind.SYSTEM)


class Outcome(enum.StrEnum):
    """What a report or a staff action did; every outcome but UNKNOWN is recorded in the top-up's history."""

    CREDITED = "credited"
    CLOSED = "closed"  # failed, expired, rejected, or an owed reversal written off
    REVIEW = "review"  # put up for staff: nothing credited
    REVERSED = "reversed"  # a refund or dispute recorded (and taken, or owed, once the top-up is paid)
    UNCHANGED = "unchanged"  # a duplicate, a late or a still-pending report
    UNKNOWN = "unknown"  # no top-up of this method matches it


class TopUpRefused(Exception):
    """A top-up change that is not allowed; the message is for the customer or the staff member, and nothing was written."""


def staff_reason(reason: str, *, action: str) -> str:
    """A staff member's reason, as the customer or the history will show it: 1 to 500 characters of plain text, trimmed."""
    reason = reason.strip()
    if not reason or len(reason) > 500 or CONTROL_CHARS.search(reason):
        raise TopUpRefused(f"{action} needs a reason of 1 to 500 characters of plain text.")
    return reason


def event_record(topup: TopUp, kind: str, actor: Actor, detail: dict[str, Any]) -> TopUpEvent:
    """Append one event with the top-up's state after it. Call it in the transaction that makes the change it records."""
    return TopUpEvent.objects.create(
        topup=topup,
        kind=kind,
        actor=actor.kind,
        actor_user_id=actor.user_id,
        state=topup.state,
        detail={key: str(value) if isinstance(value, Decimal) else value for key, value in detail.items()},
    )
