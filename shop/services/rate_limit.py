"""Fixed-window counters in the cache (Redis in production): cheap limits on API use."""

from __future__ import annotations

import time

from django.core.cache import cache


def rate_limit_exceeded(*, bucket: str, limit: int, window: int) -> bool:
    """Count one hit in ``bucket``; True once more than ``limit`` hits fell in the current ``window`` seconds."""
    if limit <= 0:
        return False
    key = f"rate:{bucket}:{int(time.time() // window)}"
    cache.add(key, 0, timeout=window + 1)
    try:
        hits = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        hits = 1
    return hits > limit


def rate_limit_count(*, bucket: str, window: int) -> int:
    """Hits counted so far in the current window, without counting one more."""
    return int(cache.get(f"rate:{bucket}:{int(time.time() // window)}", 0))
