"""The shop's branding (name, tagline, accent colour, logo): one row, edited in admin."""

import shop.storefront.colours
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0011_topup_reversal_totals"),
    ]

    operations = [
        migrations.CreateModel(
            name="Branding",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(default="SMM Shop", max_length=60, verbose_name="shop name")),
                ("tagline", models.CharField(blank=True, help_text="A short line under the name in the side menu.", max_length=120)),
                (
                    "accent",
                    models.CharField(
                        blank=True,
                        help_text="Buttons and links, as #rrggbb. White text on it must be readable (contrast 4.5:1). Blank: the theme's own blue.",
                        max_length=7,
                        validators=[shop.storefront.colours.validate_accent],
                        verbose_name="accent colour",
                    ),
                ),
                ("logo", models.BinaryField(blank=True, null=True)),
                (
                    "logo_type",
                    models.CharField(
                        blank=True, choices=[("image/png", "PNG"), ("image/jpeg", "JPEG"), ("image/webp", "WebP")], max_length=20
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "branding",
                "verbose_name_plural": "branding",
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("pk", 1)), name="branding_single_row"),
                    models.CheckConstraint(
                        condition=models.Q(("accent", ""), ("accent__regex", "^#[0-9a-f]{6}$"), _connector="OR"),
                        name="branding_accent_hex",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("logo__isnull", True), ("logo_type", "")),
                            models.Q(("logo__isnull", False), ("logo_type__in", ["image/png", "image/jpeg", "image/webp"])),
                            _connector="OR",
                        ),
                        name="branding_logo_has_type",
                    ),
                    models.CheckConstraint(condition=models.Q(("name", ""), _negated=True), name="branding_name_not_blank"),
                ],
            },
        ),
    ]
