"""The dashboard's charts: the days as Chart.js data, the rest as bars drawn on the server (SVG).

The days (revenue, profit, orders) go to unfold's bundled Chart.js: its script reads each
``<canvas class="chart" data-value=...>`` and draws it, with no script of the shop's own; colours
are unfold's CSS variables, read in the current theme. Statuses, provider balances and top-ups per
method are a few rows each: ``Bar`` rows, drawn as SVG by the template (no script, no style
attribute). Every chart has its figures in a table or as text beside it, for screen readers and
without JavaScript.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shop.backoffice.dashboard import DashboardFigures, MethodTopups, ProviderBalance

ACCENT = "var(--color-primary-600)"
GOOD = "var(--color-green-600)"


def _number(amount: Decimal) -> float:
    return float(amount)  # for drawing only: the tables beside the charts keep the exact figures


def _axes() -> dict[str, Any]:
    # Unfold's defaults hide the y axis' labels: a chart of money or counts needs them; 10 day labels fit.
    return {"displayYAxis": True, "maxTicksXLimit": 10}


def money_per_day(figures: DashboardFigures, *, currency: str) -> str:
    """Revenue (bars) and profit (line) per day, oldest day first."""
    days = list(reversed(figures.days))
    return json.dumps(
        {
            "labels": [row.day.strftime("%b %d") for row in days if row.day is not None],
            "datasets": [
                {"label": f"Revenue ({currency})", "data": [_number(row.revenue) for row in days], "backgroundColor": ACCENT, **_axes()},
                {"label": f"Profit ({currency})", "data": [_number(row.profit) for row in days], "borderColor": GOOD, "type": "line"},
            ],
        }
    )


def orders_per_day(figures: DashboardFigures) -> str:
    days = list(reversed(figures.days))
    return json.dumps(
        {
            "labels": [row.day.strftime("%b %d") for row in days if row.day is not None],
            "datasets": [{"label": "Orders", "data": [row.orders for row in days], "backgroundColor": ACCENT, **_axes()}],
        }
    )


@dataclass(frozen=True)
class Bar:
    """One row of a server-drawn bar chart (SVG in a table row): the figures it draws, and its length in percent of the scale."""

    item: Any  # the row of figures: a StatusCount, a ProviderBalance, a MethodTopups
    percent: float
    bad: bool = False  # drawn red: needs attention, or a balance below its threshold
    mark: float | None = None  # where the scale's mark sits (a provider's low-balance threshold), in percent


def _percent(value: Decimal | int, scale: Decimal | int) -> float:
    if scale <= 0 or value <= 0:
        return 0.0
    return round(min(float(value) / float(scale), 1.0) * 100, 1)


def status_bars(figures: DashboardFigures) -> tuple[Bar, ...]:
    """The active orders per status, against the largest count."""
    largest = max((row.count for row in figures.statuses), default=0)
    return tuple(Bar(row, _percent(row.count, largest), bad=row.status == "needs_attention" and row.count > 0) for row in figures.statuses)


# A provider's bar is full at this many times its low-balance threshold: the threshold's mark sits at a third of it.
GAUGE_THRESHOLDS = 3


def provider_bars(providers: tuple[ProviderBalance, ...]) -> tuple[Bar, ...]:
    """Each provider's balance against its own threshold: currencies differ, so each bar is read against its own mark."""
    bars = []
    for provider in providers:
        if provider.balance is None or not provider.threshold:
            bars.append(Bar(provider, 0.0 if provider.balance is None else 100.0, bad=provider.low))
            continue
        bars.append(
            Bar(
                provider,
                _percent(provider.balance, provider.threshold * GAUGE_THRESHOLDS),
                bad=provider.low,
                mark=round(100 / GAUGE_THRESHOLDS, 1),
            )
        )
    return tuple(bars)


def method_bars(methods: tuple[MethodTopups, ...]) -> tuple[Bar, ...]:
    """What each payment method brought in over the window, against the largest."""
    largest = max((method.paid_amount for method in methods), default=Decimal(0))
    return tuple(Bar(method, _percent(method.paid_amount, largest)) for method in methods)
