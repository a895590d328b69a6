"""A logging filter that masks anything shaped like an API key parameter, or like a Stripe key or webhook secret."""

from __future__ import annotations

import logging
import re

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
