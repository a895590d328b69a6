"""A logging filter that masks anything shaped like an API key parameter, or like a Stripe key or webhook secret;
and production's JSON formatter, which masks them in every text field it writes."""

from __future__ import annotations

import logging
import re
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

_KEY_PATTERNS = [
    # form bodies and query strings: key=abc&action=...
    re.compile(r"(?i)(\b(?:api_?)?key=)[^&\s'\"]+"),
    # JSON and dict reprs: "key": "abc" / 'api_key': 'abc'
    re.compile(r"""(?i)(["'](?:api_?)?key["']\s*:\s*["'])[^"']+"""),
    # Stripe's secret and restricted keys and webhook signing secrets, wherever they appear (its library logs replies)
    re.compile(r"\b((?:sk|rk)_(?:live|test)_|whsec_)[A-Za-z0-9*]+"),
]


def _redact(text: str) -> str:
    for pattern in _KEY_PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record whose text carries a ``key`` parameter, masking its value.

    Django attaches the request to the records of ``django.request``; its repr
    carries the query string, so a key sent in a URL would ride along to every
    handler: such a record loses the request.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        query = getattr(getattr(record, "request", None), "META", {}).get("QUERY_STRING", "")
        if query and _redact(query) != query:
            record.request = None
        return True


class JsonFormatter(BaseJsonFormatter):
    """One JSON object per record (python-json-logger), every text field redacted as the filter redacts messages.

    The filter masks the message; the formatter also writes the traceback and a record's extra fields,
    which the filter does not read. The request Django attaches to ``django.request`` records is left
    out: its path is in the message, and its repr would carry the query string.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        super().__init__(*args, **kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _redact(value) if isinstance(value, str) else value for key, value in log_data.items()}
