"""Test override: the base settings plus what makes tests fast and isolated."""

import os
import socket
import sys

os.environ.setdefault("SHOP_ENV", "test")

from .settings import *  # noqa: F403
from .settings import DATABASES, VAR_DIR


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


_db = DATABASES["default"]
if _db["ENGINE"] != "django.db.backends.sqlite3" and not _reachable(_db["HOST"] or "127.0.0.1", int(_db["PORT"] or 5432)):
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        raise RuntimeError(f"CI=true and the database server at {_db['HOST']}:{_db['PORT']} does not answer")
    # Outside CI an unreachable server is a skip, not a wall of errors: the
    # suite runs on SQLite and the PostgreSQL-only tests say why they skipped.
    print(f"DATABASE_URL does not answer at {_db['HOST']}:{_db['PORT']}; running on SQLite", file=sys.stderr)
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "test.sqlite3"}}

# Fast hashing: tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks enqueued by code under test go nowhere unless a test brings a real
# broker and worker (tests/worker); tests call the services directly instead.
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Rate limits count in the cache above; tests of the Redis counters set this themselves.
RATE_LIMIT_REDIS_URL = ""
PANEL_CONNECT_TIMEOUT = 2.0
PANEL_READ_TIMEOUT = 5.0
# Hundreds of admin tests sign staff in with force_login, which has no second factor to show; the tests of the
# rule itself (tests/accounts/test_mfa.py) turn it back on.
STAFF_MFA_REQUIRED = False
