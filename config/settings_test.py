"""Test override: the base settings plus what makes tests fast and isolated."""

import os

os.environ.setdefault("SHOP_ENV", "test")

from .settings import *  # noqa: F403

# Fast hashing: tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks enqueued by code under test go nowhere unless a test brings a real
# broker and worker (tests/worker); tests call the services directly instead.
CELERY_BROKER_URL = "memory://"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PANEL_CONNECT_TIMEOUT = 2.0
PANEL_READ_TIMEOUT = 5.0
