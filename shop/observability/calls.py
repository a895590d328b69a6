"""Figures of the calls to providers over a window, from their audit records (``UpstreamCall``).

Per provider and action: the calls of each outcome and the 50th and 95th percentiles of their
duration. On PostgreSQL one query computes them (``percentile_cont``, the continuous percentile:
interpolated between the two nearest durations); elsewhere (SQLite, the laptop set-up) the window's
rows are read and the same percentile is computed here, so both give the same figures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q

from shop.catalogue.models import UpstreamCall

OK = UpstreamCall.Outcome.OK
OUTCOMES = tuple(UpstreamCall.Outcome.values)
DELETED_PROVIDER = "(deleted provider)"
QUANTILES = (0.5, 0.95)


class Percentile(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, *, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1.")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


@dataclass(frozen=True)
class CallFigures:
    provider_id: int | None
    provider: str
    action: str
    outcomes: dict[str, int] = field(hash=False)  # calls per outcome, every outcome present
    durations_ms: dict[float, float] = field(hash=False)  # per quantile of ``QUANTILES``

    @property
    def calls(self) -> int:
        return sum(self.outcomes.values())

    @property
    def ok(self) -> int:
        return self.outcomes[OK]

    @property
    def success_rate(self) -> float:
        """Calls with outcome ok over all calls, 0 to 1."""
        return self.ok / self.calls

    @property
    def p95_ms(self) -> float:
        return self.durations_ms[0.95]


def call_figures(*, since: datetime, until: datetime) -> tuple[CallFigures, ...]:
    """Per provider and action, the calls made from ``since`` (included) to ``until`` (excluded). One query."""
    calls = UpstreamCall.objects.filter(created_at__gte=since, created_at__lt=until).order_by()
    if connection.vendor == "postgresql":
        figures = _aggregated(calls)
    else:
        figures = _computed(calls.values_list("provider_id", "provider__name", "action", "outcome", "duration_ms"))
    return tuple(sorted(figures, key=lambda row: (row.provider, row.action)))


def _aggregated(calls: Any) -> list[CallFigures]:
    per_outcome = {f"n_{outcome}": Count("pk", filter=Q(outcome=outcome)) for outcome in OUTCOMES}
    percentiles = {f"p_{index}": Percentile("duration_ms", fraction=q) for index, q in enumerate(QUANTILES)}
    rows = calls.values("provider_id", "provider__name", "action").annotate(**per_outcome, **percentiles)
    return [
        CallFigures(
            provider_id=row["provider_id"],
            provider=row["provider__name"] or DELETED_PROVIDER,
            action=row["action"],
            outcomes={outcome: row[f"n_{outcome}"] for outcome in OUTCOMES},
            durations_ms={q: row[f"p_{index}"] for index, q in enumerate(QUANTILES)},
        )
        for row in rows
    ]


def _computed(rows: Iterable[tuple[int | None, str | None, str, str, int]]) -> list[CallFigures]:
    groups: dict[tuple[int | None, str | None, str], list[tuple[str, int]]] = defaultdict(list)
    for provider_id, name, action, outcome, duration in rows:
        groups[provider_id, name, action].append((outcome, duration))
    figures = []
    for (provider_id, name, action), calls in groups.items():
        outcomes = dict.fromkeys(OUTCOMES, 0)
        for outcome, _ in calls:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        durations = sorted(duration for _, duration in calls)
        figures.append(
            CallFigures(
                provider_id=provider_id,
                provider=name or DELETED_PROVIDER,
                action=action,
                outcomes=outcomes,
                durations_ms={q: percentile(durations, q) for q in QUANTILES},
            )
        )
    return figures


def percentile(ordered: list[int], fraction: float) -> float:
    """The continuous percentile of ``ordered`` (not empty, ascending), as PostgreSQL's ``percentile_cont`` computes it."""
    position = fraction * (len(ordered) - 1)
    below, above = math.floor(position), math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
