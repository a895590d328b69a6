"""Reads of the retail catalogue: what customers can order now, priced."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, OuterRef, Q, QuerySet

from shop.catalogue.facts import average_time_words, minutes_of
from shop.catalogue.models import Category, CustomerPrice, Service, ServiceUpdate, ShopSettings
from shop.catalogue.pricing import RETAIL, CustomerPrices, customer_rate, service_limits, service_rate
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
    rate: Decimal  # the customer's: their own price where they have one (``customer_rate``), else the retail rate
    retail_rate: Decimal | None  # the retail rate where the customer's own price replaced it, else None
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    average_seconds: int | None = None  # ``Service.average_seconds``: per 1000 (per order for a package); None: no data yet

    @property
    def package(self) -> bool:
        """A fixed bundle: its rate is the price of the whole package, not a price per 1000."""
        spec = type_spec(self.type)
        return spec is not None and spec.package

    @property
    def dripfeed_orderable(self) -> bool:
        """Whether an order of it may be drip-fed: the provider offers it and its type takes runs (``TypeSpec.runs``)."""
        spec = type_spec(self.type)
        return self.dripfeed and spec is not None and spec.runs

    @property
    def average_time(self) -> str:
        """``about 2 hours 10 minutes per 1000``, or ``not enough data``."""
        return average_time_words(self.average_seconds, package=self.package)

    @property
    def average_minutes(self) -> int | None:
        return minutes_of(self.average_seconds)

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
            "retail_rate": None if self.retail_rate is None else str(self.retail_rate),
            "min": self.min,
            "max": self.max,
            "dripfeed": self.dripfeed,
            "dripfeed_orderable": self.dripfeed_orderable,  # what the order form offers and badges show
            "refill": self.refill,
            "cancel": self.cancel,
            "fields": list(spec.fields),
            "needs_quantity": spec.needs_quantity and not spec.quantity_from,
            "quantity_from": spec.quantity_from or "",
            "package": spec.package,
            "needs_link": spec.needs_link,
            "subscription": spec.subscription,
            "average_time": self.average_time,
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
    "average_seconds",
)


def visible_categories() -> QuerySet[Category]:
    """Visible categories that hold at least one orderable service."""
    return (
        Category.objects.filter(is_visible=True)
        .filter(Exists(orderable_services().filter(category=OuterRef("pk"))))
        .only("name", "position")
        .order_by("position", "name")
    )


def customer_prices(*, user: AbstractBaseUser | AnonymousUser | None, service_id: int | None = None) -> CustomerPrices:
    """The customer's own prices in one query (none for visitors); ``service_id`` reads only what an order of it needs."""
    if user is None or not user.is_authenticated:
        return RETAIL
    rows = CustomerPrice.objects.filter(user=user)
    if service_id is not None:
        rows = rows.filter(Q(service__isnull=True) | Q(service_id=service_id))
    discount, fixed = None, {}
    for service, discount_percent, fixed_rate in rows.values_list("service_id", "discount_percent", "fixed_rate"):
        if service is None:
            discount = discount_percent
        else:
            fixed[service] = fixed_rate
    return CustomerPrices(discount_percent=discount, fixed_rates=fixed) if discount is not None or fixed else RETAIL


def service_offers(services: QuerySet[Service] | list[Service], *, prices: CustomerPrices = RETAIL) -> list[ServiceOffer]:
    """Price the given services for a customer (``prices``: ``customer_prices``; the shop's default markup is read once)."""
    markup = ShopSettings.load().default_markup_percent
    offers = []
    for service in services:
        low, high = service_limits(service=service)
        upstream = service.provider_service
        spec = type_spec(upstream.type)
        package = spec is not None and spec.package
        retail = service_rate(service=service, default_markup=markup)
        rate = customer_rate(retail_rate=retail, service_id=service.pk, prices=prices, package=package)
        # What a customer without prices of their own pays (a package's rate rounded as its charge).
        retail = customer_rate(retail_rate=retail, service_id=service.pk, prices=RETAIL, package=package)
        offers.append(
            ServiceOffer(
                id=service.pk,
                name=service.name,
                description=service.description,
                category_id=service.category_id,
                category=service.category.name,
                type=upstream.type,
                rate=rate,
                retail_rate=None if rate == retail else retail,
                min=max(low, 1),  # a provider's minimum of 0 still orders at least 1 (``placement._clean``)
                max=high,
                refill=upstream.refill,
                cancel=upstream.cancel,
                dripfeed=upstream.dripfeed,
                average_seconds=service.average_seconds,
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


@dataclass(frozen=True)
class ServiceNotice:
    """One entry of the public service updates page and feed: only what any visitor may see (no provider, no cost)."""

    id: int
    service_id: int
    service: str
    kind: str  # ``ServiceUpdate.Kind``
    label: str
    old_rate: Decimal | None  # retail rates per 1000, or a package's flat price
    new_rate: Decimal | None
    package: bool
    created_at: datetime


def service_updates_visible() -> QuerySet[ServiceUpdate]:
    """The logged updates of services in visible categories, newest first (``shop.catalogue.updates`` writes them)."""
    return (
        ServiceUpdate.objects.filter(service__category__is_visible=True)
        .select_related("service__provider_service")
        .only("kind", "old_rate", "new_rate", "created_at", "service__name", "service__provider_service__type")
        .order_by("-created_at", "-pk")
    )


def service_notices(updates: Iterable[ServiceUpdate]) -> list[ServiceNotice]:
    notices = []
    for update in updates:
        spec = type_spec(update.service.provider_service.type)
        notices.append(
            ServiceNotice(
                id=update.pk,
                service_id=update.service_id,
                service=update.service.name,
                kind=update.kind,
                label=update.get_kind_display(),
                old_rate=update.old_rate,
                new_rate=update.new_rate,
                package=spec is not None and spec.package,
                created_at=update.created_at,
            )
        )
    return notices
