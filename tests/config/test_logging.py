"""Log lines: JSON in production (python-json-logger), plain text elsewhere; secrets masked in either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "abc123-provider-secret"
UNSET = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SHOP_ENV", "DEBUG", "LOG_FORMAT"}
# Logs a provider call's URL with its key, an exception whose text carries a Stripe key, and a key in an extra field.
LOG = f"""
import logging, django
django.setup()
log = logging.getLogger("shop.test")
log.warning("calling %s", "https://panel.example/api/v2?key={SECRET}&action=add")
try:
    raise RuntimeError("stripe said: bad key sk_live_{SECRET}")
except RuntimeError:
    log.exception("payment failed")
log.info("reply", extra={{"reply": '{{"key": "{SECRET}", "status": "ok"}}'}})
"""


def run_logging(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in UNSET}
    return subprocess.run(
        [sys.executable, "-c", LOG],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_logs_one_json_object_per_line_with_secrets_masked() -> None:
    result = run_logging(SHOP_ENV="production", SECRET_KEY="x" * 50, REDIS_URL="redis://cache.example:6379/0")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("WARNING", "shop.test", "calling https://panel.example/api/v2?key=[redacted]&action=add"),
        ("ERROR", "shop.test", "payment failed"),
        ("INFO", "shop.test", "reply"),
    ]
    assert all("time" in line for line in lines)
    assert "RuntimeError: stripe said: bad key sk_live_[redacted]" in lines[1]["exc_info"]
    assert lines[2]["reply"] == '{"key": "[redacted]", "status": "ok"}'
    assert SECRET not in result.stderr


def test_development_logs_plain_text_with_secrets_masked() -> None:
    result = run_logging()
    assert result.returncode == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.endswith("WARNING shop.test: calling https://panel.example/api/v2?key=[redacted]&action=add")
    assert not first.startswith("{")
    assert f"key={SECRET}" not in result.stderr


def test_log_format_can_be_chosen() -> None:
    result = run_logging(LOG_FORMAT="json")
    assert json.loads(result.stderr.splitlines()[0])["message"].endswith("key=[redacted]&action=add")
    refused = run_logging(LOG_FORMAT="xml")
    assert refused.returncode != 0 and "LOG_FORMAT must be json or plain" in refused.stderr
