"""Periodic tasks come from settings once, then belong to the admins."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from shop.core.schedule import PERIODIC_TASKS, periodic_tasks_ensure

pytestmark = pytest.mark.django_db


def test_periodic_tasks_are_created_with_intervals_from_settings(settings) -> None:
    settings.CATALOGUE_SYNC_INTERVAL = 1234
    assert sorted(periodic_tasks_ensure()) == sorted(PERIODIC_TASKS)
    sync = PeriodicTask.objects.get(task="shop.tasks.catalogue_sync_all")
    assert (sync.interval.every, sync.interval.period) == (1234, "seconds")


def test_admin_edits_survive_a_second_run(settings) -> None:
    periodic_tasks_ensure()
    sync = PeriodicTask.objects.get(task="shop.tasks.catalogue_sync_all")
    sync.interval.every = 60
    sync.interval.save()
    settings.CATALOGUE_SYNC_INTERVAL = 999

    assert periodic_tasks_ensure() == []
    assert PeriodicTask.objects.get(pk=sync.pk).interval.every == 60


@pytest.mark.parametrize("name", sorted(PERIODIC_TASKS))
def test_every_periodic_task_names_a_task_the_worker_knows(name: str) -> None:
    """beat sends the task by its name: a name no task is registered under is refused by the worker, every interval."""
    from config.celery import app

    app.loader.import_default_modules()
    assert PERIODIC_TASKS[name][0] in app.tasks
