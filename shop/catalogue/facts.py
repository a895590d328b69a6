"""A service's average completion time in words people read, and in minutes for the API.

The figure itself (``Service.average_seconds``) is computed in ``shop.orders.averages``: per 1000 units, or per
order for a package.
"""

from __future__ import annotations

from shop.catalogue.models import Service
from shop.orders.types import type_spec

NOT_ENOUGH_DATA = "not enough data"
MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def service_is_package(*, service: Service) -> bool:
    spec = type_spec(service.provider_service.type)
    return spec is not None and spec.package


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'' if number == 1 else 's'}"


def _rounded(seconds: int, unit: int) -> int:
    """Whole units, halves rounded up (``round`` would give 2 minutes for 150 s: it rounds halves to even)."""
    return (seconds + unit // 2) // unit


def duration_words(seconds: int) -> str:
    """``about 2 hours 10 minutes``: minutes under a day, then days and hours; ``less than a minute`` below one."""
    if seconds < MINUTE:
        return "less than a minute"
    if seconds < DAY:
        hours, minutes = divmod(_rounded(seconds, MINUTE), 60)
        if hours == 24:  # rounded up to a whole day
            return "about 1 day"
        parts = [_count(hours, "hour")] if hours else []
        parts += [_count(minutes, "minute")] if minutes else []
        return "about " + " ".join(parts)
    days, hours = divmod(_rounded(seconds, HOUR), 24)
    return "about " + " ".join([_count(days, "day"), *([_count(hours, "hour")] if hours else [])])


def average_time_words(seconds: int | None, *, package: bool = False) -> str:
    """``about 2 hours 10 minutes per 1000`` (per order for a package), or ``not enough data`` while blank."""
    if seconds is None:
        return NOT_ENOUGH_DATA
    return duration_words(seconds) + (" per order" if package else " per 1000")


def minutes_of(seconds: int | None) -> int | None:
    """The figure in whole minutes (rounded), as the API gives it; None while blank."""
    return None if seconds is None else _rounded(seconds, MINUTE)
