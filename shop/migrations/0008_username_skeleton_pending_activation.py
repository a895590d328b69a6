"""Usernames that look alike, and sign-ups awaiting activation (issue 17, point 6).

``UsernameSkeleton`` holds each username's confusable skeletons (UTS #39, as
written and case-folded) under a unique index. Existing users get theirs here,
oldest account first; where two existing usernames already look alike, the
newer account simply goes without the shared skeleton (nothing fails, no one is
renamed) and keeps its name, while new sign-ups still cannot take either look.

``PendingActivation`` marks an inactive account made by sign-up whose email
address is not confirmed yet. Every existing account was activated at sign-up:
none starts pending.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

BATCH = 1000


def skeletons_fill(apps, schema_editor) -> None:
    # The rule itself, not a copy: the stored skeletons must be the ones new usernames are compared with.
    from shop.accounts.usernames import username_skeletons

    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    UsernameSkeleton = apps.get_model("shop", "UsernameSkeleton")
    rows = []
    for pk, username in User.objects.order_by("pk").values_list("pk", "username").iterator(chunk_size=BATCH):
        rows.extend(UsernameSkeleton(user_id=pk, skeleton=value) for value in sorted(username_skeletons(username)))
        if len(rows) >= BATCH:
            UsernameSkeleton.objects.bulk_create(rows, ignore_conflicts=True)
            rows = []
    UsernameSkeleton.objects.bulk_create(rows, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0007_api_key_revoked"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PendingActivation",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="pending_activation",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name="UsernameSkeleton",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("skeleton", models.TextField(unique=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="username_skeletons", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
        ),
        migrations.RunPython(skeletons_fill, migrations.RunPython.noop),
    ]
