"""Pagination without COUNT(*): a customer with 100,000 orders must not pay for counting them on every page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

MAX_PAGE = 100_000


@dataclass(frozen=True)
class Page:
    """One page of results, read as ``per_page + 1`` rows to learn whether another page follows."""

    object_list: Sequence[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def page_of(queryset: QuerySet[Any], raw_number: object, per_page: int) -> Page:
    """The requested page (a bad or out-of-range number gives the first page)."""
    text = str(raw_number or "1")
    number = int(text) if text.isdigit() and 0 < int(text) <= MAX_PAGE else 1
    start = (number - 1) * per_page
    rows = list(queryset[start : start + per_page + 1])
    if not rows and number > 1:
        return page_of(queryset, 1, per_page)
    return Page(rows[:per_page], number, len(rows) > per_page)
