"""Accounts move to django-allauth: every user's address becomes an allauth ``EmailAddress``.

An account that was activated (or made by staff) keeps working: its address counts as verified. An account still
waiting for its activation link becomes active with its address unverified: its first login mails it a new
verification link, which it must follow before it gets in. An address two accounts share (staff may have made
such) is recorded for the one in use (active and activated, then the older). ``PendingActivation``, which held the waiting accounts, goes.
"""

from django.conf import settings
from django.db import migrations

from shop.migrations._triggers import SQLITE_UP


def emails_to_allauth(apps, schema_editor) -> None:
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    email_address = apps.get_model("account", "EmailAddress")
    pending = set(apps.get_model("shop", "PendingActivation").objects.values_list("user_id", flat=True))
    taken = {email.lower() for email in email_address.objects.values_list("email", flat=True)}
    having = set(email_address.objects.values_list("user_id", flat=True))
    users = list(user_model.objects.exclude(email="").values_list("pk", "email", "is_active"))
    # Of accounts sharing an address, the one in use gets it: active and activated before waiting or deactivated, then the oldest.
    users.sort(key=lambda user: (user[0] in pending, not user[2], user[0]))
    rows = []
    for pk, email, _ in users:
        address = email.strip().lower()
        if not address or address in taken or pk in having:
            continue
        taken.add(address)
        rows.append(email_address(user_id=pk, email=address, verified=pk not in pending, primary=True))
    email_address.objects.bulk_create(rows, batch_size=1000)
    user_model.objects.filter(pk__in=pending).update(is_active=True)


def ledger_trigger_again(apps, schema_editor) -> None:
    """SQLite rebuilt shop_ledgerentry in 0018 (its new kind and constraint), which drops the table's trigger: put it back.
    PostgreSQL keeps it; on SQLite ``CREATE TRIGGER IF NOT EXISTS`` makes this safe to run on any database."""
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_UP, params=None)


def emails_from_allauth(apps, schema_editor) -> None:
    """Back: the accounts whose address is not verified wait again (inactive, with a ``PendingActivation``)."""
    email_address = apps.get_model("account", "EmailAddress")
    unverified = set(email_address.objects.filter(verified=False, primary=True).values_list("user_id", flat=True))
    verified = set(email_address.objects.filter(verified=True).values_list("user_id", flat=True))
    waiting = unverified - verified
    apps.get_model(*settings.AUTH_USER_MODEL.split(".")).objects.filter(pk__in=waiting).update(is_active=False)
    pending = apps.get_model("shop", "PendingActivation")
    pending.objects.bulk_create([pending(user_id=pk) for pk in waiting], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0018_affiliates"),
        ("account", "0009_emailaddress_unique_primary_email"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(emails_to_allauth, emails_from_allauth),
        migrations.RunPython(ledger_trigger_again, migrations.RunPython.noop),
        migrations.DeleteModel(name="PendingActivation"),
    ]
