"""The README's production steps, run exactly as written on a fresh copy of the tree (issue 17).

The steps are read from the README's "production-steps" block, so the section a
deployer follows is the one tested. The copy holds what a fresh clone holds (the
tracked files and new ones not ignored: no ``var/``, so no database, broker file or
collected static files). The environment is production's: ``SHOP_ENV=production``,
a fresh PostgreSQL database, Redis, a proxy in front that terminates TLS.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from django.db import connection

from tests.conftest import redis_url, xdist_index
from tests.processes import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 12 - xdist_index()  # one per pytest-xdist worker (12, 11), away from the brokers (13, 14)
HOST = "shop.example"
PROXIED = {"Host": HOST, "X-Forwarded-Proto": "https"}
UNSET = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SHOP_ENV", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE", "STATIC_ROOT"}


def production_steps() -> list[str]:
    """The command lines of the README's production block, in order."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- production-steps[^>]*-->\s*```sh\n(.*?)```", readme, re.DOTALL)
    assert match, "README.md has no production-steps block"
    return [line.strip() for line in match.group(1).splitlines() if line.strip() and not line.startswith("#")]


def fresh_clone(target: Path) -> Path:
    """The tree as a fresh clone has it: nothing .gitignore names (no var/, no .venv, no .env) and no .git."""
    ignored = [line.strip().rstrip("/") for line in (ROOT / ".gitignore").read_text().splitlines() if line.strip()]
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(".git", *ignored))
    assert not (target / "var").exists() and not (target / ".venv").exists()
    return target


def command(line: str) -> list[str]:
    """A README line run with this interpreter (the virtualenv the requirements are installed in).

    ``pip install`` only checks, without the network and without changing the
    test's own virtualenv, that the requirements are all installed as pinned.
    """
    words = shlex.split(line)
    if words[:2] == ["pip", "install"]:
        return [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet", *words[2:]]
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    return [sys.executable, "-m", *words]


def production_env(**extra: str) -> dict[str, str]:
    url = redis_url() or "redis://127.0.0.1:6379/0"
    return {
        **{key: value for key, value in os.environ.items() if key not in UNSET},
        "SHOP_ENV": "production",
        "SECRET_KEY": "a-production-key-of-enough-length-and-variety-0123456789-QWERTY",
        "ALLOWED_HOSTS": HOST,
        "BEHIND_TLS_PROXY": "true",
        "REDIS_URL": url.rsplit("/", 1)[0] + f"/{REDIS_DB}",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@pytest.fixture
def production_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server; dropped afterwards."""
    db = connection.settings_dict
    name = f"smmshop_production_{uuid.uuid4().hex[:8]}"
    server = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"], "password": db["PASSWORD"] or None}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    try:
        yield f"postgres://{credentials}@{server['host']}:{server['port']}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start(line: str, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(command(line), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)


def wait_for_log(log: Path, text: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the log of {process.args}:\n{log.read_text()[-3000:]}")


def assert_page_and_its_css(base: str, path: str) -> None:
    page = requests.get(base + path, headers=PROXIED, timeout=10)
    assert page.status_code == 200, page.text[:2000]
    stylesheets = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', page.text) + re.findall(
        r'<link[^>]+href="([^"]+\.css)"', page.text
    )
    assert stylesheets, f"{path} links no stylesheet"
    for href in set(stylesheets):
        assert re.search(r"\.[0-9a-f]{12}\.css$", href), f"{href} is not a hashed (collected) name"
        css = requests.get(base + href, headers=PROXIED, timeout=10)
        assert css.status_code == 200, href
        assert css.headers["Content-Type"].startswith("text/css")
        assert "immutable" in css.headers.get("Cache-Control", ""), css.headers


@pytest.mark.postgres
@pytest.mark.redis
def test_readme_production_steps_serve_pages_with_their_css(tmp_path: Path, production_database: str) -> None:
    tree = fresh_clone(tmp_path / "shop")
    redis.Redis.from_url(production_env()["REDIS_URL"]).flushdb()
    port = free_port()
    env = production_env(DATABASE_URL=production_database)
    steps = production_steps()
    assert [word for line in steps for word in line.split()[:3] if word in {"collectstatic", "migrate", "schedule_ensure"}] == [
        "collectstatic",
        "migrate",
        "schedule_ensure",
    ]
    running: list[subprocess.Popen] = []
    try:
        for number, line in enumerate(steps):
            long_running = line.split()[0] in {"gunicorn", "celery"}
            if not long_running:
                result = subprocess.run(command(line), cwd=tree, env=env, capture_output=True, text=True, timeout=600)
                assert result.returncode == 0, f"{line}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
                continue
            log = tmp_path / f"step-{number}.log"
            if line.startswith("gunicorn"):
                line = re.sub(r"--bind \S+", f"--bind 127.0.0.1:{port}", line)
                running.append(start(line, tree, env, log))
                wait_for_port(port, running[-1], timeout=60)
            elif " worker" in line:
                running.append(start(line, tree, env, log))
                wait_for_log(log, "ready.", running[-1])
            else:
                running.append(start(line, tree, env, log))
                wait_for_log(log, "beat: Starting", running[-1])
        base = f"http://127.0.0.1:{port}"
        assert_page_and_its_css(base, "/")
        assert_page_and_its_css(base, "/accounts/login/")
        assert_page_and_its_css(base, "/admin/login/")
        # The SSL redirect is on: a request that did not come through TLS is sent there.
        plain = requests.get(base + "/", headers={"Host": HOST}, allow_redirects=False, timeout=10)
        assert plain.status_code == 301 and plain.headers["Location"] == f"https://{HOST}/"
        deploy = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert deploy.returncode == 0 and "no issues" in deploy.stdout, deploy.stdout + deploy.stderr
        for process in running:
            assert process.poll() is None, f"{process.args} exited"
    finally:
        for process in running:
            stop(process)


def test_without_collectstatic_production_refuses_to_start(tmp_path: Path) -> None:
    """The step that was missing: `check --deploy` names it, and gunicorn stops instead of serving 500s."""
    tree = fresh_clone(tmp_path / "shop")
    env = production_env(STATIC_ROOT=str(tmp_path / "static"))
    deploy = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )
    assert deploy.returncode != 0
    assert "shop.E001" in deploy.stderr and "collectstatic" in deploy.stderr
    port = free_port()
    gunicorn = subprocess.run(
        command(f"gunicorn config.wsgi --bind 127.0.0.1:{port} --workers 1"), cwd=tree, env=env, capture_output=True, text=True, timeout=60
    )
    assert gunicorn.returncode != 0
    assert "collectstatic" in gunicorn.stdout + gunicorn.stderr


def test_the_readme_production_steps_run_a_worker_for_every_queue() -> None:
    from django.conf import settings

    consumed: set[str] = set()
    for line in production_steps():
        words = line.split()
        if words[0] == "celery" and "worker" in words:
            assert "-Q" in words, f"{line}: a worker without -Q would take every queue's work"
            consumed |= set(words[words.index("-Q") + 1].split(","))
    assert consumed == set(settings.CELERY_QUEUES)
