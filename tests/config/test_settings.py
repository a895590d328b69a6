"""Settings come from the environment; production refuses unsafe defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import json, django; from django.conf import settings as s; django.setup();"
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']),"
    " 'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG, 'read': s.PANEL_READ_TIMEOUT, 'sync': s.CATALOGUE_SYNC_INTERVAL,"
    " 'hosts': s.ALLOWED_HOSTS}))"
)


def settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SHOP_ENV", "DEBUG", "SECRET_KEY"}
    }
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_need_nothing_but_python() -> None:
    result = settings_with()
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["broker"].startswith("sqla+sqlite:///")
    assert values["debug"] is True


def test_environment_selects_postgres_redis_and_timeouts() -> None:
    result = settings_with(
        DATABASE_URL="postgres://u@db.example:5432/shop",
        REDIS_URL="redis://cache.example:6379/1",
        PANEL_READ_TIMEOUT="12.5",
        CATALOGUE_SYNC_INTERVAL="900",
        ALLOWED_HOSTS="shop.example,www.shop.example",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert (values["db"], values["name"]) == ("config.postgresql", "shop")
    assert values["broker"] == "redis://cache.example:6379/1"
    assert (values["read"], values["sync"]) == (12.5, 900)
    assert values["hosts"] == ["shop.example", "www.shop.example"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHOP_ENV": "production", "DEBUG": "False"}, "Set SECRET_KEY"),
        ({"SHOP_ENV": "production", "SECRET_KEY": "x" * 50, "DEBUG": "True"}, "Set DEBUG=False"),
        # Issue 17: a per-process memory cache multiplies every limit by the number of workers.
        ({"SHOP_ENV": "production", "SECRET_KEY": "x" * 50}, "Set REDIS_URL"),
        (
            {
                "SHOP_ENV": "production",
                "SECRET_KEY": "x" * 50,
                "REDIS_URL": "redis://cache.example:6379/0",
                "CELERY_BROKER_URL": "sqla+sqlite:///b",
            },
            "Set CELERY_BROKER_URL",
        ),
        (
            {
                "SHOP_ENV": "production",
                "SECRET_KEY": "x" * 50,
                "REDIS_URL": "redis://cache.example:6379/0",
                "CELERY_BROKER_URL": "memory://",
            },
            "Set CELERY_BROKER_URL",
        ),
    ],
)
def test_production_refuses_unsafe_defaults(env: dict[str, str], message: str) -> None:
    result = settings_with(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_production_starts_with_a_secret_key_redis_and_debug_off() -> None:
    result = settings_with(SHOP_ENV="production", SECRET_KEY="x" * 50, REDIS_URL="redis://cache.example:6379/0")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is False
    assert values["broker"] == "redis://cache.example:6379/0"


def test_every_task_route_names_a_task_of_the_shop_and_a_queue_the_workers_consume() -> None:
    from django.conf import settings

    from config.celery import app

    app.loader.import_default_modules()
    queues = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert queues == {"submit", "refresh", "catalogue", "mail", "celery"}
    for name, route in settings.CELERY_TASK_ROUTES.items():
        assert name in app.tasks, name
        assert route["queue"] in queues, name


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("shop.tasks.order_submit_task", "submit"),
        ("shop.tasks.refills_send_task", "submit"),
        ("shop.tasks.orders_refresh_provider", "refresh"),
        ("shop.tasks.catalogue_sync_provider", "catalogue"),
        ("shop.notifications.tasks.notification_send_task", "mail"),
        ("shop.tasks.topup_check_task", "celery"),
    ],
)
def test_each_kind_of_work_is_routed_to_its_own_queue(task: str, queue: str) -> None:
    from config.celery import app

    assert app.amqp.router.route({}, task)["queue"].name == queue
