"""The fixed-window counters (API, sign-up and password reset limits), in the Django cache and in Redis (one round trip per call)."""

from __future__ import annotations

import uuid

import pytest
import redis

from shop.core.limits import Limit, _client_for, rate_limit_count, rate_limit_hit
from tests.conftest import redis_url


@pytest.fixture(params=["cache", pytest.param("redis", marks=pytest.mark.redis)])
def counters(request, settings):
    """Each test runs against both stores; Redis buckets get a unique name and are removed afterwards."""
    settings.RATE_LIMIT_REDIS_URL = redis_url() if request.param == "redis" else ""
    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    if request.param == "redis":
        client = redis.Redis.from_url(settings.RATE_LIMIT_REDIS_URL)
        for key in client.scan_iter(f"rate:{prefix}*"):
            client.delete(key)


def test_a_limit_lets_its_hits_through_then_refuses(counters) -> None:
    limit = Limit(f"{counters}:a", 3, 60)
    assert [rate_limit_hit(limit)[0] for _ in range(5)] == [False, False, False, True, True]
    assert rate_limit_count(limit) == 5


def test_limits_of_one_call_are_counted_apart(counters) -> None:
    every = Limit(f"{counters}:all", 3, 60)
    orders = Limit(f"{counters}:add", 1, 60)
    assert rate_limit_hit(every, orders) == [False, False]
    assert rate_limit_hit(every, orders) == [False, True]
    assert rate_limit_hit(every) == [False]
    assert rate_limit_hit(every) == [True]
    assert rate_limit_count(orders) == 2


def test_a_hit_counts_its_cost(counters) -> None:
    ids = Limit(f"{counters}:ids", 150, 60, cost=100)
    assert rate_limit_hit(ids) == [False]
    assert rate_limit_hit(ids, Limit(f"{counters}:calls", 5, 60)) == [True, False]
    assert rate_limit_count(Limit(f"{counters}:ids", 150, 60)) == 200
    assert rate_limit_hit(Limit(f"{counters}:ids", 150, 60, cost=0)) == [False]  # a call that names no ids counts nothing
    assert rate_limit_count(ids) == 200


def test_reading_a_count_does_not_add_to_it(counters) -> None:
    limit = Limit(f"{counters}:read", 1, 60)
    assert rate_limit_count(limit) == 0
    assert rate_limit_count(limit) == 0
    assert rate_limit_hit(limit) == [False]


def test_a_limit_of_zero_is_no_limit_and_counts_nothing(counters) -> None:
    off = Limit(f"{counters}:off", 0, 60)
    assert rate_limit_hit(off, off, off) == [False, False, False]
    assert rate_limit_count(off) == 0


@pytest.mark.redis
def test_redis_counters_expire_with_their_window(settings) -> None:
    settings.RATE_LIMIT_REDIS_URL = redis_url()
    limit = Limit(f"test-{uuid.uuid4().hex}", 5, 60)
    rate_limit_hit(limit)
    client = redis.Redis.from_url(settings.RATE_LIMIT_REDIS_URL)
    [key] = list(client.scan_iter(f"rate:{limit.bucket}:*"))
    assert 0 < client.ttl(key) <= 61
    client.delete(key)


def test_counters_that_do_not_answer_let_calls_through(settings, caplog) -> None:
    settings.RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:9/0"  # the discard port: nothing listens
    _client_for.cache_clear()
    limit = Limit("unreachable", 1, 60)
    assert rate_limit_hit(limit, limit) == [False, False]
    assert rate_limit_count(limit) == 0
    assert "Rate limits not applied" in caplog.text
