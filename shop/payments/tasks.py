"""Celery tasks of payments: ask gateways, server to server, about top-ups still pending.

Task arguments are ids only (never credentials). Each check is claimed first
with a compare-and-set on ``TopUp.checked_at``, so many status polls, or two
overlapping periodic runs, ask the gateway once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from shop.payments.crediting import Outcome, topup_check, topup_expire
from shop.payments.interface import GatewayError, GatewayUnavailable
from shop.payments.models import TopUp, TopUpState

logger = logging.getLogger(__name__)

# A customer's page asks for a check at most this often per top-up.
CHECK_ON_VIEW_EVERY = timedelta(seconds=15)
# The periodic run leaves alone what is younger (the customer is likely still paying) or was checked more recently.
PERIODIC_MIN_AGE = timedelta(minutes=2)
PERIODIC_CHECK_EVERY = timedelta(seconds=60)
PERIODIC_BATCH = 100


def topup_check_claim(*, topup_id: int, every: timedelta) -> bool:
    """Mark a pending top-up as being checked now, unless it was within ``every``; True when this caller won the claim."""
    now = timezone.now()
    stale = Q(checked_at__isnull=True) | Q(checked_at__lt=now - every)
    return bool(TopUp.objects.filter(stale, pk=topup_id, state=TopUpState.PENDING).update(checked_at=now))


def topup_check_soon(*, topup_id: int) -> bool:
    """Queue a server-side check of a pending top-up, at most once per ``CHECK_ON_VIEW_EVERY``; True when one was queued."""
    if not topup_check_claim(topup_id=topup_id, every=CHECK_ON_VIEW_EVERY):
        return False

    def queue_topup_check() -> None:
        topup_check_task.delay(topup_id)

    # robust: a broker that is down costs this check (the periodic run makes up for it), not the customer's page.
    transaction.on_commit(queue_topup_check, robust=True)
    return True


def _check(topup: TopUp) -> Outcome:
    """Ask the gateway; a top-up it still calls pending after ``TOPUP_LIFETIME`` is closed as expired. Raises ``GatewayError``."""
    outcome = topup_check(topup=topup)
    past_lifetime = topup.created_at <= timezone.now() - timedelta(seconds=settings.TOPUP_LIFETIME)
    if past_lifetime and TopUp.objects.filter(pk=topup.pk, state=TopUpState.PENDING).exists():
        return topup_expire(topup=topup)
    return outcome


@shared_task(name="shop.tasks.topup_check_task")
def topup_check_task(topup_id: int) -> str:
    """One top-up's state fetched from its gateway, as a customer's page asked. An unreachable gateway is left to the periodic run."""
    topup = TopUp.objects.select_related("method").filter(pk=topup_id).first()
    if topup is None or topup.state != TopUpState.PENDING:
        return "not pending"
    try:
        return _check(topup).value
    except GatewayUnavailable as exc:
        logger.warning("top-up %s: gateway %s unavailable, the periodic check tries again: %s", topup.pk, topup.method.code, exc)
        return "unavailable"
    except GatewayError as exc:
        logger.error("top-up %s: gateway %s refused the status fetch: %s", topup.pk, topup.method.code, exc)
        return "error"


@shared_task(name="shop.tasks.topups_check_pending")
def topups_check_pending() -> str:
    """Periodic: pending top-ups older than 2 minutes and not checked for a minute, up to 100, asked about; expired when due.

    A gateway that does not answer is skipped for the rest of the run, so one
    that is down costs one timeout per run, not one per top-up.
    """
    now = timezone.now()
    due = (
        TopUp.objects.filter(state=TopUpState.PENDING, created_at__lt=now - PERIODIC_MIN_AGE)
        .filter(Q(checked_at__isnull=True) | Q(checked_at__lt=now - PERIODIC_CHECK_EVERY))
        .select_related("method")
        .order_by(F("checked_at").asc(nulls_first=True), "id")[:PERIODIC_BATCH]
    )
    down: set[int] = set()
    counts: dict[str, int] = {}
    for topup in due:
        if topup.method_id in down or not topup_check_claim(topup_id=topup.pk, every=PERIODIC_CHECK_EVERY):
            continue
        try:
            outcome = _check(topup).value
        except GatewayError as exc:
            if isinstance(exc, GatewayUnavailable):
                down.add(topup.method_id)
            logger.warning("top-up %s: status fetch from %s failed: %s", topup.pk, topup.method.code, exc)
            outcome = "error"
        counts[outcome] = counts.get(outcome, 0) + 1
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items())) or "none due"
