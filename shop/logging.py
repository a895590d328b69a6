"""A logging filter that masks anything shaped like an API key parameter."""

from __future__ import annotations

import logging
import re

_KEY_PATTERNS = [
    # form bodies and query strings: key=abc&action=...
    re.compile(r"(?i)(\b(?:api_?)?key=)[^&\s'\"]+"),
    # JSON and dict reprs: "key": "abc" / 'api_key': 'abc'
    re.compile(r"""(?i)(["'](?:api_?)?key["']\s*:\s*["'])[^"']+"""),
]


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record whose text carries a ``key`` parameter, masking its value."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for pattern in _KEY_PATTERNS:
            redacted = pattern.sub(r"\1[redacted]", redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
