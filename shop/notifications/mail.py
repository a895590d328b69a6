"""The shop's one way out to the mail server. Everything that sends mail outside Django's own views goes through here.

``mail_send`` raises ``MailError`` when the server refuses, fails or does not answer within
``EMAIL_TIMEOUT`` seconds. Callers are Celery tasks, which retry later, so an order or a payment never waits for mail.
The error names the failure, never the server's credentials.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection


class MailError(Exception):
    """The message was not handed to the mail server."""


def one_line(text: str, limit: int = 150) -> str:
    """``text`` as a mail subject can carry it: one line (a header cannot hold a newline), at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def mail_send(*, to: list[str], subject: str, body: str) -> None:
    try:
        connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
        EmailMessage(one_line(subject), body, settings.DEFAULT_FROM_EMAIL, to, connection=connection).send()
    except (smtplib.SMTPException, OSError) as exc:  # socket.timeout and ConnectionRefusedError are OSErrors
        raise MailError(f"mail to {len(to)} recipient(s) not sent: {type(exc).__name__}") from exc
