"""Top-ups keep the running totals of refunds and disputes (reported in any order) and what staff wrote off."""

from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0010_payments"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="topup",
            name="topup_reversal_not_negative",
        ),
        migrations.AddField(
            model_name="topup",
            name="disputed_total",
            field=models.DecimalField(
                decimal_places=4, default=Decimal("0"), help_text="The gateway's running total of disputes.", max_digits=18
            ),
        ),
        migrations.AddField(
            model_name="topup",
            name="refunded_total",
            field=models.DecimalField(
                decimal_places=4, default=Decimal("0"), help_text="The gateway's running total of refunds.", max_digits=18
            ),
        ),
        migrations.AddField(
            model_name="topup",
            name="reversal_written_off",
            field=models.DecimalField(decimal_places=4, default=Decimal("0"), help_text="Owed reversals staff gave up.", max_digits=18),
        ),
        migrations.AddConstraint(
            model_name="topup",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("reversed_amount__gte", 0),
                    ("reversal_owed__gte", 0),
                    ("reversal_written_off__gte", 0),
                    ("refunded_total__gte", 0),
                    ("disputed_total__gte", 0),
                ),
                name="topup_reversal_figures_not_negative",
            ),
        ),
    ]
