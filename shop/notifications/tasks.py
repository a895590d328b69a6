"""The notification task: one mail, by kind and object id (never an address or any other data in its arguments).

A mail server that refuses, fails or hangs (``EMAIL_TIMEOUT``) makes the task retry with back-off, at most
``MAIL_MAX_RETRIES`` times; the order or payment it is about committed before it was queued.
"""

from __future__ import annotations

import logging

from celery import shared_task

from shop.notifications.mail import MailError
from shop.notifications.services import notification_send

logger = logging.getLogger(__name__)
MAIL_MAX_RETRIES = 6


@shared_task(bind=True, max_retries=MAIL_MAX_RETRIES, name="shop.notifications.tasks.notification_send_task")
def notification_send_task(self, kind: str, object_id: int) -> bool:
    try:
        return notification_send(kind=kind, object_id=object_id)
    except MailError as exc:
        logger.warning("notification %s #%s not sent (try %s): %s", kind, object_id, self.request.retries + 1, exc)
        if self.request.retries >= MAIL_MAX_RETRIES:
            return False
        raise self.retry(countdown=min(60 * 2**self.request.retries, 3600)) from exc
