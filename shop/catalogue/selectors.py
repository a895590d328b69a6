"""Reads of the retail catalogue: what customers can order now, priced."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet

from shop.catalogue.models import Category, Service, ShopSettings
from shop.catalogue.pricing import service_limits, service_rate
from shop.core.numbers import id_number
from shop.orders.types import TYPES, type_spec


@dataclass(frozen=True)
class ServiceOffer:
    """A service as a customer sees it: priced, with its limits and flags."""

    id: int
    name: str
    description: str
    category_id: int
    category: str
    type: str
    rate: Decimal
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool

    @property
    def package(self) -> bool:
        """A fixed bundle: its rate is the price of the whole package, not a price per 1000."""
        spec = type_spec(self.type)
        return spec is not None and spec.package

    def as_json(self) -> dict[str, object]:
        spec = type_spec(self.type)
        assert spec is not None
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "category": self.category_id,
            "type": self.type,
            "rate": str(self.rate),
            "min": self.min,
            "max": self.max,
            "dripfeed": self.dripfeed,
            "refill": self.refill,
            "cancel": self.cancel,
            "fields": list(spec.fields),
            "needs_quantity": spec.needs_quantity and not spec.quantity_from,
            "quantity_from": spec.quantity_from or "",
            "package": spec.package,
        }


#: What makes a service orderable now, once for queries and for a loaded service: enabled,
#: in a visible category, still offered by an active provider, and of a type the shop supports.
ORDERABLE = {
    "is_enabled": True,
    "category__is_visible": True,
    "provider_service__is_available": True,
    "provider_service__provider__is_active": True,
}
ORDERABLE_TYPE = "provider_service__type"


def service_orderable(*, service: Service) -> bool:
    """Whether customers can order this loaded service now (``ORDERABLE``, read from its related objects)."""

    def value(path: str) -> object:
        target: object = service
        for name in path.split("__"):
            target = getattr(target, name)
        return target

    return all(value(path) == wanted for path, wanted in ORDERABLE.items()) and value(ORDERABLE_TYPE) in TYPES


def orderable_services() -> QuerySet[Service]:
    """Services customers can order now (``ORDERABLE``), in catalogue order, with what pricing needs joined in."""
    return (
        Service.objects.filter(**ORDERABLE, **{f"{ORDERABLE_TYPE}__in": list(TYPES)})
        .select_related("category", "provider_service__provider")
        # Only what a customer sees and pricing needs: pages price hundreds of these.
        .only(*OFFER_FIELDS)
        .order_by("category__position", "category__name", "position", "name", "pk")
    )


OFFER_FIELDS = (
    "name",
    "description",
    "position",
    "markup_percent",
    "fixed_rate",
    "min_quantity",
    "max_quantity",
    "category__name",
    "category__position",
    "category__markup_percent",
    "provider_service__type",
    "provider_service__rate",
    "provider_service__min_quantity",
    "provider_service__max_quantity",
    "provider_service__refill",
    "provider_service__cancel",
    "provider_service__dripfeed",
    "provider_service__provider__exchange_rate",
)


def visible_categories() -> QuerySet[Category]:
    """Visible categories that hold at least one orderable service."""
    return (
        Category.objects.filter(is_visible=True)
        .filter(Exists(orderable_services().filter(category=OuterRef("pk"))))
        .only("name", "position")
        .order_by("position", "name")
    )


def service_offers(services: QuerySet[Service] | list[Service]) -> list[ServiceOffer]:
    """Price the given services (the shop's default markup is read once)."""
    markup = ShopSettings.load().default_markup_percent
    offers = []
    for service in services:
        low, high = service_limits(service=service)
        upstream = service.provider_service
        offers.append(
            ServiceOffer(
                id=service.pk,
                name=service.name,
                description=service.description,
                category_id=service.category_id,
                category=service.category.name,
                type=upstream.type,
                rate=service_rate(service=service, default_markup=markup),
                min=low,
                max=high,
                refill=upstream.refill,
                cancel=upstream.cancel,
                dripfeed=upstream.dripfeed,
            )
        )
    return offers


def service_search(*, category_id: int | None = None, query: str = "") -> QuerySet[Service]:
    services = orderable_services()
    if category_id:
        services = services.filter(category_id=category_id)
    query = query.strip()
    if query:
        match = Q(name__icontains=query)
        if (number := id_number(query)) is not None:
            match |= Q(pk=number)
        services = services.filter(match)
    return services
