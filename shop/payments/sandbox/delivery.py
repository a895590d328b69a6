"""Notifications on their way to the shop: each from its own thread, tried again on a non-2xx answer or a broken connection."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPSConnection
from urllib.parse import urlsplit

__all__ = ["RETRY_DELAYS", "Courier", "Delivery"]

logger = logging.getLogger(__name__)

# Seconds between tries: five tries in all, as a real gateway retries (over hours, not seconds).
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
TIMEOUT = 5.0
MAX_REPLY = 64 * 1024


@dataclass(eq=False)
class Delivery:
    """One notification and what became of it: ``attempts`` holds "HTTP 200", "HTTP 503" or an error's name per try."""

    event_id: str
    payment_id: str
    url: str
    body: bytes
    headers: dict[str, str]
    attempts: list[str] = field(default_factory=list)
    delivered: bool = False
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished(self) -> bool:
        """Delivered, or out of tries."""
        return self._done.is_set()

    def wait(self, timeout: float = 10.0) -> Delivery:
        """Block until delivered or out of tries; raise ``TimeoutError`` after ``timeout`` seconds."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"the notification {self.event_id} was still being delivered after {timeout} s")
        return self


class Courier:
    """Sends each `Delivery` from a daemon thread, so the payer's redirect never waits for the shop."""

    def __init__(self, retry_delays: Sequence[float] = RETRY_DELAYS, timeout: float = TIMEOUT) -> None:
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def send(self, delivery: Delivery) -> Delivery:
        with self._lock:
            self.deliveries.append(delivery)
        threading.Thread(target=self._run, args=(delivery,), name=f"notify-{delivery.event_id}", daemon=True).start()
        return delivery

    def stop(self) -> None:
        """Give up the retries still waiting (a try under way ends on its own timeout)."""
        self._stopping.set()

    def _run(self, delivery: Delivery) -> None:
        try:
            for delay in (*self.retry_delays, None):
                outcome = self._try(delivery)
                delivery.attempts.append(outcome)
                if delivery.delivered or delay is None or self._stopping.wait(delay):
                    break
            level = logging.INFO if delivery.delivered else logging.WARNING
            logger.log(level, "notification %s of %s to %s: %s", delivery.event_id, delivery.payment_id, delivery.url, outcome)
        finally:
            delivery._done.set()

    def _try(self, delivery: Delivery) -> str:
        try:
            status = _post(delivery.url, delivery.body, delivery.headers, self.timeout)
        except (OSError, ValueError) as exc:  # refused, reset, timed out, or an unusable URL
            return type(exc).__name__
        if 200 <= status < 300:
            delivery.delivered = True
        return f"HTTP {status}"


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST without following redirects: a notification goes to the URL the shop gave, or nowhere."""
    parts = urlsplit(url)
    connection_class = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers={**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read(MAX_REPLY)
        return response.status
    finally:
        connection.close()
