"""The one place that talks HTTP to an API v2 panel.

Every action goes through ``PanelClient._call``: it sets both timeouts, never
retries by itself (a repeated ``add`` could buy an order twice), bounds the
size of the reply, maps every failure onto ``panelapi.exceptions`` and reports
one ``CallRecord`` per call to the ``on_call`` hook, whatever the outcome.
Reading the decoded replies into ``panelapi.types`` is ``panelapi.replies``'s job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError

from . import parse, replies
from .exceptions import (
    PanelBadResponse,
    PanelError,
    PanelMisconfigured,
    PanelOutcomeUnknown,
    PanelRateLimited,
    PanelRefused,
    PanelTimeout,
    PanelUnreachable,
)
from .types import (
    AddResult,
    Balance,
    CancelResult,
    ItemError,
    OrderStatus,
    RefillResult,
    RefillStatus,
    ServiceList,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The most ids one multi-id call may carry (the API's own limit).
BATCH_LIMIT = 100
#: How much of a reply an audit record keeps.
EXCERPT_CHARS = 2000
#: How much of one parameter an audit record keeps (comments can be long).
PARAM_CHARS = 500
USER_AGENT = "smm-shop-panel-client/1.0"

Params = Mapping[str, str | int | None]


class Outcome:
    OK = "ok"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"
    MISCONFIGURED = "misconfigured"


_OUTCOME_OF: list[tuple[type[PanelError], str]] = [
    (PanelRefused, Outcome.REFUSED),
    (PanelUnreachable, Outcome.UNREACHABLE),
    (PanelOutcomeUnknown, Outcome.UNKNOWN),
    (PanelMisconfigured, Outcome.MISCONFIGURED),
]


@dataclass(frozen=True)
class CallRecord:
    """What one call did, with secrets already removed: the audit trail's raw material."""

    action: str
    params: dict[str, str]
    http_status: int | None
    duration_ms: int
    outcome: str
    error: str = ""
    excerpt: str = ""


@dataclass(frozen=True)
class StatusBatch:
    """The result of one multi-status call: per-id results, or the error that failed the batch."""

    order_ids: tuple[str, ...]
    results: dict[str, OrderStatus | ItemError] = field(default_factory=dict)
    error: PanelError | None = None


@dataclass
class _Reply:
    http_status: int | None = None
    text: str = ""


