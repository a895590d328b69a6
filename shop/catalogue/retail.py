"""Building the retail catalogue from synced provider services."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from shop.catalogue.models import Category, ProviderService, Service

MARKUP_FLOOR = Decimal("-100")


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


def services_set_markup(*, services: QuerySet[Service], markup_percent: Decimal | None) -> int:
    """Give all ``services`` one markup; ``None`` clears it so the category's or the shop's default applies.

    Returns how many services were updated. A markup must be above -100% (the database refuses it too).
    """
    if markup_percent is not None and markup_percent <= MARKUP_FLOOR:
        raise ValueError(f"A markup must be above {MARKUP_FLOOR}%.")
    # update() skips auto_now: set updated_at so the change shows when it happened.
    return services.update(markup_percent=markup_percent, updated_at=timezone.now())


def _provider_description() -> Subquery:
    return Subquery(ProviderService.objects.filter(pk=OuterRef("provider_service_id")).values("description")[:1])


def services_description_copy(*, services: QuerySet[Service]) -> int:
    """Give these services their provider's description, where no admin wrote their own; one UPDATE for all of them.

    The catalogue sync calls it when descriptions changed upstream. Returns how many services changed.
    """
    stale = services.filter(description_edited=False).exclude(description=F("provider_service__description"))
    return stale.update(description=_provider_description(), updated_at=timezone.now())


def services_description_reset(*, services: QuerySet[Service]) -> int:
    """Back to the provider's description: the admin's own text is dropped and later syncs copy the provider's again."""
    return services.update(description=_provider_description(), description_edited=False, updated_at=timezone.now())
