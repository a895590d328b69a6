"""A stateful API v2 panel in memory: the logic behind the sandbox server.

`SandboxPanel.handle` answers one API call. Orders move through their
statuses as a pure function of the panel clock and a per-order outcome drawn
from the seed, so a test can replay a run exactly and fast-forward with
`advance()` instead of sleeping.
"""

from __future__ import annotations

import heapq
import hmac
import json
import math
import random
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from .catalogue import SandboxService, build_catalogue

__all__ = ["FAULT_KINDS", "AddError", "Fault", "SandboxPanel", "parse_add"]

PLACES = Decimal("0.00001")
ZERO = Decimal("0")
FIRST_ORDER_ID = 10001
MAX_IDS = 100
FAULT_KINDS = frozenset({"slow", "error500", "html", "malformed", "drop", "huge", "reply"})
PACKAGE_TYPES = frozenset({"Package", "Custom Comments Package"})
LINK_RE = re.compile(r"https?://[^\s]+")
INT_RE = re.compile(r"[+-]?[0-9]+")
LINE_SPLIT = re.compile(r"\r?\n")

# Per service type: the fields `add` needs besides `link`, and where the
# quantity comes from: the `quantity` field, the line count of another field,
# or None for packages (one unit, charged the flat rate).
TYPE_RULES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "Default": (("quantity",), "quantity"),
    "Package": ((), None),
    "Custom Comments": (("comments",), "comments"),
    "Custom Comments Package": (("comments",), None),
    "Mentions": (("quantity", "usernames"), "quantity"),
    "Mentions with Hashtags": (("quantity", "usernames", "hashtags"), "quantity"),
    "Mentions Custom List": (("usernames",), "usernames"),
    "Mentions Hashtag": (("quantity", "hashtag"), "quantity"),
    "Mentions User Followers": (("quantity", "username"), "quantity"),
    "Mentions Media Likers": (("quantity", "media"), "quantity"),
    "Comment Likes": (("quantity", "username"), "quantity"),
    "Poll": (("quantity", "answer_number"), "quantity"),
    "Invites from Groups": (("quantity", "groups"), "quantity"),
    "SEO": (("quantity", "keywords"), "quantity"),
}


def money(value: Decimal) -> str:
    """Format an amount the way the upstream does: five decimals."""
    return str(value.quantize(PLACES, ROUND_HALF_UP))


def _err(message: str) -> dict[str, str]:
    return {"error": message}


class AddError(Exception):
    """An `add` refused; the message is the panel's error string."""


@dataclass(frozen=True, slots=True)
class AddRequest:
    """A validated `add`: total quantity (runs included) and its charge."""

    link: str
    quantity: int
    charge: Decimal


def _positive_int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def _runs(service: SandboxService, params: Mapping[str, str]) -> int:
    runs = (params.get("runs") or "").strip()
    interval = (params.get("interval") or "").strip()
    if not runs and not interval:
        return 1
    if not service.dripfeed:
        raise AddError("Drip-feed is not available for this service")
    count = _positive_int(runs)
    if count is None or _positive_int(interval) is None:
        raise AddError("Incorrect request")
    return count


def parse_add(service: SandboxService, params: Mapping[str, str]) -> AddRequest:
    """Validate an `add` for `service` as a real panel does, in the same order."""
    rule = TYPE_RULES.get(service.type)
    if rule is None:
        raise AddError("Incorrect request")
    required, source = rule
    values: dict[str, str] = {}
    for name in ("link", *required):
        values[name] = (params.get(name) or "").strip()
        if not values[name]:
            raise AddError("Incorrect request")
    if source == "quantity":
        if not INT_RE.fullmatch(values["quantity"]):
            raise AddError("Incorrect request")
        quantity = int(values["quantity"])
    elif source is None:
        quantity = 1
    else:
        quantity = sum(1 for line in LINE_SPLIT.split(values[source]) if line.strip())
    if "answer_number" in values and _positive_int(values["answer_number"]) is None:
        raise AddError("Incorrect request")
    if not LINK_RE.fullmatch(values["link"]):
        raise AddError("Bad link")
    runs = _runs(service, params)
    if source is None:
        return AddRequest(values["link"], 1, service.rate.quantize(PLACES, ROUND_HALF_UP))
    if quantity < service.min:
        raise AddError(f"Quantity less than minimal {service.min}")
    if quantity > service.max:
        raise AddError(f"Quantity more than maximum {service.max}")
    charge = (service.rate * quantity * runs / 1000).quantize(PLACES, ROUND_HALF_UP)
    return AddRequest(values["link"], quantity * runs, charge)


