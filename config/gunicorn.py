"""gunicorn's settings (``gunicorn --config config/gunicorn.py``): request metrics summed over its worker processes.

Each worker keeps its request metrics (shop/observability/middleware.py) in files of
prometheus_client's multiprocess mode, and /metrics, whichever worker answers, adds up every
worker's files, so a scrape sees all the requests of the server. The folder is
``PROMETHEUS_MULTIPROC_DIR`` (default ``var/prometheus``); it is emptied when gunicorn starts, so
give each gunicorn on a machine a folder of its own. https://prometheus.github.io/client_python/multiprocess/
"""

import os
from pathlib import Path

# Set before any worker imports prometheus_client (workers are forked after this file is read), which reads it once.
METRICS_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(Path(__file__).resolve().parents[1] / "var" / "prometheus")))


def on_starting(server: object) -> None:
    """Counts of an earlier run would be added to this one's: start from none."""
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink()


def child_exit(server: object, worker: object) -> None:
    """A worker that exits (restarted, killed) leaves its counts, which keep adding up, and drops its live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
