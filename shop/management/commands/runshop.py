"""manage.py runshop: the whole shop in one foreground command (what ``make run`` starts).

Starts the sandbox panel and the sandbox payment gateway, waits for them,
loads the demo data, then the web server, a Celery worker and Celery beat.
Output is prefixed by process name. Ctrl-C (or any process dying) stops them all.
The address it prints, with the demo logins, is the one ``--addr`` gives the web server.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.commands.runserver import naiveip_re

DEFAULT_ADDR = "127.0.0.1:8000"


def site_url(addr: str) -> str:
    """The web server's root URL for ``--addr`` as runserver reads it ("8080", "0.0.0.0:8080", "[::1]:8080", "localhost:8080").

    A port alone is served on 127.0.0.1, as runserver does. Raises ``CommandError`` for what runserver would refuse.
    """
    match = re.match(naiveip_re, addr)
    if match is None:
        raise CommandError(f"--addr {addr!r} is not a port number or an address:port pair (e.g. 127.0.0.1:8000).")
    return f"http://{match['addr'] or '127.0.0.1'}:{match['port']}"


class Command(BaseCommand):
    help = "Run the sandbox panel, the sandbox payment gateway, the web server, a Celery worker and beat together (Ctrl-C stops all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default=DEFAULT_ADDR, help="Address of the web server: a port, or address:port.")
        parser.add_argument("--no-demo", action="store_true", help="Skip loading the demo data.")

    def handle(self, *args: Any, addr: str, no_demo: bool, **options: Any) -> None:
        url = site_url(addr)  # before anything starts: a mistyped address stops here
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = threading.Event()
        # Explicit handlers: a shell that starts this in the background ignores
        # SIGINT for it, and then Ctrl-C would never become KeyboardInterrupt.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stopping.set())
        python = sys.executable
        state = Path(settings.VAR_DIR) / "sandbox-state.jsonl"
        try:
            self._start(
                "sandbox",
                [
                    python,
                    "-m",
                    "panelapi.sandbox",
                    "--host",
                    settings.SANDBOX_HOST,
                    "--port",
                    str(settings.SANDBOX_PORT),
                    "--seed",
                    str(settings.SANDBOX_SEED),
                    "--stage-seconds",
                    str(settings.SANDBOX_STAGE_SECONDS),
                    "--state",
                    str(state),
                ],
                env={"SANDBOX_API_KEY": settings.SANDBOX_API_KEY},
            )
            self._wait_for_port("sandbox panel", settings.SANDBOX_HOST, settings.SANDBOX_PORT)
            if not settings.PRODUCTION:  # test payments only: production settings refuse the sandbox gateway
                self._start(
                    "paygate",
                    [
                        python,
                        "-m",
                        "shop.payments.sandbox",
                        "--host",
                        settings.PAY_SANDBOX_HOST,
                        "--port",
                        str(settings.PAY_SANDBOX_PORT),
                        "--merchant",
                        settings.PAY_SANDBOX_MERCHANT,
                    ],
                    # Secrets by environment: a command line is readable by every user of the machine.
                    env={
                        "PAY_SANDBOX_API_KEY": settings.PAY_SANDBOX_API_KEY,
                        "PAY_SANDBOX_WEBHOOK_SECRET": settings.PAY_SANDBOX_WEBHOOK_SECRET,
                    },
                )
                self._wait_for_port("sandbox payment gateway", settings.PAY_SANDBOX_HOST, settings.PAY_SANDBOX_PORT)
            if not no_demo:
                call_command("demo_setup", site_url=url, stdout=self.stdout, stderr=self.stderr)
            if self.stopping.is_set():
                return
            self._start("web", [python, "manage.py", "runserver", addr, "--noreload"])
            self._start("worker", [python, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"])
            self._start("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--pidfile="])
            self.stdout.write(self.style.SUCCESS(f"The shop is up at {url}/ — press Ctrl-C to stop everything."))
            while not self.stopping.is_set():
                for name, process in self.children:
                    if process.poll() is not None:
                        raise CommandError(f"{name} exited with code {process.returncode}; stopping the rest.")
                self.stopping.wait(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop_all()

    def _start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C reaches only this supervisor, which then stops
            # each child's whole group (runserver and celery fork children of their own).
            start_new_session=True,
        )
        self.children.append((name, process))
        threading.Thread(target=self._pump, args=(name, process.stdout), daemon=True).start()

    def _pump(self, name: str, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for line in iter(stream.readline, b""):
            sys.stdout.write(f"{name:>7} | {line.decode(errors='replace')}")
            sys.stdout.flush()

    def _wait_for_port(self, name: str, host: str, port: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise CommandError(f"The {name} did not start listening on {host}:{port} within {timeout:.0f} s.")

    def _stop_all(self) -> None:
        # SIGTERM to each main process: celery's warm shutdown stops its own pool.
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for name, process in reversed(self.children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it.")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.stdout.write("All stopped.")
