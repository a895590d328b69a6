"""The admin's provider health panel: per provider and action, success rate and p95 latency over the last hour and day.

Read from the audit records of provider calls (``shop.observability.calls``): two queries, one per
window, plus one for each active provider's newest successful call. A success rate is the share of
calls with outcome ok; it reads good from ``GOOD_RATE``, poor below ``POOR_RATE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from shop.observability.calls import CallFigures, call_figures
from shop.observability.health import provider_healthy
from shop.observability.selectors import provider_last_success

GOOD_RATE = 0.95
POOR_RATE = 0.80
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def rate_grade(rate: float | None) -> str:
    """The grade of a success rate: good, fair or poor; "" with no calls (no rate)."""
    if rate is None:
        return ""
    if rate >= GOOD_RATE:
        return "good"
    return "fair" if rate >= POOR_RATE else "poor"


@dataclass(frozen=True)
class WindowFigures:
    calls: int
    ok: int
    success_rate: float | None  # None with no calls
    p95_ms: float | None

    @property
    def grade(self) -> str:
        return rate_grade(self.success_rate)

    @property
    def success_percent(self) -> float | None:
        return None if self.success_rate is None else self.success_rate * 100

    @classmethod
    def of(cls, figures: CallFigures | None) -> WindowFigures:
        if figures is None:
            return cls(calls=0, ok=0, success_rate=None, p95_ms=None)
        return cls(calls=figures.calls, ok=figures.ok, success_rate=figures.success_rate, p95_ms=figures.p95_ms)


@dataclass(frozen=True)
class PanelRow:
    provider_id: int | None  # None: calls of a deleted provider
    provider: str
    action: str
    hour: WindowFigures
    day: WindowFigures

    @property
    def windows(self) -> tuple[tuple[str, WindowFigures], ...]:
        return (("hour", self.hour), ("day", self.day))


@dataclass(frozen=True)
class ProviderState:
    name: str
    last_ok: datetime | None
    called: bool
    healthy: bool  # the health check's rule (``shop.observability.health``)


@dataclass(frozen=True)
class HealthPanel:
    now: datetime
    rows: tuple[PanelRow, ...]  # by provider, then action
    providers: tuple[ProviderState, ...]  # the active ones, by name
    healthy_within: int  # seconds


def provider_health_panel(*, now: datetime | None = None) -> HealthPanel:
    now = now or timezone.now()
    hour = {(row.provider_id, row.action): row for row in call_figures(since=now - HOUR, until=now)}
    rows = tuple(
        PanelRow(
            provider_id=row.provider_id,
            provider=row.provider,
            action=row.action,
            hour=WindowFigures.of(hour.get((row.provider_id, row.action))),
            day=WindowFigures.of(row),
        )
        for row in call_figures(since=now - DAY, until=now)  # sorted by provider and action
    )
    within = settings.PROVIDER_HEALTHY_WITHIN
    since = now - timedelta(seconds=within)
    providers = tuple(
        ProviderState(name=row.name, last_ok=row.last_ok, called=row.called, healthy=provider_healthy(row, since=since))
        for row in provider_last_success()
    )
    return HealthPanel(now=now, rows=rows, providers=providers, healthy_within=within)
