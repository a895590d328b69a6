"""Shared set-up of the benchmarks: Django on a throw-away database, sandboxes in their own processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SHOP_ENV", "test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


@contextmanager
def throwaway_database() -> Iterator[None]:
    """Django's test database (test_<name>), migrated, destroyed afterwards."""
    if connection.vendor != "postgresql":
        print("warning: DATABASE_URL is not PostgreSQL; the goals are stated for PostgreSQL", file=sys.stderr)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def sandbox_process(key: str, *, prepare: Callable[[Path], None] | None = None, **options: object) -> Iterator[str]:
    """A sandbox panel in its own process (so it does not share this one's GIL); yields its URL.

    ``prepare(state_path)`` may write the panel's journal first, e.g. to load many orders.
    """
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state.jsonl"
        if prepare:
            prepare(state)
        port = free_port()
        args = [sys.executable, "-m", "panelapi.sandbox", "--port", str(port), "--key", key, "--state", str(state)]
        for name, value in options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("the sandbox did not start") from None
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}/api/v2"
        finally:
            process.terminate()
            process.wait(timeout=10)


def gunicorn_command(*, workers: int, port: int) -> list[str]:
    """The shop's web server as production runs it (``config/gunicorn.py``: request metrics over its workers), on loopback."""
    config = ["-c", "config/gunicorn.py", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    return [sys.executable, "-m", "gunicorn", "config.wsgi", *config]


def page_timing(client, url: str, repeat: int) -> tuple[float, float, int]:
    """Render ``url`` once to warm caches and the session, then ``repeat`` times: median and p95 in ms, SQL queries per render."""
    import statistics

    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(len(times) * 0.95))], len(queries)
