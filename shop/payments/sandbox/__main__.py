"""Run the sandbox payment gateway on its own: ``python -m shop.payments.sandbox --port 8002``.

The API key and the webhook secret come from the environment only
(``PAY_SANDBOX_API_KEY``, ``PAY_SANDBOX_WEBHOOK_SECRET``), never the command
line, where any user of the machine could read them. It refuses to run with
``SHOP_ENV=production``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .server import SandboxServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shop.payments.sandbox", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("PAY_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PAY_SANDBOX_PORT", "8002")))
    parser.add_argument("--merchant", default=os.environ.get("PAY_SANDBOX_MERCHANT", "sandbox-shop"))
    parser.add_argument("--public-url", default="", help="where browsers reach this server, if not http://HOST:PORT")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if os.environ.get("SHOP_ENV") == "production":
        parser.exit(1, "The sandbox payment gateway is for testing: it does not run with SHOP_ENV=production.\n")
    api_key = os.environ.get("PAY_SANDBOX_API_KEY", "")
    webhook_secret = os.environ.get("PAY_SANDBOX_WEBHOOK_SECRET", "")
    if not (api_key and webhook_secret):
        parser.error("set PAY_SANDBOX_API_KEY and PAY_SANDBOX_WEBHOOK_SECRET in the environment")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        server = SandboxServer(
            merchant=args.merchant,
            api_key=api_key,
            webhook_secret=webhook_secret,
            host=args.host,
            port=args.port,
            public_url=args.public_url,
        )
    except OSError as exc:
        parser.exit(1, f"cannot listen on {args.host}:{args.port}: {exc}\n")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    print(f"Sandbox payment gateway for merchant {args.merchant!r} serving at {server.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
