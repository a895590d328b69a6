"""Fixed-window counters: cheap limits on API use, sign-ups and password reset mails.

With ``RATE_LIMIT_REDIS_URL`` set (production: the shop's Redis), all the
limits of one call are counted in a single pipelined round trip (INCRBY and
EXPIRE NX per window key). Without it, the Django cache counts them, which is
exact within one process (development and most tests).
If Redis does not answer, the limits are not applied for that call (logged):
an outage of the counters must not stop the API or sign-ups.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cache as memoize

import redis
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` hits per ``window`` seconds in ``bucket``; a limit of 0 or less means none.

    One call counts ``cost`` hits: a call that touches 100 ids costs 100 against a limit of ids.
    """

    bucket: str
    limit: int
    window: int
    cost: int = 1

    def key(self, now: float) -> str:
        return f"rate:{self.bucket}:{int(now // self.window)}"


def rate_limit_hit(*limits: Limit) -> list[bool]:
    """Count each limit's cost in its bucket; for each, whether it is now over its limit."""
    active = [limit for limit in limits if limit.limit > 0 and limit.cost > 0]
    if not active:
        return [False] * len(limits)
    now = time.time()
    counts = dict(zip(active, _count(active, now), strict=True))
    return [limit in counts and counts[limit] > limit.limit for limit in limits]


def rate_limit_count(limit: Limit) -> int:
    """Hits counted so far in the current window, without counting one more."""
    key = limit.key(time.time())
    client = _redis()
    if client is None:
        return int(cache.get(key, 0))
    try:
        return int(client.get(key) or 0)
    except redis.RedisError as exc:
        logger.warning("Rate limits not checked: %s", exc)
        return 0


def _count(limits: list[Limit], now: float) -> list[int]:
    client = _redis()
    if client is None:
        return [_cache_incr(limit.key(now), limit.window + 1, limit.cost) for limit in limits]
    pipe = client.pipeline(transaction=False)
    for limit in limits:
        key = limit.key(now)
        pipe.incrby(key, limit.cost)
        pipe.expire(key, limit.window + 1, nx=True)
    try:
        replies = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("Rate limits not applied: %s", exc)
        return [0] * len(limits)
    return [int(count) for count in replies[::2]]


def _cache_incr(key: str, timeout: int, cost: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key, cost)
    except ValueError:  # expired between add and incr
        cache.set(key, cost, timeout=timeout)
        return cost


@memoize
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def _redis() -> redis.Redis | None:
    url = settings.RATE_LIMIT_REDIS_URL
    return _client_for(url) if url else None