def id_list(raw: str | None) -> list[str] | None:
    """Split a comma-separated id list; None when empty or over the limit."""
    tokens = [token.strip() for token in (raw or "").split(",") if token.strip()]
    return tokens if 0 < len(tokens) <= MAX_IDS else None


class EventLog:
    """An append-only JSON-lines file of state changes, replayed at start-up."""

    def __init__(self, path: str | Path) -> None:
        """Use the log at `path`; the file is created on the first event."""
        self.path = Path(path)

    def replay(self, apply: Callable[[dict[str, Any]], None], first: dict[str, Any]) -> None:
        """Feed every stored event to `apply`; start a new log with `first`."""
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        events = 0
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash mid-write
            apply(event)
            events += 1
        if text and not text.endswith("\n"):
            self._write("\n")  # so the next event does not extend the torn line
        if not events:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.append(first)

    def append(self, event: Mapping[str, Any]) -> None:
        """Write one event as a line."""
        self._write(json.dumps(event, separators=(",", ":")) + "\n")

    def _write(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)


@dataclass
class Fault:
    """A transport failure the server plays instead of (or after) a normal reply.

    `process` says whether the request still reaches the panel state before the
    fault takes effect; None means the realistic default (a slow or dropped
    reply usually follows a processed request, a proxy error page does not).
    `times` = 0 keeps the fault until `clear_faults()`.

    Kind "reply" answers HTTP 200 with `body` instead of the real reply: any
    JSON value (a wrong shape, an unknown status word, ids never asked for),
    or a `str` sent as it is. The panel itself sent it, so by default the
    request was processed first.
    """

    kind: str
    action: str | None = None
    times: int = 1
    delay: float = 0.0
    process: bool | None = None
    status: int = 502
    size: int = 20_000_000
    body: Any = None

    def __post_init__(self) -> None:
        """Reject faults the server could not play."""
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.times < 0 or self.delay < 0 or self.size < 1:
            raise ValueError("times and delay must be >= 0, size >= 1")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if (self.kind == "reply") != (self.body is not None):
            raise ValueError("a body goes with kind 'reply', and only with it")

    @property
    def processes(self) -> bool:
        """Whether the request is applied to the panel state."""
        if self.process is None:
            return self.kind in ("slow", "drop", "reply")
        return self.process

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from a JSON object, refusing unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Return the fault as a JSON-able dict."""
        return asdict(self)


@dataclass(slots=True)
class _Order:
    id: int
    service: int
    type: str
    link: str
    quantity: int
    charge: Decimal
    created: float
    outcome: str  # final status drawn at creation: Completed, Partial or Canceled
    final_remains: int
    start_count: int
    refill_ok: bool
    cancel_ok: bool
    canceled_at: float | None = None
    settled: bool = False  # refund (if any) already returned to the balance


@dataclass(frozen=True, slots=True)
class _View:
    status: str
    remains: int
    start_count: int
    charge: Decimal
    final: bool


class SandboxPanel:
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
        self._orders: dict[int, _Order] = {}
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
                return 200, _err("Invalid API key")
            handler = self._actions.get(action)
            if handler is None:
                return 200, _err("Incorrect request")
            now = self.now()
            self._settle(now)
            return 200, handler(params, now)

    def _do_services(self, params: Mapping[str, str], now: float) -> bytes:
        if self._services_json is None:
            payload = [service.to_api() for service in self._services.values()]
            self._services_json = json.dumps(payload, separators=(",", ":")).encode()
        return self._services_json

    def _do_balance(self, params: Mapping[str, str], now: float) -> object:
        return {"balance": money(self._balance), "currency": self._currency}

    def _do_add(self, params: Mapping[str, str], now: float) -> object:
        raw_id = (params.get("service") or "").strip()
        service = self._services.get(int(raw_id)) if raw_id.isascii() and raw_id.isdigit() else None
        if service is None:
            return _err("Incorrect service ID")
        try:
            request = parse_add(service, params)
        except AddError as exc:
            return _err(str(exc))
        if self._reject_duplicates and any(not self._view(self._orders[oid], now).final for oid in self._by_link[request.link]):
            return _err("You have active order with this link. Please wait until order being completed.")
        if request.charge > self._balance:
            return _err("Not enough funds on balance")
        order_id = self._next_order
        outcome, remains, start_count = self._draw(order_id, request.quantity)
        self._record(
            {
                "ev": "add",
                "id": order_id,
                "service": service.service,
                "type": service.type,
                "link": request.link,
                "quantity": request.quantity,
                "charge": str(request.charge),
                "created": now,
                "outcome": outcome,
                "remains": remains,
                "start_count": start_count,
                "refill": service.refill,
                "cancel": service.cancel,
            }
        )
        return {"order": order_id}

    def _do_status(self, params: Mapping[str, str], now: float) -> object:
        single = (params.get("order") or "").strip()
        if single:
            order = self._find(single)
            return self._status_reply(order, now) if order else _err("Incorrect order ID")
        tokens = id_list(params.get("orders"))
        if tokens is None:
            return _err("Incorrect request")
        replies: dict[str, object] = {}
        for token in tokens:
            order = self._find(token)
            replies[token] = self._status_reply(order, now) if order else _err("Incorrect order ID")
        return replies

    def _do_refill(self, params: Mapping[str, str], now: float) -> object:
        single = (params.get("order") or "").strip()
        if single:
            result = self._refill_one(single, now)
            return {"refill": str(result)} if isinstance(result, int) else _err(result)
        tokens = id_list(params.get("orders"))
        if tokens is None:
            return _err("Incorrect request")
        replies = []
        for token in tokens:
            result = self._refill_one(token, now)
            value = result if isinstance(result, int) else _err(result)
            replies.append({"order": _echo(token), "refill": value})
        return replies

    def _do_refill_status(self, params: Mapping[str, str], now: float) -> object:
        single = (params.get("refill") or "").strip()
        if single:
            status = self._refill_status(single, now)
            return {"status": status} if status else _err("Refill not found")
        tokens = id_list(params.get("refills"))
        if tokens is None:
            return _err("Incorrect request")
        return [{"refill": _echo(token), "status": self._refill_status(token, now) or _err("Refill not found")} for token in tokens]

    def _do_cancel(self, params: Mapping[str, str], now: float) -> object:
        tokens = id_list(params.get("orders"))
        if tokens is None:
            return _err("Incorrect request")
        replies = []
        for token in tokens:
            order = self._find(token)
            value: object
            if order is None:
                value = _err("Incorrect order ID")
            elif not order.cancel_ok or self._view(order, now).final:
                value = _err("Order not eligible for cancel.")
            else:
                self._record({"ev": "cancel", "id": order.id, "at": now})
                value = 1
            replies.append({"order": _echo(token), "cancel": value})
        return replies

    # -- orders over time -----------------------------------------------------

    def _draw(self, order_id: int, quantity: int) -> tuple[str, int, int]:
        # Seeded per order, so an outcome does not depend on the call order.
        rng = random.Random(f"{self._seed}:{order_id}")
        roll, start_count, share = rng.random(), rng.randint(0, 50000), rng.uniform(0.05, 0.60)
        if roll < 0.80 or (roll < 0.92 and quantity < 2):
            return "Completed", 0, start_count
        if roll < 0.92:
            return "Partial", min(quantity - 1, max(1, round(quantity * share))), start_count
        return "Canceled", quantity, start_count

    def _view(self, order: _Order, now: float) -> _View:
        stage = self._stage
        if order.canceled_at is not None:
            started = order.canceled_at >= order.created + stage
            return _View("Canceled", order.quantity, order.start_count if started else 0, ZERO, True)
        elapsed = now - order.created
        if elapsed < stage:
            return _View("Pending", order.quantity, 0, order.charge, False)
        if order.outcome == "Canceled":
            return _View("Canceled", order.quantity, 0, ZERO, True)
        if elapsed < 3 * stage:
            delivered = int((order.quantity - order.final_remains) * (elapsed - stage) / (2 * stage))
            status = "Processing" if order.type in PACKAGE_TYPES else "In progress"
            return _View(status, order.quantity - delivered, order.start_count, order.charge, False)
        return _View(order.outcome, order.final_remains, order.start_count, self._net(order), True)

    def _net(self, order: _Order) -> Decimal:
        """The charge the order keeps once final (Partial keeps the delivered share)."""
        if order.outcome == "Canceled":
            return ZERO
        if order.outcome == "Partial":
            delivered = order.quantity - order.final_remains
            return (order.charge * delivered / order.quantity).quantize(PLACES, ROUND_HALF_UP)
        return order.charge

    def _status_reply(self, order: _Order, now: float) -> dict[str, str]:
        view = self._view(order, now)
        return {
            "charge": "0" if view.status == "Canceled" else money(view.charge),
            "start_count": str(view.start_count),
            "status": view.status,
            "remains": str(view.remains),
            "currency": self._currency,
        }

    def _settle(self, now: float) -> None:
        # The heap is ordered by due time and the clock only moves forward, so
        # each read pops just the refunds that fell due since the last one.
        while self._refunds and self._refunds[0][0] <= now:
            _, order_id, amount = heapq.heappop(self._refunds)
            order = self._orders[order_id]
            if not order.settled:
                order.settled = True
                self._balance += amount

    def _find(self, token: str) -> _Order | None:
        token = token.strip()
        return self._orders.get(int(token)) if token.isascii() and token.isdigit() else None

    def _refill_one(self, token: str, now: float) -> int | str:
        order = self._find(token)
        if order is None:
            return "Incorrect order ID"
        view = self._view(order, now)
        if not (order.refill_ok and view.final and view.status in ("Completed", "Partial")):
            return "Order not eligible for refill."
        refill_id = self._next_refill
        self._record({"ev": "refill", "id": refill_id, "order": order.id, "created": now})
        return refill_id

    def _refill_status(self, token: str, now: float) -> str | None:
        token = token.strip()
        refill = self._refills.get(int(token)) if token.isascii() and token.isdigit() else None
        if refill is None:
            return None
        elapsed = now - refill[1]
        if elapsed < self._stage:
            return "Pending"
        return "In progress" if elapsed < 3 * self._stage else "Completed"

    # -- events: every state change goes through _apply, live or replayed -----

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
            order = _Order(
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
            self._orders[order.id] = order
            self._by_link[order.link].append(order.id)
            self._next_order = max(self._next_order, order.id + 1)
            self._balance -= order.charge
            refund = order.charge - self._net(order)
            if refund:
                due = order.created + self._stage * (1 if order.outcome == "Canceled" else 3)
                heapq.heappush(self._refunds, (due, order.id, refund))
        elif kind == "cancel":
            order = self._orders[event["id"]]
            order.canceled_at = event["at"]
            if not order.settled:
                order.settled = True
                self._balance += order.charge
        elif kind == "refill":
            self._refills[event["id"]] = (event["order"], event["created"])
            self._next_refill = max(self._next_refill, event["id"] + 1)


def _echo(token: str) -> int | str:
    """Echo an id back as the batch replies do: an int when it is one."""
    token = token.strip()
    return int(token) if token.isascii() and token.isdigit() else token
