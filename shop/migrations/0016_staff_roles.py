"""Staff roles: the Support, Finance and Admin groups (shop.accounts.roles), and the two permissions they need that
Django does not make: resolving orders that need attention, and crediting or debiting balances.

The roles are frozen here as they were when this migration was written: a later change to ``ROLES`` reaches the
groups through the ``post_migrate`` sync, never by editing this file, so a fresh ``migrate`` always works.
"""

from django.db import migrations

ROLES_AT_0016 = {
    "Support": (
        "shop.view_ticket",
        "shop.change_ticket",
        "shop.view_order",
        "shop.resolve_order",
        "shop.view_refill",
        "shop.view_upstreamcall",
        "auth.view_user",
        "shop.view_wallet",
        "shop.view_ledgerentry",
        "shop.view_topup",
        "shop.view_apikey",
        "shop.view_service",
        "shop.view_category",
        "shop.view_providerservice",
    ),
    "Finance": (
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
    ),
    "Admin": "__all__",
}


def create_roles(apps, schema_editor):
    # Permissions are made by post_migrate, after every migration: make them now, so the groups can hold them.
    from django.contrib.auth.management import create_permissions

    from shop.accounts.roles import roles_sync

    using = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None
    roles_sync(apps, using=using, roles=ROLES_AT_0016, create=True)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.db_manager(schema_editor.connection.alias).filter(name__in=ROLES_AT_0016).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0015_support_tickets"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="order",
            options={"ordering": ["-id"], "permissions": [("resolve_order", "Can resolve orders that need attention")]},
        ),
        migrations.AlterModelOptions(
            name="wallet",
            options={"permissions": [("adjust_balance", "Can credit and debit balances")]},
        ),
        migrations.RunPython(create_roles, remove_roles),
    ]
