"""gunicorn with several workers (config/gunicorn.py): /metrics sums every worker's request metrics, whichever worker answers."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import ROOT, free_port, shop_env, stop, wait_for_other_sessions_to_end, wait_for_port

REQUESTS = 60


def healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "django_http_responses_total" and sample.labels == {"view": "healthz", "method": "GET", "status": "200"}:
                return sample.value
    return 0


@pytest.mark.postgres
def test_every_scrape_counts_the_requests_of_every_worker(transactional_db, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left by an earlier run")
    port = free_port()
    env = shop_env(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), CELERY_BROKER_URL="memory://")
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--config",
        "config/gunicorn.py",
        "--workers",
        "3",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, server)
        base = f"http://127.0.0.1:{port}"
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda _: requests.get(f"{base}/healthz", timeout=10).status_code, range(REQUESTS)))
        assert answers == [200] * REQUESTS
        scrapes = [requests.get(f"{base}/metrics", timeout=10) for _ in range(6)]
        assert all(scrape.status_code == 200 for scrape in scrapes)
        assert [healthz_count(scrape.text) for scrape in scrapes] == [REQUESTS] * 6
        assert "shop_orders" in scrapes[0].text
        assert not (metrics_dir / "counter_999999.db").exists()
    finally:
        output = stop(server)
        wait_for_other_sessions_to_end()
    assert "Traceback" not in output, output
