"""Fixtures shared by the payment tests: the sandbox gateway on loopback, a method row pointing at it, and a
stand-in for the shop's notification endpoint that records what a gateway sends."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import settings

from shop.payments.models import PaymentMethod
from shop.payments.sandbox import SandboxServer

PAY_MERCHANT = "test-shop"
PAY_API_KEY = "pay-test-key-5d1e9a37c2"
PAY_WEBHOOK_SECRET = "pay-test-whsec-8b4f60e1d9"
# Five tries in a fraction of a second, so retry tests stay fast.
QUICK_RETRIES = (0.02, 0.02, 0.02, 0.02)


@pytest.fixture
def pay_sandbox() -> Iterator[SandboxServer]:
    """The sandbox payment gateway for merchant ``PAY_MERCHANT``, served over real HTTP on a free loopback port."""
    server = SandboxServer(merchant=PAY_MERCHANT, api_key=PAY_API_KEY, webhook_secret=PAY_WEBHOOK_SECRET, retry_delays=QUICK_RETRIES)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox_method(db, pay_sandbox: SandboxServer) -> PaymentMethod:
    """An enabled sandbox method with ``pay_sandbox``'s URL and credentials."""
    return PaymentMethod.objects.create(
        code="sandbox",
        kind=PaymentMethod.Kind.SANDBOX,
        name="Sandbox (test payments)",
        is_enabled=True,
        currency=settings.SHOP_CURRENCY,
        api_url=pay_sandbox.url,
        merchant_id=PAY_MERCHANT,
        api_key=PAY_API_KEY,
        webhook_secret=PAY_WEBHOOK_SECRET,
    )


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # Skip HTTPServer's reverse DNS lookup of the address, which can stall without a network.
        socketserver.TCPServer.server_bind(self)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """Records every POST and answers with the next of ``statuses`` (200 once they run out), after ``delay`` seconds."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/payments/notify/sandbox/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` requests, once they have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.received)} of {count} notifications arrived within {timeout} s")
            time.sleep(0.01)
        return self.received[:count]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A loopback HTTP endpoint standing in for the shop's notification URL."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()
