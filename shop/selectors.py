"""Reads that more than one caller needs, returning querysets or plain values."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from shop.models import ProviderService


def provider_service_available_list() -> QuerySet[ProviderService]:
    return ProviderService.objects.filter(is_available=True, provider__is_active=True)


def provider_service_categories() -> list[dict[str, object]]:
    """Categories of the available synced services with their counts, by name."""
    return list(provider_service_available_list().values("category").annotate(count=Count("pk")).order_by("category"))
