"""Paging the admin's long lists without counting every row (issue 16).

Django's admin counts a list's rows (``COUNT(*)``) to draw its page numbers: on 1,000,000 orders that alone
took longer than the page should. ``LargeTablePaginator`` counts at most ``EXACT_UP_TO + 1`` rows, so a list
of up to ``EXACT_UP_TO`` rows still shows its exact count, and a longer one takes PostgreSQL's estimate of
its rows (the planner's, from the table's statistics), shown as "about N". The page numbers of such a list
are as approximate as its count: a page past the real end is empty, never an error.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet

EXACT_UP_TO = 10_000


def planner_rows(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the rows ``queryset`` returns (``EXPLAIN``, nothing is run); None on another database."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class LargeTablePaginator(Paginator):
    """A paginator whose count reads at most ``EXACT_UP_TO + 1`` rows; past that, the planner's estimate (``estimated``)."""

    template_name = "admin/shop/includes/pagination.html"
    estimated = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        bounded = queryset.order_by()[: EXACT_UP_TO + 1].count()
        if bounded <= EXACT_UP_TO:
            return bounded
        estimate = planner_rows(queryset)
        if estimate is None:
            return queryset.count()
        self.estimated = True
        return max(bounded, estimate)

    @property
    def count_text(self) -> str:
        """The count as the list shows it: "about 1,000,000" when estimated."""
        return f"about {self.count:,}" if self.estimated else str(self.count)
