"""Queue a notification once the transaction that caused it commits, without ever failing or delaying that transaction.

The services that change orders, payments and tickets call ``notify_later`` in the transaction that makes the
change: nothing is queued if it rolls back, and a broker that is down is logged, never raised.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def notify_later(kind: str, *object_ids: int) -> None:
    """After the commit, one notification task of ``kind`` per id."""
    if object_ids:
        transaction.on_commit(lambda: _enqueue(kind, object_ids), robust=True)


def _enqueue(kind: str, object_ids: tuple[int, ...]) -> None:
    from shop.notifications.tasks import notification_send_task

    for object_id in object_ids:
        try:
            notification_send_task.delay(kind, object_id)
        except Exception as exc:
            logger.warning("notification %s #%s not queued: %s", kind, object_id, type(exc).__name__)
