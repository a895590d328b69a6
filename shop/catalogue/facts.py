"""A service's average completion time in words people read, and in minutes for the API.

The figure itself (``Service.average_seconds``) is computed in ``shop.orders.averages``: per 1000 units, or per
order for a package.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from shop.catalogue.models import Service
from shop.orders.types import type_spec

NOT_ENOUGH_DATA = gettext_lazy("not enough data")
MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def service_is_package(*, service: Service) -> bool:
    spec = type_spec(service.provider_service.type)
    return spec is not None and spec.package


def _count(number: int, unit: str) -> str:
    """``2 hours``, in the active language (the words are worded when a page shows them)."""
    if unit == "day":
        return ngettext("%(count)s day", "%(count)s days", number) % {"count": number}
    if unit == "hour":
        return ngettext("%(count)s hour", "%(count)s hours", number) % {"count": number}
    return ngettext("%(count)s minute", "%(count)s minutes", number) % {"count": number}


def _rounded(seconds: int, unit: int) -> int:
    """Whole units, halves rounded up (``round`` would give 2 minutes for 150 s: it rounds halves to even)."""
    return (seconds + unit // 2) // unit


def duration_words(seconds: int) -> str:
    """``about 2 hours 10 minutes``: minutes under a day, then days and hours; ``less than a minute`` below one."""
    if seconds < MINUTE:
        return _("less than a minute")
    if seconds < DAY:
        hours, minutes = divmod(_rounded(seconds, MINUTE), 60)
        if hours == 24:  # rounded up to a whole day
            return _("about %(duration)s") % {"duration": _count(1, "day")}
        parts = [_count(hours, "hour")] if hours else []
        parts += [_count(minutes, "minute")] if minutes else []
        return _("about %(duration)s") % {"duration": " ".join(parts)}
    days, hours = divmod(_rounded(seconds, HOUR), 24)
    return _("about %(duration)s") % {"duration": " ".join([_count(days, "day"), *([_count(hours, "hour")] if hours else [])])}


def average_time_words(seconds: int | None, *, package: bool = False) -> str:
    """``about 2 hours 10 minutes per 1000`` (per order for a package), or ``not enough data`` while blank."""
    if seconds is None:
        return str(NOT_ENOUGH_DATA)
    if package:
        return _("%(duration)s per order") % {"duration": duration_words(seconds)}
    return _("%(duration)s per 1000") % {"duration": duration_words(seconds)}


def minutes_of(seconds: int | None) -> int | None:
    """The figure in whole minutes (rounded), as the API gives it; None while blank."""
    return None if seconds is None else _rounded(seconds, MINUTE)
