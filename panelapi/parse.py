"""Tolerant readers for the values real panels send (api-v2-notes.md, "Quirks").

Each raises ``ValueError`` with a short reason when a value cannot be read, so
callers decide whether that fails one item or the whole reply.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .types import UpstreamStatus

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")

_STATUS_WORDS: dict[str, UpstreamStatus] = {
    "pending": UpstreamStatus.PENDING,
    "in progress": UpstreamStatus.IN_PROGRESS,
    "inprogress": UpstreamStatus.IN_PROGRESS,
    "in_progress": UpstreamStatus.IN_PROGRESS,
    # Drip-feed parents and subscriptions that are still running; the shop reads it by the order's type.
    "active": UpstreamStatus.ACTIVE,
    "paused": UpstreamStatus.PAUSED,
    "expired": UpstreamStatus.EXPIRED,
    "processing": UpstreamStatus.PROCESSING,
    "completed": UpstreamStatus.COMPLETED,
    "complete": UpstreamStatus.COMPLETED,
    "partial": UpstreamStatus.PARTIAL,
    "canceled": UpstreamStatus.CANCELED,
    "cancelled": UpstreamStatus.CANCELED,
    # The panel gave all the money back: for us that is a cancellation.
    "refunded": UpstreamStatus.CANCELED,
}


def loads(text: str) -> Any:
    """Decode JSON with floats as ``Decimal``; accept the trailing commas some panels (and the seed document) send."""
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        repaired = _TRAILING_COMMA.sub(r"\1", text)
        if repaired == text:
            raise
        return json.loads(repaired, parse_float=Decimal)


def to_decimal(value: Any) -> Decimal | None:
    """Read a number sent as a number or a string, with a decimal point or comma; blank is None."""
    if value is None or isinstance(value, bool):
        if value is None:
            return None
        raise ValueError("a boolean is not an amount")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace(" ", "").replace("\u00a0", "")
        if not text:
            return None
        if "," in text:
            # "1,234.5" has a thousands comma; "2,5" a decimal comma.
            text = text.replace(",", "") if "." in text else text.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a number: {value[:40]!r}") from None
    else:
        raise ValueError(f"not a number: {type(value).__name__}")
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


#: Counts beyond a signed 64-bit integer, and amounts of money this large, are garbage from any panel.
MAX_INT = 2**63 - 1
MAX_AMOUNT = Decimal("1e15")


def to_int(value: Any) -> int | None:
    """Read a whole number (remains, start count, min, max); blank is None."""
    number = to_decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(f"not a whole number: {number}")
    if abs(number) > MAX_INT:
        raise ValueError(f"number out of range: {number:.3e}")
    return int(number)


def to_amount(value: Any) -> Decimal | None:
    """Read an amount of money (a balance, an order's cost); blank is None."""
    number = to_decimal(value)
    if number is not None and abs(number) >= MAX_AMOUNT:
        raise ValueError(f"amount out of range: {number:.3e}")
    return number


def to_bool(value: Any) -> bool:
    """Read a flag sent as a boolean, 0/1 or a word; missing is False."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"", "0", "false", "no", "off", "n"}:
            return False
        if text in {"1", "true", "yes", "on", "y"}:
            return True
    raise ValueError(f"not a flag: {str(value)[:40]!r}")


def to_id(value: Any) -> str:
    """Read an order, service or refill id sent as an integer or a string."""
    if isinstance(value, bool) or value is None:
        raise ValueError("missing id")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, str) and value.strip() and len(value.strip()) <= 64:
        return value.strip()
    raise ValueError(f"not an id: {str(value)[:40]!r}")


def to_text(value: Any, *, limit: int = 10_000) -> str:
    """Read a free-text field; numbers are turned into text, other shapes refused."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()[:limit]
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"not text: {type(value).__name__}")


def to_status(value: Any) -> tuple[UpstreamStatus, str]:
    """Normalise a status word; an unknown word gives UNKNOWN with the raw word kept."""
    raw = to_text(value, limit=64)
    if not raw:
        raise ValueError("missing status")
    key = " ".join(raw.lower().replace("-", " ").split())
    return _STATUS_WORDS.get(key, UpstreamStatus.UNKNOWN), raw


def error_message(value: Any) -> str | None:
    """The message of an ``{"error": ...}`` object, or None if the value is not one."""
    if isinstance(value, dict) and "error" in value:
        message = value["error"]
        if isinstance(message, str):
            return message.strip()[:500] or "Unspecified error"
        return json.dumps(message, default=str)[:500]
    return None
