"""The shop's real processes for tests that need them: a Celery worker and a web server.

They run against the test database (so the test must use ``transactional_db``
and PostgreSQL: a subprocess cannot see SQLite's in-memory test database) and a
Redis database of their own, emptied first.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from django.db import connection

from tests.conftest import redis_url, xdist_index

ROOT = Path(__file__).resolve().parents[1]
# The Celery broker of the test workers: a Redis database per pytest-xdist worker (13, 14), emptied before each worker starts.
BROKER_DB = 13 + xdist_index()


def broker_url() -> str:
    parts = urlsplit(redis_url() or "")
    return urlunsplit(parts._replace(path=f"/{BROKER_DB}"))


def database_url() -> str:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def shop_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SHOP_ENV": "test",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url(),
        "REDIS_URL": "",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {timeout} s")


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        return process.communicate(timeout=15)[0] or ""
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[0] or ""


def wait_for_other_sessions_to_end(timeout: float = 10) -> None:
    """Let the PostgreSQL sessions of stopped processes go, so the test database can be dropped."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)


@contextmanager
def worker_process(*, pool: str = "solo", concurrency: int = 1, keep_queue: bool = False, **env: str) -> Iterator[subprocess.Popen]:
    """A Celery worker on every queue, with ``concurrency`` execution slots (one by default: the worker process
    itself with solo, one pool child with prefork; threads with ``pool="threads"``).

    The broker's Redis database is emptied first unless `keep_queue` (a restart after a crash).
    """
    if not keep_queue:
        redis.Redis.from_url(broker_url()).flushdb()
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
    ]
    process = subprocess.Popen(
        [*command, "--without-heartbeat"],
        cwd=ROOT,
        env=shop_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            stop(process)
        wait_for_other_sessions_to_end()


@contextmanager
def web_process(**env: str) -> Iterator[str]:
    """The shop's web server (runserver, no reloader) on a free port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"],
        cwd=ROOT,
        env=shop_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        wait_for_other_sessions_to_end()
