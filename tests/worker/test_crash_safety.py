"""Crash safety with a real Celery worker on Redis: an order is placed upstream at most once, and charged once.

Each test runs the shop's real worker (tests/processes.py) against the sandbox panel over HTTP and
counts the `add` calls the sandbox received:

- The whole worker (prefork parent and pool child) is SIGKILLed while the sandbox holds its `add` open
  (the panel already took the order). The message was never acknowledged (`task_acks_late`), so after a
  restart Redis hands it out again (the visibility timeout, shortened here to stand for the hours of
  production); the redelivered task finds the order claimed and does nothing, and the sweep moves the
  order to Needs attention.
- Only the pool child is SIGKILLed the same way: the parent puts the message back at once
  (`task_reject_on_worker_lost`), and the redelivered task again does nothing.
- The enqueue is lost between commit and broker (the web process's broker refuses connections, or
  accepts them and never answers): the customer still gets the order within seconds, nothing reaches
  the broker, and the sweep sends the order exactly once, even when two sweeps run (as two beats would
  send them).
- The worker's Celery configuration is the one these rely on.

Every time: one `add` upstream, one charge in the ledger, no refund, and the ledger agrees with the
balances. A duplicated message with a healthy worker is covered by test_worker_sync.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import requests
from celery import Celery
from django.utils import timezone

from panelapi.sandbox.panel import Fault
from shop.catalogue.retail import services_import
from shop.catalogue.sync import catalogue_sync
from shop.models import LedgerEntry, Order, OrderStatus, Service
from shop.orders.placement import order_place
from shop.orders.tasks import SUBMIT_MAX_COUNTDOWN
from shop.reseller_api.keys import api_key_issue
from shop.wallet.selectors import ledger_differences
from shop.wallet.services import wallet_credit
from tests.conftest import SANDBOX_KEY
from tests.factories import UserFactory
from tests.processes import BROKER_DB, ROOT, broker_url, free_port, shop_env, web_process, worker_process

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
# The worker and web processes see only what the test commits.
shared_db = pytest.mark.django_db(transaction=True)

SUBMIT = "shop.tasks.order_submit_task"
SWEEP = "shop.tasks.orders_sweep_task"
QUEUE = "celery"  # kombu's Redis transport: a list named after the queue, plus the "unacked" hash
# The sandbox holds `add` this long after taking the order: far longer than the test needs to kill the worker.
HOLD_ADD = 120.0


@pytest.fixture
def service(provider) -> Service:
    catalogue_sync(provider=provider)
    services_import(provider_services=provider.services.all())
    return Service.objects.get(provider_service__provider=provider, provider_service__upstream_id="1")


@pytest.fixture
def customer(db):
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10"), kind=LedgerEntry.Kind.DEPOSIT)
    return user


@pytest.fixture
def broker() -> redis.Redis:
    return redis.Redis.from_url(broker_url())


@pytest.fixture
def app() -> Celery:
    """A client of the workers' broker (the test process's own Celery app uses memory://)."""
    return Celery(broker=broker_url())


class Output:
    """A process's output, read as it comes: the test waits on log lines, and a full pipe would stall the worker."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def matching(self, pattern: str) -> list[re.Match]:
        return [m for line in list(self.lines) if (m := re.search(pattern, line))]

    def stop(self) -> str:
        """Stop the process (warm shutdown) and return all it wrote."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(30)
        self._reader.join(10)
        return self.text

    @property
    def text(self) -> str:
        return "".join(self.lines)


def wait_until(condition: Callable[[], object], output: Output, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert output.process.poll() is None, f"the worker exited while waiting for {what}:\n{output.text}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s:\n{output.text}"
        time.sleep(0.1)


def wait_past(moment, seconds: float) -> None:
    """Let the clock pass `moment` + `seconds` (a sweep with a short timeout then finds the order stale)."""
    left = (moment + timedelta(seconds=seconds) - timezone.now()).total_seconds()
    if left > 0:
        time.sleep(left)


def succeeded(output: Output, task: str, task_id: str = r"[-0-9a-f]+") -> list[str]:
    """Return values (repr) of the runs of `task` the worker logged as succeeded."""
    return [m.group(1) for m in output.matching(rf"{re.escape(task)}\[{task_id}\] succeeded in [0-9.e-]+s: (.*)$")]


def children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()]


