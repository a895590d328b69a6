"""Transport failures the sandbox server plays on the wire instead of (or after) a normal reply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["FAULT_KINDS", "Fault"]

FAULT_KINDS = frozenset({"slow", "error500", "html", "malformed", "drop", "huge", "reply"})


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
