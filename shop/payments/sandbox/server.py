"""Serve a `SandboxGateway` over real HTTP: its API, the payer's page, and a sweeper that expires overdue payments."""

from __future__ import annotations

import json
import logging
import re
import socket
import socketserver
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .delivery import RETRY_DELAYS, Delivery
from .gateway import Payment, Refused, SandboxGateway
from .page import message_page, payment_page

__all__ = ["SandboxServer"]

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
API_PAYMENT = re.compile(r"/api/payments/(?P<id>[A-Za-z0-9_-]{1,64})")
PAY_PAGE = re.compile(r"/pay/(?P<id>[A-Za-z0-9_-]{1,64})")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every reply carries Content-Length
    server_version = "SandboxPay/1.0"
    sys_version = ""
    timeout = 60
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: the deliveries are what is worth logging."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, verb: str) -> None:
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            self._json(413, {"error": "The body is too large."})
            return
        body = self.rfile.read(int(length)) if int(length) else b""
        path = urlsplit(self.path).path
        gateway = self.server.gateway
        try:
            if path == "/api/payments" and verb == "POST":
                self._create(gateway, body)
            elif (match := API_PAYMENT.fullmatch(path)) and verb == "GET":
                gateway.authenticate(self.headers, body)
                self._json(200, gateway.get(match["id"]).as_dict())
            elif match := PAY_PAGE.fullmatch(path):
                self._page(gateway, verb, match["id"], body)
            else:
                self._json(404, {"error": "Not found."})
        except Refused as refusal:
            self._json(refusal.status, {"error": refusal.message})
        except Exception:
            logger.exception("sandbox payment request failed")
            self._json(500, {"error": "Sandbox failure."})

    def _create(self, gateway: SandboxGateway, body: bytes) -> None:
        gateway.authenticate(self.headers, body)
        try:
            data = json.loads(body, parse_float=Decimal)
        except (ValueError, RecursionError):
            raise Refused(400, "The body is not JSON.") from None
        payment = gateway.create(data)
        self._json(201, {"id": payment.id, "status": payment.status, "pay_url": f"{self.server.base_url}/pay/{payment.id}"})

    def _page(self, gateway: SandboxGateway, verb: str, payment_id: str, body: bytes) -> None:
        try:
            payment = gateway.get(payment_id)
        except Refused:
            self._html(404, message_page("No such payment", "This payment link is not known to the sandbox gateway."))
            return
        if verb == "GET":
            self._html(200, payment_page(payment, now=gateway.now()))
            return
        action = parse_qs(body.decode("utf-8", "replace")).get("action", [""])[-1]
        try:
            gateway.act(payment_id, action)
        except Refused as refusal:  # a second click, or no action: the page as it stands
            self._html(refusal.status, payment_page(payment, now=gateway.now()))
            return
        self._send(303, b"", "text/plain", location=payment.return_url)

    def _json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload, separators=(",", ":")).encode(), "application/json")

    def _html(self, status: int, page: str) -> None:
        self._send(status, page.encode(), "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str, *, location: str = "") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: SandboxGateway) -> None:
        self.gateway = gateway
        self.base_url = ""
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall in a sandboxed network.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class SandboxServer:
    """The sandbox gateway on a real socket: ``SandboxServer(merchant=..., api_key=..., webhook_secret=...).start().url``.

    For tests: `act` pays, declines or expires without a browser, `resend`
    replays the last notification, `advance` moves the gateway's clock, and
    ``deliveries`` lists every notification sent (`wait_for_deliveries`).
    """

    def __init__(
        self,
        *,
        merchant: str,
        api_key: str,
        webhook_secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sweep_interval: float = 1.0,
        public_url: str = "",
    ) -> None:
        """Bind at once (port 0 picks a free port) but serve only after start().

        ``public_url`` is the root the payer's browser reaches the server at, when not ``url`` (e.g. behind 0.0.0.0).
        """
        self.gateway = SandboxGateway(merchant=merchant, api_key=api_key, webhook_secret=webhook_secret, retry_delays=retry_delays)
        server_class = _HTTPServer6 if ":" in host else _HTTPServer
        self._httpd = server_class((host, port), self.gateway)
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._httpd.base_url = public_url.rstrip("/") or self.url
        self._sweep_interval = sweep_interval
        self._threads: list[threading.Thread] = []
        self._serving = threading.Event()
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """The gateway's root, e.g. http://127.0.0.1:8002: a sandbox method's API URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def deliveries(self) -> list[Delivery]:
        """Every notification sent so far, oldest first."""
        return self.gateway.courier.deliveries

    @property
    def payments(self) -> list[Payment]:
        """Every payment created so far, oldest first."""
        return self.gateway.payments()

    def payment(self, payment_id: str) -> Payment:
        """One payment (expired first if its lifetime is over); `Refused` (404) if there is none."""
        return self.gateway.get(payment_id)

    def act(self, payment_id: str, action: str, **options: Any) -> Payment:
        """Pay, decline or expire as the payer would (see `SandboxGateway.act`); returns at once, the notification follows."""
        return self.gateway.act(payment_id, action, **options)

    def resend(self, payment_id: str, *, resign: bool = False) -> Delivery:
        """Deliver the payment's last notification again (a replay)."""
        return self.gateway.resend(payment_id, resign=resign)

    def advance(self, seconds: float) -> None:
        self.gateway.advance(seconds)

    def wait_for_deliveries(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """Wait until ``count`` notifications have been sent and each is delivered or out of tries; returns them all."""
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.deliveries)} of {count} notifications were sent within {timeout} s")
            time.sleep(0.01)
        for delivery in list(self.deliveries):
            delivery.wait(max(0.0, deadline - time.monotonic()))
        return list(self.deliveries)

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called from another."""
        self._serving.set()
        try:
            self._httpd.serve_forever(poll_interval=0.25)
        finally:
            self._serving.clear()

    def start(self) -> SandboxServer:
        """Serve and sweep in daemon threads; return self."""
        if not self._threads:
            for target, name in ((self.serve_forever, "sandbox-pay"), (self._sweep, "sandbox-pay-sweeper")):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)
            self._serving.wait(5)
        return self

    def stop(self) -> None:
        """Stop serving and sweeping, give up pending retries, close the socket."""
        self._stopping.set()
        self.gateway.courier.stop()
        if self._serving.is_set():
            closer = threading.Thread(target=self._httpd.shutdown, daemon=True)
            closer.start()
            while closer.is_alive():
                self._wake()
                closer.join(0.01)
        for thread in self._threads:
            thread.join(5)
        self._threads = []
        self._httpd.server_close()

    def _sweep(self) -> None:
        while not self._stopping.wait(self._sweep_interval):
            try:
                self.gateway.expire_due()
            except Exception:  # keep sweeping: one bad round must not end expiry for good
                logger.exception("sandbox payment sweep failed")

    def _wake(self) -> None:
        # A throwaway connection ends the serving loop's select() at once instead of after the poll interval.
        wildcards = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - connecting, not binding
        try:
            socket.create_connection((wildcards.get(self.host, self.host), self.port), timeout=0.2).close()
        except OSError:
            pass

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
