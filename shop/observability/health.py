"""Health checks (django-health-check's classes): the database, the cache (Redis in production), the broker, providers.

Each check runs with its own time limit, all at once. An active provider is healthy while its
newest successful call (an audit record with outcome ok) is at most ``PROVIDER_HEALTHY_WITHIN``
seconds old; a provider with no call on record at all (a new provider, a fresh install before its
first sync) is healthy, so a start-up is never red for want of calls. Inactive providers are not
checked. The balance poll calls every active provider every ``BALANCE_POLL_INTERVAL`` (300 s), so a
provider that answers is never short of recent calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone
from health_check import Cache, Database
from health_check.base import HealthCheck, HealthCheckResult
from health_check.exceptions import ServiceUnavailable

from shop.observability.broker import broker_ping
from shop.observability.selectors import ProviderLastSuccess, provider_last_success

TIMEOUT = timedelta(seconds=5)


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis: answers a PING)."""

    url: str = dataclasses.field(repr=False)
    transport_options: Mapping[str, Any] = dataclasses.field(repr=False, default_factory=dict)
    timeout: timedelta = dataclasses.field(repr=False, default=TIMEOUT)

    def run(self) -> None:
        try:
            broker_ping(url=self.url, transport_options=self.transport_options, timeout=self.timeout.total_seconds())
        except Exception as exc:  # whatever the transport raises; its text may name the host, so it is not shown
            raise ServiceUnavailable("the broker does not answer") from exc


@dataclasses.dataclass
class ProviderRecentSuccess(HealthCheck):
    """The provider's newest successful call is recent enough (figures read beforehand, in one query for all)."""

    provider: str
    last_ok: datetime | None = dataclasses.field(repr=False)
    called: bool = dataclasses.field(repr=False)
    since: datetime = dataclasses.field(repr=False)

    async def run(self) -> None:
        if provider_healthy(self, since=self.since):
            return
        if self.last_ok is None:
            raise ServiceUnavailable("no successful call on record")
        raise ServiceUnavailable(f"no successful call since {self.last_ok:%Y-%m-%d %H:%M:%S} UTC")


def provider_healthy(provider: ProviderLastSuccess | ProviderRecentSuccess, *, since: datetime) -> bool:
    """The rule: never called yet, or a successful call at ``since`` or later."""
    return not provider.called or (provider.last_ok is not None and provider.last_ok >= since)


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    name: str
    problem: str  # "" when healthy

    @property
    def healthy(self) -> bool:
        return not self.problem


@dataclasses.dataclass(frozen=True)
class HealthReport:
    checks: tuple[CheckOutcome, ...]

    @property
    def healthy(self) -> bool:
        return all(check.healthy for check in self.checks)


def provider_checks(*, providers: tuple[ProviderLastSuccess, ...], now: datetime) -> dict[str, HealthCheck]:
    since = now - timedelta(seconds=settings.PROVIDER_HEALTHY_WITHIN)
    return {
        f"provider:{row.name}": ProviderRecentSuccess(provider=row.name, last_ok=row.last_ok, called=row.called, since=since)
        for row in providers
    }


def health_report(*, now: datetime | None = None) -> HealthReport:
    """Every check's outcome, in a stable order: database, cache, broker, then each active provider by name."""
    checks: dict[str, HealthCheck] = {
        "database": Database(),
        "cache": Cache(),
        "broker": Broker(url=settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS),
        **provider_checks(providers=provider_last_success(), now=now or timezone.now()),
    }
    results = async_to_sync(_run_all)(list(checks.values()))
    return HealthReport(tuple(CheckOutcome(name, _problem(result)) for name, result in zip(checks, results, strict=True)))


async def _run_all(checks: list[HealthCheck]) -> list[HealthCheckResult]:
    # Checks that block (the database's, the broker's) run in threads of their own; one that hangs past its time
    # limit is reported and left behind, not waited for.
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")
    try:
        return list(await asyncio.gather(*(check.get_result(executor) for check in checks)))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def _problem(result: HealthCheckResult) -> str:
    return str(result.error) if result.error else ""
