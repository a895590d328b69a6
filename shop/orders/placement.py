"""Placing an order: validate, price, debit the wallet and create the order in one transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from shop.catalogue.models import Category, Provider, ProviderService, Service, ShopSettings
from shop.catalogue.pricing import charge_for, service_limits, service_rate
from shop.core.rows import Part, Projection
from shop.orders.models import Order, OrderStatus
from shop.orders.types import FieldError, TypeSpec, clean_extra, clean_lines, clean_link, clean_whole, type_spec
from shop.wallet.services import InsufficientFunds, wallet_charge_new_order

NOT_ENOUGH_FUNDS = "Not enough funds on balance"
NOT_ORDERABLE = "Incorrect service ID"


class OrderRejected(Exception):
    """The order was not placed and nothing was written; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(next(iter(errors.values())))

    @property
    def message(self) -> str:
        return str(self)


def service_orderable(*, service: Service) -> bool:
    """Whether customers can order it now: enabled, visible, available upstream, of a supported type."""
    upstream = service.provider_service
    return (
        service.is_enabled
        and service.category.is_visible
        and upstream.is_available
        and upstream.provider.is_active
        and type_spec(upstream.type) is not None
    )


def order_place(
    *,
    user: AbstractBaseUser,
    service: Service | int,
    link: Any = "",
    quantity: Any = None,
    runs: Any = None,
    interval: Any = None,
    **extra: Any,
) -> Order:
    """Validate and place an order; raises ``OrderRejected`` (nothing written) or returns the new order.

    The submission upstream is queued only once the transaction has committed.
    """
    service = _load(service)
    if service is None or not service_orderable(service=service):
        raise OrderRejected({"service": NOT_ORDERABLE})
    spec = type_spec(service.provider_service.type)
    assert spec is not None  # service_orderable checked it
    try:
        fields = _clean(service, spec, link=link, quantity=quantity, runs=runs, interval=interval, extra=extra)
    except FieldError as exc:
        raise OrderRejected({exc.field: exc.message}) from exc

    rate = service_rate(service=service, default_markup=service.default_markup)
    total = fields["quantity"] * (fields["runs"] or 1)
    charge = charge_for(rate=rate, total_quantity=total, package=spec.package)
    order = Order(
        user=user,
        service=service,
        provider_id=service.provider_service.provider_id,
        provider_service=service.provider_service,
        link=fields["link"],
        quantity=fields["quantity"],
        runs=fields["runs"],
        interval=fields["interval"],
        total_quantity=total,
        extra=fields["extra"],
        rate=rate,
        charge=charge,
        status=OrderStatus.AWAITING,
    )
    try:
        wallet_charge_new_order(user=user, order=order)
    except InsufficientFunds as exc:
        raise OrderRejected({"__all__": NOT_ENOUGH_FUNDS}) from exc
    # After the commit (at once outside a transaction). A broker that fails
    # here must not turn a placed, charged order into an error reply: it is
    # logged, and the sweep queues the order again (ORDER_REQUEUE_AFTER).
    transaction.on_commit(lambda: _enqueue_submit(order.pk), robust=True)
    return order


# What validation and pricing read (the provider's encrypted key is not among
# them), in one statement: placing an order is the hot path of the API.
_LOAD = Projection(
    (
        Part(
            Service,
            "s",
            ("name", "is_enabled", "markup_percent", "fixed_rate", "min_quantity", "max_quantity", "category", "provider_service"),
        ),
        Part(Category, "c", ("is_visible", "markup_percent")),
        Part(ProviderService, "ps", ("provider", "type", "rate", "min_quantity", "max_quantity", "dripfeed", "is_available")),
        Part(Provider, "p", ("is_active", "exchange_rate")),
        Part(ShopSettings, "ss", ("default_markup_percent",)),
    )
)


def _load(service: Service | int) -> Service | None:
    pk = service.pk if isinstance(service, Service) else service
    service_t, category_t, upstream_t, provider_t, settings_t = (part.table for part in _LOAD.parts)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_LOAD.select()} FROM {service_t} "  # noqa: S608
            f"JOIN {category_t} ON c.id = s.category_id "
            f"JOIN {upstream_t} ON ps.id = s.provider_service_id "
            f"JOIN {provider_t} ON p.id = ps.provider_id "
            f"LEFT JOIN {settings_t} ON ss.id = 1 "
            "WHERE s.id = %s",
            [pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    loaded, category, upstream, provider, shop_settings = _LOAD.instances(row)
    upstream.provider = provider
    loaded.category = category
    loaded.provider_service = upstream
    loaded.default_markup = (shop_settings or ShopSettings()).default_markup_percent
    return loaded


def _clean(
    service: Service, spec: TypeSpec, *, link: Any, quantity: Any, runs: Any, interval: Any, extra: dict[str, Any]
) -> dict[str, Any]:
    low, high = service_limits(service=service)
    cleaned_link = clean_link(link) if spec.needs_link else ""
    extra_fields = clean_extra(spec, extra)
    if spec.quantity_from:
        amount = len(clean_lines(extra_fields[spec.quantity_from], spec.quantity_from))
    elif spec.needs_quantity:
        amount = clean_whole(quantity, "quantity", low=-(10**18))
        if amount is None:
            raise FieldError("quantity", "Quantity is required.")
    else:
        amount = 1
    if not spec.package:
        if amount < low:
            raise FieldError("quantity", f"Quantity less than minimal {low}")
        if amount > high:
            raise FieldError("quantity", f"Quantity more than maximum {high}")
    drip_runs = clean_whole(runs, "runs", low=2, high=1000)
    drip_interval = clean_whole(interval, "interval", low=1, high=1440)
    if drip_runs is not None or drip_interval is not None:
        if not service.provider_service.dripfeed or spec.package or spec.quantity_from:
            raise FieldError("runs", "Drip-feed is not available for this service.")
        if drip_runs is None or drip_interval is None:
            raise FieldError("runs" if drip_runs is None else "interval", "Drip-feed needs both runs and an interval.")
    return {"link": cleaned_link, "quantity": amount, "runs": drip_runs, "interval": drip_interval, "extra": extra_fields}


def _enqueue_submit(order_id: int) -> None:
    from shop.orders.tasks import order_submit_task

    order_submit_task.delay(order_id)
