"""Celery's entry point for the app (``autodiscover_tasks`` imports ``shop.tasks``).

Each domain defines its tasks in its own ``tasks`` module.
"""

from shop.backoffice.tasks import figures_fold_task
from shop.catalogue.tasks import (
    catalogue_sync_all,
    catalogue_sync_provider,
    provider_balance_refresh_all,
    service_updates_record_task,
    upstream_call_prune_old,
)
from shop.notifications.tasks import notification_send_task
from shop.orders.tasks import (
    order_submit_task,
    orders_cancel_send_task,
    orders_refresh_all,
    orders_refresh_provider,
    orders_sweep_task,
    refills_send_task,
    requests_sweep_provider,
)
from shop.payments.tasks import topup_check_task, topups_check_pending

__all__ = [
    "catalogue_sync_all",
    "catalogue_sync_provider",
    "figures_fold_task",
    "notification_send_task",
    "order_submit_task",
    "orders_cancel_send_task",
    "orders_refresh_all",
    "orders_refresh_provider",
    "orders_sweep_task",
    "provider_balance_refresh_all",
    "refills_send_task",
    "requests_sweep_provider",
    "service_updates_record_task",
    "topup_check_task",
    "topups_check_pending",
    "upstream_call_prune_old",
]
