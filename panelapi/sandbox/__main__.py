"""Run the sandbox panel on its own: ``python -m panelapi.sandbox --port 8001``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from decimal import Decimal, InvalidOperation

from .panel import SandboxPanel
from .server import SandboxServer


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal amount: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m panelapi.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--key", help="API key (default: $SANDBOX_API_KEY)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stage-seconds", type=float, default=30.0)
    parser.add_argument("--services", type=int, default=None, help="catalogue size")
    parser.add_argument("--balance", type=_decimal, default=Decimal("1000"))
    parser.add_argument("--currency", default="USD")
    parser.add_argument("--state", default=None, help="JSON-lines file to persist and replay")
    parser.add_argument("--reject-duplicate-links", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    key = args.key or os.environ.get("SANDBOX_API_KEY")
    if not key:
        parser.error("an API key is required: --key or $SANDBOX_API_KEY")
    panel = SandboxPanel(
        key,
        balance=args.balance,
        seed=args.seed,
        stage_seconds=args.stage_seconds,
        catalogue_size=args.services,
        state_path=args.state,
        currency=args.currency,
        reject_duplicate_links=args.reject_duplicate_links,
    )
    try:
        server = SandboxServer(panel, args.host, args.port)
    except OSError as exc:
        parser.exit(1, f"cannot listen on {args.host}:{args.port}: {exc}\n")
    stop = threading.Event()
    # Serve from a thread: server.stop() must not run in the serving thread.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    print(f"Sandbox panel serving at {server.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
