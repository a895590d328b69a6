"""A stateful API v2 panel in memory: the logic behind the sandbox server.

`SandboxPanel.handle` answers one API call. Orders move through their
statuses as a pure function of the panel clock and a per-order outcome drawn
from the seed, so a test can replay a run exactly and fast-forward with
`advance()` instead of sleeping.

This module holds the panel itself (key check, dispatch, clock, catalogue,
fault queue, balance and the events every state change goes through). The
action handlers are in `actions`, what `add` accepts and the error strings in
`validation`, the order lifecycle in `orders`, the event log in `events` and
`Fault` in `faults`.
"""

from __future__ import annotations

import heapq
import hmac
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from .actions import PanelActions
from .catalogue import SandboxService, build_catalogue
from .events import EventLog
from .faults import FAULT_KINDS, Fault
from .orders import FIRST_ORDER_ID, PLACES, Order, money, net_charge, subscription_end, subscription_refund_at
from .subscriptions import Subscription
from .validation import AddError, err, parse_add

__all__ = ["FAULT_KINDS", "AddError", "Fault", "SandboxPanel", "parse_add"]


class SandboxPanel(PanelActions):
    """An API v2 panel with orders, refills, cancels, balance and faults."""

    def __init__(
        self,
        api_key: str,
        *,
        balance: Decimal = Decimal("1000"),
        seed: int = 0,
        stage_seconds: float = 30.0,
        catalogue_size: int | None = None,
        state_path: str | Path | None = None,
        currency: str = "USD",
        clock: Callable[[], float] = time.time,
        reject_duplicate_links: bool = False,
    ) -> None:
        """Create the panel; with `state_path`, replay its event log first."""
        if not api_key:
            raise ValueError("api_key must not be empty")
        if stage_seconds <= 0:
            raise ValueError("stage_seconds must be positive")
        self._lock = threading.RLock()
        self._key = api_key.encode()
        self._seed = seed
        self._stage = float(stage_seconds)
        self._currency = currency
        self._clock = clock
        self._offset = 0.0
        self._reject_duplicates = reject_duplicate_links
        self._balance = Decimal(balance).quantize(PLACES, ROUND_HALF_UP)
        self._services: dict[int, SandboxService] = {}
        self._services_json: bytes | None = None
        self._orders: dict[int, Order] = {}
        self._by_link: defaultdict[str, list[int]] = defaultdict(list)
        self._refills: dict[int, tuple[int, float]] = {}  # id -> (order id, created)
        self._next_order = FIRST_ORDER_ID
        self._next_refill = 1
        # Refunds due at a future time, settled lazily on reads; see _settle().
        self._refunds: list[tuple[float, int, Decimal]] = []
        self._faults: list[list[Any]] = []  # [fault, uses left or None]
        self.calls: Counter[str] = Counter()
        self._actions: dict[str, Callable[[Mapping[str, str], float], object]] = {
            "services": self._do_services,
            "add": self._do_add,
            "status": self._do_status,
            "balance": self._do_balance,
            "refill": self._do_refill,
            "refill_status": self._do_refill_status,
            "cancel": self._do_cancel,
        }
        self.set_catalogue(build_catalogue(size=catalogue_size, seed=seed))
        self._log = EventLog(state_path) if state_path is not None else None
        if self._log is not None:
            self._log.replay(self._apply, {"ev": "init", "balance": str(self._balance)})

    # -- clock, balance, statistics -------------------------------------------

    def now(self) -> float:
        """Return the panel clock: the injected clock plus all `advance()` calls."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the panel clock forward by `seconds`."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("the clock only moves forward, by a finite amount")
        with self._lock:
            self._record({"ev": "advance", "seconds": seconds})

    @property
    def balance(self) -> Decimal:
        """The current balance, with every refund that fell due settled."""
        with self._lock:
            self._settle(self.now())
            return self._balance

    @property
    def order_count(self) -> int:
        """How many orders the panel holds."""
        return len(self._orders)

    def stats(self) -> dict[str, object]:
        """Return counters for the control endpoint and for tests."""
        with self._lock:
            self._settle(self.now())
            return {
                "calls": dict(self.calls),
                "balance": money(self._balance),
                "orders": len(self._orders),
                "refills": len(self._refills),
                "faults": len(self._faults),
            }

    def note_call(self, action: str) -> None:
        """Count a request the server answered without handling (a fault)."""
        with self._lock:
            self.calls[action] += 1

    # -- catalogue ------------------------------------------------------------

    @property
    def services(self) -> list[SandboxService]:
        """The current catalogue, ordered by id."""
        with self._lock:
            return list(self._services.values())

    def set_catalogue(self, services: Iterable[SandboxService]) -> None:
        """Replace the whole catalogue; existing orders are not affected."""
        by_id: dict[int, SandboxService] = {}
        for service in services:
            if service.service in by_id:
                raise ValueError(f"duplicate service id {service.service}")
            by_id[service.service] = service
        with self._lock:
            self._services = dict(sorted(by_id.items()))
            self._services_json = None

    def replace_service(self, service: SandboxService | int, **changes: Any) -> SandboxService:
        """Add or replace a service, or change fields of an existing one by id.

        `replace_service(1, rate=Decimal("1.20"))` reprices service 1;
        `replace_service(SandboxService(...))` inserts or overwrites it.
        """
        with self._lock:
            if isinstance(service, int):
                new = replace(self._services[service], **changes)
            else:
                new = replace(service, **changes) if changes else service
            self._services[new.service] = new
            self._services = dict(sorted(self._services.items()))
            self._services_json = None
            return new

    def remove_service(self, service_id: int) -> None:
        """Remove a service from the catalogue (KeyError if unknown)."""
        with self._lock:
            del self._services[service_id]
            self._services_json = None

    # -- faults ---------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; the first matching one is played on the next request."""
        with self._lock:
            self._faults.append([fault, fault.times or None])

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def next_fault(self, action: str | None) -> Fault | None:
        """Return the fault for a request with `action`, consuming one use."""
        with self._lock:
            for index, entry in enumerate(self._faults):
                fault, left = entry
                if fault.action is not None and fault.action != action:
                    continue
                if left is not None:
                    if left <= 1:
                        del self._faults[index]
                    else:
                        entry[1] = left - 1
                return fault
            return None

    # -- the API --------------------------------------------------------------

    def handle(self, params: Mapping[str, str]) -> tuple[int, object]:
        """Answer one API call: return (HTTP status, reply).

        The reply is JSON-able, or `bytes` that are already encoded JSON (the
        services list is cached that way so a 10,000-service reply is cheap).
        """
        action = params.get("action") or ""
        with self._lock:
            self.calls[action] += 1
            key = (params.get("key") or "").encode()
            # Constant-time compare: the sandbox stands in for a real panel.
            if not key or not hmac.compare_digest(key, self._key):
                return 200, err("Invalid API key")
            handler = self._actions.get(action)
            if handler is None:
                return 200, err("Incorrect request")
            now = self.now()
            self._settle(now)
            return 200, handler(params, now)

    # -- refunds and events: every state change goes through _apply, live or replayed --

    def _settle(self, now: float) -> None:
        # The heap is ordered by due time and the clock only moves forward, so
        # each read pops just the refunds that fell due since the last one.
        while self._refunds and self._refunds[0][0] <= now:
            _, order_id, amount = heapq.heappop(self._refunds)
            order = self._orders[order_id]
            if not order.settled:
                order.settled = True
                self._balance += amount

    def _record(self, event: dict[str, Any]) -> None:
        self._apply(event)
        if self._log is not None:
            self._log.append(event)

    def _apply(self, event: Mapping[str, Any]) -> None:
        kind = event["ev"]
        if kind == "init":
            self._balance = Decimal(event["balance"])
        elif kind == "advance":
            self._offset += float(event["seconds"])
        elif kind == "add":
            order = Order(
                id=event["id"],
                service=event["service"],
                type=event["type"],
                link=event["link"],
                quantity=event["quantity"],
                charge=Decimal(event["charge"]),
                created=event["created"],
                outcome=event["outcome"],
                final_remains=event["remains"],
                start_count=event["start_count"],
                refill_ok=event["refill"],
                cancel_ok=event["cancel"],
            )
            if "sub" in event:
                order.subscription, order.units, order.rate = Subscription(**event["sub"]), event["units"], Decimal(event["rate"])
            self._orders[order.id] = order
            self._by_link[order.link].append(order.id)
            self._next_order = max(self._next_order, order.id + 1)
            self._balance -= order.charge
            if order.subscription is not None:
                # Given back when it ends by itself; a cancel before then settles it instead.
                due = subscription_end(order, self._stage)
                refund = subscription_refund_at(order, due, self._stage)
            else:
                due = order.created + self._stage * (1 if order.outcome == "Canceled" else 3)
                refund = order.charge - net_charge(order)
            if refund:
                heapq.heappush(self._refunds, (due, order.id, refund))
        elif kind == "cancel":
            order = self._orders[event["id"]]
            order.canceled_at = event["at"]
            if not order.settled:
                order.settled = True
                sub = order.subscription is not None
                self._balance += subscription_refund_at(order, event["at"], self._stage) if sub else order.charge
        elif kind == "refill":
            self._refills[event["id"]] = (event["order"], event["created"])
            self._next_refill = max(self._next_refill, event["id"] + 1)
