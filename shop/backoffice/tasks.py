"""Celery tasks of the back office: keep the dashboard's rollup folded, so the page itself folds little."""

from __future__ import annotations

from celery import shared_task

from shop.backoffice.rollup import figures_fold


@shared_task(ignore_result=True, name="shop.tasks.figures_fold_task")  # the name the schedule gives it (shop.core.schedule)
def figures_fold_task() -> None:
    figures_fold()
