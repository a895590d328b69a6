"""Serve a `SandboxPanel` over real HTTP, playing queued faults on the wire."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .faults import Fault
from .panel import SandboxPanel

__all__ = ["SandboxServer"]

logger = logging.getLogger(__name__)

API_PATHS = frozenset({"/api/v2", "/api"})
MAX_BODY = 10 * 1024 * 1024
CHUNK = 64 * 1024
# The JSON a proxy cut off mid-reply, when there is no real reply to cut.
TRUNCATED = b'{"order": 23'
# Repeated to fill a "huge" reply: a services list that never closes.
_HUGE_UNIT = b'{"service":1,"name":"Followers","type":"Default","rate":"0.90"},'
_HUGE_BLOCK = (_HUGE_UNIT * (CHUNK // len(_HUGE_UNIT) + 1))[:CHUNK]

_ERROR_500 = b"""<!DOCTYPE html>
<html><head><title>500 Internal Server Error</title></head>
<body><h1>Internal Server Error</h1>
<p>The server encountered an internal error and was unable to complete your request.</p>
</body></html>
"""

_CLOUDFLARE = """<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8">
<title>sandbox.panel | {status}: {phrase}</title>
<meta name="robots" content="noindex, nofollow"></head>
<body><div id="cf-wrapper"><div id="cf-error-details" class="cf-error-details-wrapper">
<h1><span class="cf-error-type">Error</span> <span class="cf-error-code">{status}</span></h1>
<h2 class="cf-subheadline">{phrase}</h2>
<p>The origin web server did not answer properly. Please try again in a few minutes.</p>
<div class="cf-error-footer"><span>Cloudflare Ray ID: <strong>8f3a2c9d1e4b7a60</strong></span>
<span>Performance &amp; security by Cloudflare</span></div>
</div></div></body></html>
"""


def _as_param(name: str, value: object) -> str | None:
    """Turn one JSON body value into the string a form field would carry."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        # Id lists are comma separated; comments, usernames, groups one per line.
        sep = "," if name in ("orders", "refills") else "\n"
        return sep.join(str(item) for item in value)
    return str(value)


