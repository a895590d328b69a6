"""A pytest plugin for `make mutate`: each mutmut child tests on a database of its own.

mutmut runs one pytest per mutant in forked children, several at once
(``--max-children``). They would share pytest-django's test database, and a
transactional test in one (it empties the tables) would fail the other's
test: a mutant counted as killed by accident. Each child takes the first free
slot (an exclusive lock on a file, released when the child exits) and names
its database after it, as pytest-xdist's workers do (``test_<name>_mut0``);
with ``--reuse-db`` each slot's database is created once, and emptied at the
start of every run.

Loaded only by mutmut (``-p tests.mutmut_slot`` in pyproject's [tool.mutmut]).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

import pytest

SLOTS = 8
_held: dict[int, int] = {}  # pid -> the slot it holds: a forked child inherits its parent's entry, not its slot


def _take_slot() -> int:
    base = Path(tempfile.gettempdir()) / f"smm-mutmut-{os.getuid()}"
    base.mkdir(exist_ok=True)
    for slot in range(SLOTS):
        handle = os.open(base / f"slot-{slot}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue
        _held[os.getpid()] = handle  # kept open: the lock lasts as long as this process
        return slot
    raise RuntimeError(f"more than {SLOTS} mutmut children at once")


def pytest_configure(config: pytest.Config) -> None:
    if os.getpid() not in _held:
        # pytest-django suffixes the test database with the xdist worker id it finds here. (mutmut's own
        # process runs the tests once before forking; its children inherit that suffix and add their own.)
        config.workerinput = {"workerid": f"mut{_take_slot()}"}  # type: ignore[attr-defined]


@pytest.fixture(scope="session", autouse=True)
def _mutmut_empty_database(django_db_setup, django_db_blocker) -> None:
    """Start from empty tables: a child stopped mid-test (a mutant that loops is timed out) leaves its committed rows behind."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
