"""Building the retail catalogue from synced provider services."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from shop.models import Category, ProviderService, Service


@transaction.atomic
def services_import(*, provider_services: QuerySet[ProviderService]) -> int:
    """Offer provider services in the shop: one retail service each (unless one exists), in a category of the same name.

    Returns how many were created. Prices follow the markup rules; admins edit the rest afterwards.
    """
    candidates = list(provider_services.filter(retail_services__isnull=True).order_by("pk"))
    if not candidates:
        return 0
    names = {ps.category or "Other" for ps in candidates}
    existing = {category.name: category for category in Category.objects.filter(name__in=names)}
    Category.objects.bulk_create([Category(name=name) for name in sorted(names - set(existing))])
    categories = {category.name: category for category in Category.objects.filter(name__in=names)}
    Service.objects.bulk_create(
        [
            Service(
                provider_service=ps,
                category=categories[ps.category or "Other"],
                name=ps.name,
                description=ps.description,
                position=index,
            )
            for index, ps in enumerate(candidates)
        ]
    )
    return len(candidates)
