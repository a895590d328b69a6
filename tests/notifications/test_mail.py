"""The mail choke point over real SMTP on loopback: a message read back from the server, and a server that fails or hangs."""

from __future__ import annotations

import socket

import pytest

from shop.notifications.mail import MailError, mail_send, one_line


def test_a_mail_reaches_a_real_smtp_server_as_sent(smtp_server, settings) -> None:
    mail_send(to=["buyer@example.com"], subject="Order #7 ended Partial:\n 2.50 USD refunded", body="Hello,\nyour order ended.")
    (message,) = smtp_server.messages
    assert message["To"] == "buyer@example.com" and message["From"] == settings.DEFAULT_FROM_EMAIL
    assert message["Subject"] == "Order #7 ended Partial: 2.50 USD refunded"  # one line: a newline cannot inject a header
    assert message.get_content().replace("\r\n", "\n").strip() == "Hello,\nyour order ended."


def test_a_server_that_never_answers_is_given_up_on_with_a_mail_error(silent_smtp_server) -> None:
    with pytest.raises(MailError, match=r"not sent: (TimeoutError|timeout|SMTPServerDisconnected)"):
        mail_send(to=["buyer@example.com"], subject="s", body="b")


def test_a_server_that_is_not_there_is_a_mail_error(settings) -> None:
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_HOST_PASSWORD = "127.0.0.1", port, "smtp-secret-never-shown"
    with pytest.raises(MailError) as failed:
        mail_send(to=["buyer@example.com"], subject="s", body="b")
    assert "ConnectionRefusedError" in str(failed.value) and "smtp-secret" not in str(failed.value)


def test_a_subject_is_one_line_of_at_most_150_characters() -> None:
    assert one_line("a\r\nb\tc") == "a b c"
    assert one_line("x" * 150) == "x" * 150
    assert one_line("x" * 151) == "x" * 149 + "…"
