"""Pagination without COUNT(*): a customer with 100,000 orders must not pay for counting them on every page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from shop.core.numbers import id_number

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
    """The requested page (a bad or out-of-range number gives the first page).

    Read in two steps: the page's ids first (a query that an index answers
    alone), then those rows. In one step PostgreSQL may walk the primary key
    backwards past every other customer's newer orders to find one customer's.
    """
    number = id_number(raw_number or "1")
    number = number if number and number <= MAX_PAGE else 1
    start = (number - 1) * per_page
    ids = list(queryset.values_list("pk", flat=True)[start : start + per_page + 1])
    if not ids and number > 1:
        return page_of(queryset, 1, per_page)
    by_id = {row.pk: row for row in queryset.model._default_manager.filter(pk__in=ids[:per_page]).select_related(*_related(queryset))}
    return Page([by_id[pk] for pk in ids[:per_page] if pk in by_id], number, len(ids) > per_page)


def _related(queryset: QuerySet[Any]) -> list[str]:
    """The select_related paths of a queryset, so the second step joins the same tables."""
    related = queryset.query.select_related
    if not isinstance(related, dict):
        return []

    def walk(tree: dict[str, Any], prefix: str) -> list[str]:
        paths = []
        for name, sub in tree.items():
            path = f"{prefix}{name}"
            paths.append(path)
            paths.extend(walk(sub, f"{path}__"))
        return paths

    return walk(related, "")
