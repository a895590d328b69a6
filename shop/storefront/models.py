"""The shop's branding as customers see it: name, tagline, accent colour and logo (one row, edited in admin)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from shop.storefront.colours import validate_accent

DEFAULT_SHOP_NAME = "SMM Shop"
ACCENT_PATTERN = r"^#[0-9a-f]{6}$"
LOGO_MAX_BYTES = 256 * 1024


class LogoType(models.TextChoices):
    PNG = "image/png", "PNG"
    JPEG = "image/jpeg", "JPEG"
    WEBP = "image/webp", "WebP"


class Branding(models.Model):
    """Exactly one row (pk 1); read through ``shop.storefront.branding.branding_current``, written by ``branding_save``."""

    name = models.CharField("shop name", max_length=60, default=DEFAULT_SHOP_NAME)
    tagline = models.CharField(max_length=120, blank=True, help_text="A short line under the name in the side menu.")
    accent = models.CharField(
        "accent colour",
        max_length=7,
        blank=True,
        validators=[validate_accent],
        help_text="Buttons and links, as #rrggbb. White text on it must be readable (contrast 4.5:1). Blank: the theme's own blue.",
    )
    # The image itself, so every web process serves it without shared file storage; at most LOGO_MAX_BYTES.
    logo = models.BinaryField(null=True, blank=True)
    logo_type = models.CharField(max_length=20, choices=LogoType.choices, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "branding"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="branding_single_row"),
            # Emitted into a style sheet: nothing but a lowercase hex colour may ever be stored.
            models.CheckConstraint(condition=Q(accent="") | Q(accent__regex=ACCENT_PATTERN), name="branding_accent_hex"),
            models.CheckConstraint(
                condition=Q(logo__isnull=True, logo_type="") | Q(logo__isnull=False, logo_type__in=LogoType.values),
                name="branding_logo_has_type",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="branding_name_not_blank"),
        ]

    def __str__(self) -> str:
        return "Branding"