def wait_until_gone(pid: int, timeout: float = 10) -> None:
    """Wait for a process that is not the test's child to end (gone, or a zombie no longer running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs after {timeout} s")


def assert_charged_once(order: Order) -> None:
    entries = list(LedgerEntry.objects.filter(order=order).values_list("kind", "amount"))
    assert entries == [(LedgerEntry.Kind.ORDER_CHARGE, -order.charge)]
    assert ledger_differences() == []


def place(customer, service: Service, link: str) -> Order:
    # Its on-commit enqueue goes to the test process's memory broker: the tests send the task for real.
    order = order_place(user=customer, service=service, link=link, quantity=100)
    assert order.status == OrderStatus.AWAITING
    return order


@shared_db
def test_a_worker_killed_inside_add_leaves_one_order_upstream_after_a_restart(sandbox, service, customer, broker, app) -> None:
    sandbox.panel.add_fault(Fault(kind="slow", action="add", delay=HOLD_ADD))  # takes the order, then holds the reply
    order = place(customer, service, "https://x.example/killed-worker")

    with worker_process(pool="prefork") as process:
        first = Output(process)
        task_id = app.send_task(SUBMIT, args=[order.pk]).id
        wait_until(lambda: sandbox.panel.calls["add"] == 1, first, "add call at the sandbox")
        # The whole worker at once, as the OOM killer or a lost machine would: the parent first, so it
        # cannot hand the message back, then the pool child that is inside `add`.
        [child] = children(process.pid)
        process.send_signal(signal.SIGKILL)
        os.kill(child, signal.SIGKILL)
        first.stop()
        wait_until_gone(child)
    assert "succeeded" not in first.text
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTING  # claimed, the answer lost with the worker
    assert broker.hlen("unacked") == 1 and broker.llen(QUEUE) == 0  # not acknowledged: kept by Redis, not lost

    # A visibility timeout of 1 s stands for the 6 h of production. A worker looks for expired messages at
    # start-up (then every 100 s): start it once the message's 1 s has passed, and it gets the message again.
    [(_, delivered_at)] = broker.zrange("unacked_index", 0, -1, withscores=True)
    time.sleep(max(0.0, delivered_at + 1.5 - time.time()))
    with worker_process(keep_queue=True, CELERY_VISIBILITY_TIMEOUT="1", ORDER_SUBMIT_TIMEOUT="1") as process:
        second = Output(process)
        wait_until(lambda: succeeded(second, SUBMIT, task_id), second, "run of the redelivered submit task")
        wait_past(order.submitting_since, 1.5)
        app.send_task(SWEEP)
        wait_until(lambda: succeeded(second, SWEEP), second, "sweep")
        output = second.stop()

    assert succeeded(second, SUBMIT, task_id) == ["'skipped'"], output
    assert succeeded(second, SWEEP) == ["'1 flagged, 0 requeued'"], output
    order.refresh_from_db()
    assert order.status == OrderStatus.NEEDS_ATTENTION and order.upstream_order_id is None
    assert sandbox.panel.calls["add"] == 1 and sandbox.panel.order_count == 1
    assert_charged_once(order)
    assert broker.hlen("unacked") == 0 and broker.llen(QUEUE) == 0
    assert SANDBOX_KEY not in first.text + output


@shared_db
def test_a_pool_child_killed_inside_add_is_redelivered_at_once_and_places_nothing_more(sandbox, service, customer, app) -> None:
    sandbox.panel.add_fault(Fault(kind="slow", action="add", delay=HOLD_ADD))
    order = place(customer, service, "https://x.example/killed-child")

    with worker_process(pool="prefork", ORDER_SUBMIT_TIMEOUT="1") as process:
        worker = Output(process)
        task_id = app.send_task(SUBMIT, args=[order.pk]).id
        wait_until(lambda: sandbox.panel.calls["add"] == 1, worker, "add call at the sandbox")
        [child] = children(process.pid)
        os.kill(child, signal.SIGKILL)
        # reject_on_worker_lost: the parent puts the message back and a new child runs it.
        wait_until(lambda: succeeded(worker, SUBMIT, task_id), worker, "run of the redelivered submit task")
        assert succeeded(worker, SUBMIT, task_id) == ["'skipped'"] and sandbox.panel.calls["add"] == 1
        order.refresh_from_db()
        wait_past(order.submitting_since, 1.5)
        app.send_task(SWEEP)
        wait_until(lambda: succeeded(worker, SWEEP), worker, "sweep")
        output = worker.stop()

    assert "WorkerLostError" in output and f"pid:{child} exited with 'signal 9 (SIGKILL)'" in output
    assert succeeded(worker, SWEEP) == ["'1 flagged, 0 requeued'"], output
    order.refresh_from_db()
    assert order.status == OrderStatus.NEEDS_ATTENTION
    assert sandbox.panel.calls["add"] == 1 and sandbox.panel.order_count == 1
    assert_charged_once(order)


@contextmanager
def unusable_broker(kind: str) -> Iterator[str]:
    """The URL of a broker that refuses connections, or one that accepts them and never answers (hung, or cut off mid-way)."""
    if kind == "refusing":
        yield f"redis://127.0.0.1:{free_port()}/{BROKER_DB}"  # nothing listens there
        return
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes the handshakes; nothing ever reads or answers
        yield f"redis://127.0.0.1:{silent.getsockname()[1]}/{BROKER_DB}"


@shared_db
@pytest.mark.parametrize("broker_kind", ["refusing", "silent"])
def test_an_order_whose_enqueue_was_lost_is_sent_once_by_the_sweep(sandbox, service, customer, broker, app, broker_kind) -> None:
    key = api_key_issue(user=customer)

    with (
        unusable_broker(broker_kind) as dead_broker,
        worker_process(ORDER_REQUEUE_AFTER="0") as process,
        web_process(CELERY_BROKER_URL=dead_broker) as base_url,
    ):
        worker = Output(process)
        started = time.monotonic()
        reply = requests.post(
            f"{base_url}/api/v2",
            data={"key": key, "action": "add", "service": service.pk, "link": "https://x.example/lost", "quantity": 100},
            timeout=30,
        )
        # The customer gets the order, in the time of the broker's socket timeouts (not a hang, not an error).
        assert reply.status_code == 200 and time.monotonic() - started < 20, reply.text
        order = Order.objects.get(pk=reply.json()["order"])
        assert order.status == OrderStatus.AWAITING
        assert broker.llen(QUEUE) == 0 and broker.hlen("unacked") == 0  # committed and charged, never queued

        for _ in range(2):  # two sweeps, as two beats would send: both may queue the order
            app.send_task(SWEEP)

        def all_queued_submissions_ran() -> bool:
            sweeps = succeeded(worker, SWEEP)
            queued = sum(int(re.search(r"(\d+) requeued", result).group(1)) for result in sweeps)
            return len(sweeps) == 2 and len(succeeded(worker, SUBMIT)) == queued

        wait_until(all_queued_submissions_ran, worker, "run of every queued submission")
        output = worker.stop()

    submissions = succeeded(worker, SUBMIT)
    assert submissions.count("'placed'") == 1 and set(submissions) <= {"'placed'", "'skipped'"}, output
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING and order.upstream_order_id
    assert sandbox.panel.calls["add"] == 1 and sandbox.panel.order_count == 1
    assert_charged_once(order)
    assert key not in output and SANDBOX_KEY not in output


def test_the_worker_runs_with_the_settings_that_keep_work_exactly_once() -> None:
    code = (
        "import json, django; django.setup()\n"
        "from config.celery import app\n"
        "c = app.conf\n"
        "print(json.dumps({name: c[name] for name in ('task_acks_late', 'task_reject_on_worker_lost', 'worker_prefetch_multiplier',"
        " 'broker_transport_options', 'task_time_limit', 'beat_scheduler')}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=shop_env(), capture_output=True, text=True, timeout=60, check=True)
    conf = json.loads(done.stdout)

    assert conf["task_acks_late"] is True and conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    # Redis hands an unacknowledged message out again after the visibility timeout: it must outlast
    # the longest countdown (a retried submission waits up to SUBMIT_MAX_COUNTDOWN) and the longest run.
    assert conf["broker_transport_options"]["visibility_timeout"] > max(SUBMIT_MAX_COUNTDOWN, conf["task_time_limit"])
    assert conf["beat_scheduler"] == "django_celery_beat.schedulers:DatabaseScheduler"
