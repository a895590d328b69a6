"""Helpers several test modules share: the thread-race harness."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def race(threads: int, action: Callable[[], T]) -> list[T | Exception]:
    """Run ``action`` in ``threads`` real threads released at the same instant, each on its own database connection.

    Returns each thread's result, or the exception it raised, so a test can
    count outcomes. Needs ``django_db(transaction=True)``: the threads commit
    for real, as concurrent requests or workers would.
    """
    start = threading.Barrier(threads)
    outcomes: list[T | Exception] = []
    lock = threading.Lock()

    def run() -> None:
        start.wait()
        try:
            outcome: T | Exception = action()
        except Exception as exc:  # counted by the test, like any other outcome
            outcome = exc
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes
