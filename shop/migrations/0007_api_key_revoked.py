"""A revoked API key keeps when and why it stopped working (issue 17, point 6): a password change revokes it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0006_refill_one_open_per_order"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="revoked_at",
            field=models.DateTimeField(blank=True, help_text="Set when the key stopped working; a new key clears it.", null=True),
        ),
        migrations.AddField(
            model_name="apikey",
            name="revoked_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("password_changed", "you changed your password"),
                    ("password_reset", "your password was reset"),
                    ("password_set_by_admin", "an administrator changed your password"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.CheckConstraint(
                condition=models.Q(("revoked_at__isnull", True), ("revoked_reason", ""))
                | models.Q(
                    ("revoked_at__isnull", False), ("revoked_reason__in", ["password_changed", "password_reset", "password_set_by_admin"])
                ),
                name="api_key_revoked_with_reason",
            ),
        ),
    ]