def parse_params(query: str, body: bytes, content_type: str) -> dict[str, str]:
    """Merge query-string and body parameters (form or JSON object; body wins)."""
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    text = body.decode("utf-8", errors="replace")
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json" or (ctype != "application/x-www-form-urlencoded" and text.lstrip().startswith("{")):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for name, value in data.items():
                param = _as_param(str(name), value)
                if param is not None:
                    params[str(name)] = param
    elif text:
        params.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
    return params


def _encode(reply: object) -> bytes:
    if isinstance(reply, bytes):
        return reply
    return json.dumps(reply, separators=(",", ":")).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every reply carries Content-Length
    server_version = "SandboxPanel/1.0"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection frees its thread eventually
    server: _HTTPServer

    def setup(self) -> None:
        """Disable Nagle: headers and body go out in separate writes, and with
        delayed ACKs on the client each reply would otherwise stall ~40 ms."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        """Name the server without the Python version."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: request lines of GET calls would carry the API key."""

    def do_GET(self) -> None:
        """Answer a GET (query-string API call or control endpoint)."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Answer a POST (form or JSON API call, or control endpoint)."""
        self._dispatch("POST")

    # -- routing --------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        if body is None:
            return
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        try:
            if path in API_PATHS:
                params = parse_params(split.query, body, self.headers.get("Content-Type", ""))
                self._api(params)
            elif path.startswith("/_sandbox/"):
                self._control(method, path, body)
            else:
                self._send_json(404, {"error": "Not found"})
        except Exception:
            # The traceback never holds the parameters, so the key stays out of logs.
            logger.exception("sandbox request failed")
            self._send_json(500, {"error": "Sandbox failure"})

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._send_json(413, {"error": "Incorrect request"})
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                self._send_json(413, {"error": "Incorrect request"})
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    # -- the API and its faults ----------------------------------------------

    def _api(self, params: dict[str, str]) -> None:
        panel = self.server.panel
        action = params.get("action") or ""
        fault = panel.next_fault(action)
        if fault is None:
            self._send_reply(*panel.handle(params))
            return
        reply: tuple[int, object] | None = None
        if fault.processes:
            reply = panel.handle(params)
        elif fault.kind != "slow":
            panel.note_call(action)
        self._play(fault, params, reply)

    def _play(self, fault: Fault, params: dict[str, str], reply: tuple[int, object] | None) -> None:
        kind = fault.kind
        if kind == "slow":
            time.sleep(fault.delay)
            # Unprocessed slow calls reach the panel after the delay instead.
            self._send_reply(*(reply or self.server.panel.handle(params)))
        elif kind == "error500":
            self._send(500, _ERROR_500, "text/html; charset=utf-8")
        elif kind == "html":
            phrase = _phrase(fault.status)
            page = _CLOUDFLARE.format(status=fault.status, phrase=phrase).encode()
            self._send(fault.status, page, "text/html; charset=UTF-8")
        elif kind == "malformed":
            # Cut the closing bytes off: what a proxy timing out mid-body leaves.
            body = TRUNCATED
            if reply:
                full = _encode(reply[1])
                body = full[: max(1, len(full) - 3)]
            self._send(200, body, "application/json")
        elif kind == "drop":
            self._drop()
        elif kind == "huge":
            self._stream_huge(fault.size)
        elif kind == "reply":
            body = fault.body.encode() if isinstance(fault.body, str) else _encode(fault.body)
            self._send(200, body, "application/json")

    def _drop(self) -> None:
        self.close_connection = True
        try:
            # Shut down without a byte written: the client sees the peer vanish.
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _stream_huge(self, size: int) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(b"[")
            left = size - 1
            while left > 0:
                piece = _HUGE_BLOCK[: min(left, CHUNK)]
                self.wfile.write(piece)
                left -= len(piece)
        except OSError:
            self.close_connection = True  # the client gave up reading, as it should

    # -- control endpoints ----------------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> None:
        panel = self.server.panel
        if path == "/_sandbox/stats":
            self._send_json(200, panel.stats())
            return
        if method != "POST":
            self._send_json(405, {"error": "Use POST"})
            return
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            if path == "/_sandbox/faults":
                panel.add_fault(Fault.from_dict(data))
            elif path == "/_sandbox/faults/clear":
                panel.clear_faults()
            elif path == "/_sandbox/advance":
                panel.advance(float(data["seconds"]))
            else:
                self._send_json(404, {"error": "Not found"})
                return
        except (ValueError, TypeError, KeyError) as exc:
            self._send_json(400, {"error": f"Bad control request: {exc}"})
            return
        self._send_json(200, {"ok": True})

    # -- writing --------------------------------------------------------------

    def _send_reply(self, status: int, reply: object) -> None:
        self._send(status, _encode(reply), "application/json")

    def _send_json(self, status: int, payload: object) -> None:
        self._send(status, _encode(payload), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True  # the client left (e.g. timed out)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], panel: SandboxPanel) -> None:
        self.panel = panel
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), which can
        # stall for seconds in a sandboxed network; the name is never used.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class SandboxServer:
    """A `SandboxPanel` on a real socket: `SandboxServer(panel).start().url`."""

    def __init__(self, panel: SandboxPanel, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind at once (port 0 picks a free port) but serve only after start()."""
        self.panel = panel
        server_class = _HTTPServer6 if ":" in host else _HTTPServer
        self._httpd = server_class((host, port), panel)
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    @property
    def base_url(self) -> str:
        """The server root, e.g. http://127.0.0.1:8001."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The API endpoint, e.g. http://127.0.0.1:8001/api/v2."""
        return f"{self.base_url}/api/v2"

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called from another."""
        self._serving.set()
        try:
            self._httpd.serve_forever(poll_interval=0.25)
        finally:
            self._serving.clear()

    def start(self) -> SandboxServer:
        """Serve in a daemon thread and return self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, name="sandbox-panel", daemon=True)
            self._thread.start()
            self._serving.wait(5)
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        # shutdown() waits for serve_forever to notice, so only call it when
        # something is serving; otherwise it would block forever.
        if self._serving.is_set():
            closer = threading.Thread(target=self._httpd.shutdown, daemon=True)
            closer.start()
            while closer.is_alive():
                self._wake()
                closer.join(0.01)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self._httpd.server_close()

    def _wake(self) -> None:
        # A throwaway connection ends the serving loop's select() at once
        # instead of after the poll interval: tests start and stop many servers.
        wildcards = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - connecting, not binding
        host = wildcards.get(self.host, self.host)
        try:
            socket.create_connection((host, self.port), timeout=0.2).close()
        except OSError:
            pass

    def __enter__(self) -> SandboxServer:
        """Start serving for a `with` block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop serving at the end of a `with` block."""
        self.stop()