class PanelClient:
    """A client for one panel account. Not thread-safe: make one per thread or task."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_response_bytes: int = 32 * 1024 * 1024,
        on_call: Callable[[CallRecord], None] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self._key = key
        self.timeout = (connect_timeout, read_timeout)
        self.max_response_bytes = max_response_bytes
        self.on_call = on_call
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"<PanelClient {self.url}>"

    def close(self) -> None:
        self._session.close()

    # Actions ------------------------------------------------------------------

    def services(self) -> ServiceList:
        return self._call("services", {}, replies.parse_services)

    def add(self, *, service: str | int, **fields: str | int | None) -> AddResult:
        """Place an order. On ``PanelOutcomeUnknown`` the order may exist upstream."""
        return self._call("add", {"service": service, **fields}, replies.parse_add)

    def status(self, order_id: str | int) -> OrderStatus:
        return self._call("status", {"order": order_id}, replies.parse_single_status)

    def status_many(self, order_ids: Iterable[str | int]) -> dict[str, OrderStatus | ItemError]:
        """Status of at most ``BATCH_LIMIT`` orders in one call, keyed by id."""
        ids = _unique_ids(order_ids)
        if len(ids) > BATCH_LIMIT:
            raise ValueError(f"at most {BATCH_LIMIT} ids per call, got {len(ids)}")
        if not ids:
            return {}
        return self._call("status", {"orders": ",".join(ids)}, lambda data: replies.parse_multi_status(data, ids))

    def iter_status_batches(self, order_ids: Iterable[str | int]) -> Iterator[StatusBatch]:
        """Status of any number of orders, one call per ``BATCH_LIMIT`` ids; a failed batch does not stop the rest."""
        ids = _unique_ids(order_ids)
        for start in range(0, len(ids), BATCH_LIMIT):
            chunk = tuple(ids[start : start + BATCH_LIMIT])
            try:
                yield StatusBatch(chunk, self.status_many(chunk))
            except PanelError as exc:
                yield StatusBatch(chunk, error=exc)

    def statuses(self, order_ids: Iterable[str | int]) -> dict[str, OrderStatus | ItemError]:
        """Like ``iter_status_batches`` but raises the first batch failure."""
        results: dict[str, OrderStatus | ItemError] = {}
        for batch in self.iter_status_batches(order_ids):
            if batch.error is not None:
                raise batch.error
            results.update(batch.results)
        return results

    def balance(self) -> Balance:
        return self._call("balance", {}, replies.parse_balance)

    def refill(self, order_id: str | int) -> str:
        """Ask for a refill of one order; returns the refill id."""
        return self._call("refill", {"order": order_id}, replies.parse_refill)

    def refill_many(self, order_ids: Iterable[str | int]) -> list[RefillResult]:
        ids = _limited_ids(order_ids)
        return self._call("refill", {"orders": ",".join(ids)}, replies.parse_refill_many)

    def refill_status(self, refill_id: str | int) -> str:
        return self._call("refill_status", {"refill": refill_id}, replies.parse_refill_status)

    def refill_status_many(self, refill_ids: Iterable[str | int]) -> list[RefillStatus]:
        ids = _limited_ids(refill_ids)
        return self._call("refill_status", {"refills": ",".join(ids)}, replies.parse_refill_status_many)

    def cancel(self, order_ids: Iterable[str | int]) -> list[CancelResult]:
        ids = _limited_ids(order_ids)
        return self._call("cancel", {"orders": ",".join(ids)}, replies.parse_cancel_many)

    # The choke point ------------------------------------------------------------

    def _call(self, action: str, params: Params, parse_reply: Callable[[Any], T]) -> T:
        clean = {name: str(value) for name, value in params.items() if value is not None}
        reply = _Reply()
        started = time.monotonic()
        try:
            data = self._decode(action, self._send(action, clean, reply), reply)
            try:
                result = parse_reply(data)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # str() of a KeyError is the repr of its argument: quoted, unlike every other message.
                detail = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
                raise PanelBadResponse(
                    f"{action}: unexpected reply shape ({self._redact(detail)[:200]})",
                    action=action,
                    http_status=reply.http_status,
                ) from exc
        except PanelError as exc:
            self._record(action, clean, reply, started, _outcome_of(exc), exc.message)
            raise
        self._record(action, clean, reply, started, Outcome.OK, "")
        return result

    def _send(self, action: str, params: dict[str, str], reply: _Reply) -> bytes:
        scheme = urlsplit(self.url).scheme
        if scheme not in {"http", "https"} or not urlsplit(self.url).hostname:
            raise PanelMisconfigured(f"{action}: the API URL must be an http(s) URL", action=action)
        if not self._key:
            raise PanelMisconfigured(f"{action}: no API key is set", action=action)
        host = urlsplit(self.url).hostname
        body = {"key": self._key, "action": action, **params}
        try:
            response = self._session.post(
                self.url,
                data=body,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            )
        except requests.exceptions.ConnectTimeout as exc:
            raise PanelUnreachable(f"{action}: connecting to {host} timed out", action=action) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise PanelTimeout(f"{action}: {host} did not answer in time", action=action) from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema) as exc:
            raise PanelMisconfigured(f"{action}: the API URL is not valid", action=action) from exc
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise PanelUnreachable(f"{action}: could not connect to {host}", action=action) from exc
            raise PanelOutcomeUnknown(f"{action}: the connection to {host} broke", action=action) from exc
        except requests.exceptions.RequestException as exc:
            raise PanelOutcomeUnknown(f"{action}: request to {host} failed", action=action) from exc
        reply.http_status = response.status_code
        try:
            return self._read_bounded(action, response)
        finally:
            response.close()

    def _read_bounded(self, action: str, response: requests.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise PanelBadResponse(
                        f"{action}: reply larger than {self.max_response_bytes} bytes",
                        action=action,
                        http_status=response.status_code,
                    )
                chunks.append(chunk)
        except requests.exceptions.ConnectionError as exc:
            if isinstance(exc, requests.exceptions.ReadTimeout) or "timed out" in str(exc).lower():
                raise PanelTimeout(f"{action}: the reply stopped coming", action=action) from exc
            raise PanelOutcomeUnknown(f"{action}: the connection broke during the reply", action=action) from exc
        except requests.exceptions.RequestException as exc:
            raise PanelOutcomeUnknown(f"{action}: the reply could not be read", action=action) from exc
        return b"".join(chunks)

    def _decode(self, action: str, raw: bytes, reply: _Reply) -> Any:
        status = reply.http_status or 0
        reply.text = self._redact(raw[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace"))[:EXCERPT_CHARS]
        try:
            data = parse.loads(raw.decode("utf-8-sig", errors="replace")) if raw.strip() else None
        except ValueError:
            data = _NOT_JSON
        message = parse.error_message(data) if isinstance(data, dict) and len(data) == 1 else None
        if message is not None and status < 500:
            raise PanelRefused(self._redact(message), action=action, http_status=status)
        if status == 429:
            raise PanelRateLimited(f"{action}: the panel is rate limiting (HTTP 429)", action=action, http_status=status)
        kind = "an HTML page" if raw.lstrip()[:1] == b"<" else "a reply that is not JSON"
        if status >= 300 or status < 200:
            detail = f" with {kind}" if data is _NOT_JSON else ""
            raise PanelBadResponse(f"{action}: HTTP {status} from the panel{detail}", action=action, http_status=status)
        if data is _NOT_JSON:
            raise PanelBadResponse(f"{action}: the panel sent {kind}", action=action, http_status=status)
        if data is None:
            raise PanelBadResponse(f"{action}: the panel sent an empty reply", action=action, http_status=status)
        return data

    def _record(self, action: str, params: dict[str, str], reply: _Reply, started: float, outcome: str, error: str) -> None:
        if self.on_call is None:
            return
        record = CallRecord(
            action=action,
            params={name: self._redact(value)[:PARAM_CHARS] for name, value in params.items()},
            http_status=reply.http_status,
            duration_ms=round((time.monotonic() - started) * 1000),
            outcome=outcome,
            error=self._redact(error),
            excerpt=reply.text,
        )
        try:
            self.on_call(record)
        except Exception:
            # Losing one audit row must not turn a placed order into an error.
            logger.exception("could not store the audit record of a %s call", action)

    def _redact(self, text: str) -> str:
        """Remove the key from anything the panel echoes back into a message or excerpt."""
        return text.replace(self._key, "[key]") if self._key and len(self._key) >= 4 else text


_NOT_JSON = object()


def _outcome_of(exc: PanelError) -> str:
    for kind, outcome in _OUTCOME_OF:
        if isinstance(exc, kind):
            return outcome
    return Outcome.UNKNOWN


def _never_connected(exc: BaseException) -> bool:
    """True when the failure happened before a connection existed (DNS, refused, connect timeout)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        # urllib3's NewConnectionError and NameResolutionError derive from ConnectTimeoutError.
        if isinstance(current, ConnectTimeoutError):
            return True
        if isinstance(current, BaseException):
            stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__, *current.args])
    return False


def _unique_ids(values: Iterable[str | int]) -> list[str]:
    return list(dict.fromkeys(parse.to_id(value) for value in values))


def _limited_ids(values: Iterable[str | int]) -> list[str]:
    ids = _unique_ids(values)
    if not 0 < len(ids) <= BATCH_LIMIT:
        raise ValueError(f"between 1 and {BATCH_LIMIT} ids per call, got {len(ids)}")
    return ids
