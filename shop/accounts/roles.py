"""Staff roles as Django groups: Support, Finance and Admin, with the permissions each one holds.

The groups are created by migration 0016 and kept in step with ``ROLES`` after every ``migrate``
(``roles_sync`` on ``post_migrate``), so a permission added later (a new model's) reaches Admin.
A staff member's reach is the union of their groups; superusers have every permission.

No role can grant itself more: only superusers edit a user's groups, permissions and superuser
flag (``CustomerAdmin.get_readonly_fields``), and only Admin may change users or groups at all.
"""

from __future__ import annotations

from typing import Any

SUPPORT, FINANCE, ADMIN = "Support", "Finance", "Admin"
ALL = "__all__"

# "app_label.codename" of each role's permissions. Admin: every permission there is.
ROLES: dict[str, tuple[str, ...] | str] = {
    SUPPORT: (
        # Tickets: read and answer.
        "shop.view_ticket",
        "shop.change_ticket",
        # Orders read-only, and the resolutions of those that need attention.
        "shop.view_order",
        "shop.resolve_order",
        "shop.view_refill",
        "shop.view_upstreamcall",
        # What a ticket may be about: the customer, their money and the catalogue, read-only.
        "auth.view_user",
        "shop.view_wallet",
        "shop.view_ledgerentry",
        "shop.view_topup",
        "shop.view_apikey",
        "shop.view_service",
        "shop.view_category",
        "shop.view_providerservice",
        "shop.view_referral",
    ),
    FINANCE: (
        # Credits and debits, lifting a hold, top-up approvals.
        "shop.adjust_balance",
        "shop.change_wallet",
        "shop.change_topup",
        "shop.view_wallet",
        "shop.view_ledgerentry",
        "shop.view_topup",
        "shop.view_paymentmethod",
        "auth.view_user",
        "shop.view_order",
        "shop.view_ticket",
        "shop.view_referral",
        "shop.view_referralearning",
        "shop.view_referralpayout",
    ),
    ADMIN: ALL,
}


def roles_sync(apps: Any, *, using: str = "default", roles: dict[str, tuple[str, ...] | str] | None = None, create: bool = False) -> None:
    """Set each role group's permissions to ``roles`` (``ROLES`` by default); idempotent.

    ``apps``: a migration's registry or the live one. Groups are made only with ``create`` (migration 0016 does):
    after a ``migrate`` back past 0016 they stay gone. A permission that does not exist (yet) is skipped, so a
    partial ``migrate`` never fails here; migration 0016 makes every permission first.
    """
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    permissions = permission_model.objects.db_manager(using)
    for name, wanted in (roles or ROLES).items():
        group = group_model.objects.db_manager(using).filter(name=name).first()
        if group is None:
            if not create:
                continue
            group = group_model.objects.db_manager(using).create(name=name)
        if wanted == ALL:
            group.permissions.set(permissions.all())
            continue
        found = []
        for label in wanted:
            app_label, _, codename = label.partition(".")
            permission = permissions.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                found.append(permission)
        group.permissions.set(found)


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    """``post_migrate`` receiver (the shop's app is migrated last, after every other app's permissions are made).

    While migration 0016 is applied the groups are made again if missing (a ``flush`` empties them, as the test
    suite's transactional tests do); after a ``migrate`` back past it they stay gone.
    """
    from django.apps import apps as live_apps
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    using = kwargs.get("using", "default")
    applied = MigrationRecorder(connections[using]).migration_qs.filter(app="shop", name="0016_staff_roles").exists()
    roles_sync(kwargs.get("apps") or live_apps, using=using, create=applied)
