"""The shop's branding: the cached read every page makes, the one write (which drops the cache), and the logo's check."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction

from shop.storefront.models import DEFAULT_SHOP_NAME, LOGO_MAX_BYTES, Branding, LogoType

logger = logging.getLogger(__name__)

CACHE_KEY = "storefront:branding:v1"
# Dropped on every save (branding_save); the timeout only bounds a change made some other way (a shell, a migration).
CACHE_SECONDS = 60 * 60


@dataclass(frozen=True)
class BrandingInfo:
    """What templates read of the branding (the logo's bytes stay in the database; /brand/logo serves them)."""

    name: str = DEFAULT_SHOP_NAME
    tagline: str = ""
    accent: str = ""
    logo_type: str = ""
    version: str = "0"  # changes with every save: the cache-busting query string of /brand/logo and /brand/theme.css

    @property
    def has_logo(self) -> bool:
        return bool(self.logo_type)


def branding_current() -> BrandingInfo:
    """The branding, from the cache when it is there (no query), else from the database (one query), then cached."""
    try:
        cached = cache.get(CACHE_KEY)
    except Exception:  # the cache (Redis) is down: every page still renders, from the database
        logger.warning("branding: the cache could not be read; reading the database")
        cached = None
    if isinstance(cached, dict):
        try:
            return BrandingInfo(**cached)
        except TypeError:
            pass  # written by another version of this class: read afresh
    row = Branding.objects.defer("logo").filter(pk=1).first()
    info = BrandingInfo() if row is None else _info(row)
    # A plain dict, not the pickled class, so a deploy that changes the class reads old entries safely.
    try:
        cache.set(CACHE_KEY, asdict(info), CACHE_SECONDS)
    except Exception:
        logger.warning("branding: the cache could not be written")
    return info


def _info(row: Branding) -> BrandingInfo:
    version = f"{int(row.updated_at.timestamp() * 1_000_000):x}"
    return BrandingInfo(name=row.name, tagline=row.tagline, accent=row.accent, logo_type=row.logo_type, version=version)


def branding_logo() -> tuple[bytes, str] | None:
    """The logo's bytes and content type, or None without a logo."""
    row = Branding.objects.filter(pk=1, logo__isnull=False).values_list("logo", "logo_type").first()
    return None if row is None else (bytes(row[0]), row[1])


def branding_load() -> Branding:
    """The row to edit (an unsaved one with the defaults when there is none yet)."""
    return Branding.objects.filter(pk=1).first() or Branding(pk=1)


@transaction.atomic
def branding_save(*, branding: Branding, logo: tuple[bytes, str] | None = None, remove_logo: bool = False) -> Branding:
    """Store the branding (the one row) with a new logo, or without one, and drop the cached copy once committed."""
    branding.pk = 1
    if logo is not None:
        branding.logo, branding.logo_type = logo
    elif remove_logo:
        branding.logo, branding.logo_type = None, ""
    branding.save()
    transaction.on_commit(lambda: cache.delete(CACHE_KEY))
    return branding


_SIGNATURES = (
    (LogoType.PNG, lambda data: data.startswith(b"\x89PNG\r\n\x1a\n")),
    (LogoType.JPEG, lambda data: data.startswith(b"\xff\xd8\xff")),
    (LogoType.WEBP, lambda data: data[:4] == b"RIFF" and data[8:12] == b"WEBP"),
)


def logo_check(data: bytes) -> str:
    """The content type of an uploaded logo, recognised by its first bytes (not its name or the browser's word for it).

    Only PNG, JPEG and WebP, at most LOGO_MAX_BYTES: SVG is refused, as it can carry scripts.
    """
    if not data:
        raise ValidationError("The file is empty.", code="empty")
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(
            f"The logo is {len(data) / 1024:.0f} KB; it may be at most {LOGO_MAX_BYTES // 1024} KB. Save it smaller and upload it again.",
            code="size",
        )
    for content_type, matches in _SIGNATURES:
        if matches(data):
            return content_type
    head = data[:512].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head:
        raise ValidationError("SVG logos are not accepted (they can carry scripts): upload a PNG, JPEG or WebP image.", code="svg")
    raise ValidationError("This is not a PNG, JPEG or WebP image: upload the logo in one of those formats.", code="type")
