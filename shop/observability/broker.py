"""The Celery broker as monitoring sees it: whether it answers, and how many messages wait in each queue.

With Redis (production's broker) a queue is a list named after it, plus one list per priority step
that kombu adds (``<queue>\\x06\\x163`` and so on): its depth is the sum of their lengths, read in one
pipelined round trip. Other brokers (the SQLite file ``make run`` uses without Redis) report no depth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis
from kombu import Connection
from kombu.transport.redis import PRIORITY_STEPS, Channel

REDIS_SCHEMES = {"redis", "rediss"}


def broker_ping(*, url: str, transport_options: Mapping[str, Any], timeout: float) -> None:
    """Connect to the broker once, without retrying; raises what the transport raises when it cannot."""
    with Connection(url, transport_options=dict(transport_options), connect_timeout=timeout) as connection:
        connection.ensure_connection(max_retries=0)


def queue_depths(*, url: str, queues: Iterable[str], transport_options: Mapping[str, Any], timeout: float) -> dict[str, int] | None:
    """Messages waiting per queue (not those a worker holds unacknowledged); None for a broker other than Redis.

    Raises ``redis.RedisError`` when the broker does not answer.
    """
    if url.split("://", 1)[0] not in REDIS_SCHEMES:
        return None
    queues = list(queues)
    prefix = transport_options.get("global_keyprefix", "")
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        with client.pipeline(transaction=False) as pipe:
            for queue in queues:
                for key in _keys(queue):
                    pipe.llen(prefix + key)
            lengths = pipe.execute()
    finally:
        client.close()
    steps = len(PRIORITY_STEPS)
    return {queue: sum(lengths[index * steps : (index + 1) * steps]) for index, queue in enumerate(queues)}


def _keys(queue: str) -> list[str]:
    return [f"{queue}{Channel.sep}{step}" if step else queue for step in PRIORITY_STEPS]
