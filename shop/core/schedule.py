"""The periodic tasks beat runs, created once from settings and then edited in admin."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

# name shown in admin -> (task path, settings name of its default interval in seconds)
PERIODIC_TASKS = {
    "Sync provider catalogues": ("shop.tasks.catalogue_sync_all", "CATALOGUE_SYNC_INTERVAL"),
    "Record service updates": ("shop.tasks.service_updates_record_task", "SERVICE_UPDATES_INTERVAL"),
    "Read provider balances": ("shop.tasks.provider_balance_refresh_all", "BALANCE_POLL_INTERVAL"),
    "Refresh order statuses": ("shop.tasks.orders_refresh_all", "ORDER_POLL_INTERVAL"),
    "Sweep unsubmitted orders": ("shop.tasks.orders_sweep_task", "ORDER_SWEEP_INTERVAL"),
    "Prune old upstream call records": ("shop.tasks.upstream_call_prune_old", "UPSTREAM_CALL_PRUNE_INTERVAL"),
    "Check pending top-ups": ("shop.tasks.topups_check_pending", "TOPUP_CHECK_INTERVAL"),
    "Fold the dashboard's figures": ("shop.tasks.figures_fold_task", "FIGURES_FOLD_INTERVAL"),
}


@transaction.atomic
def periodic_tasks_ensure() -> list[str]:
    """Create the periodic tasks that are missing; leave existing ones as admins set them."""
    created = []
    for name, (task, setting) in PERIODIC_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        every = max(1, int(getattr(settings, setting)))
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(name=name, task=task, interval=interval)
        created.append(name)
    return created
