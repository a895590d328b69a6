"""Placing an order: validate, price, then debit the wallet, create the order and its first history event, all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.catalogue.models import Service
from shop.catalogue.pricing import CustomerPrices, charge_for, customer_rate, service_limits, service_rate
from shop.catalogue.selectors import customer_prices, service_orderable
from shop.orders.history import Actor, Kind, event
from shop.orders.models import Order, OrderStatus
from shop.orders.queries import order_insert_charged, order_links_lock, service_for_order
from shop.orders.selectors import order_live_with_link
from shop.orders.subscriptions import clean_subscription, reserve
from shop.orders.types import (
    MAX_INTERVAL,
    MAX_RUNS,
    FieldError,
    Refusal,
    TypeSpec,
    clean_extra,
    clean_lines,
    clean_link,
    clean_whole,
    type_spec,
)
from shop.wallet.services import InsufficientFunds, WalletOnHold

# The API's words (kept in English: resellers' software parses them); pages word these refusals by their code (``Refusal``).
NOT_ENOUGH_FUNDS = "Not enough funds on balance"
NOT_ORDERABLE = "Incorrect service ID"
# The words panels use (the web says the same, translated; the API answers in English): with ShopSettings.one_order_per_link,
# one unfinished order per link and service.
LINK_BUSY = gettext_lazy("You have an active order with this link. Please wait until order being completed.")


class AlreadyPlaced(Exception):
    """This order form was submitted before: ``order`` is what it placed; nothing more was written or charged."""

    def __init__(self, order: Order) -> None:
        super().__init__(f"This form already placed order #{order.pk}.")
        self.order = order


class OrderRejected(Exception):
    """The order was not placed and nothing was written; ``errors`` maps fields to messages in the API's wording.

    ``code`` (a ``Refusal``, or "" where the message reads well to people as it is) and ``params``
    (the figures it names) let a page word the refusal for people without reading the message.
    """

    def __init__(self, errors: dict[str, str], *, code: str = "", params: dict[str, object] | None = None) -> None:
        self.errors = errors
        self.code = code
        self.params = params or {}
        super().__init__(next(iter(errors.values())))

    @property
    def message(self) -> str:
        return str(self)


def order_place(
    *,
    user: AbstractBaseUser,
    service: Service | int,
    link: Any = "",
    quantity: Any = None,
    runs: Any = None,
    interval: Any = None,
    actor: Actor | None = None,
    form_token: UUID | None = None,
    loaded: bool = False,
    **extra: Any,
) -> Order:
    """Validate and place an order; raises ``OrderRejected`` (nothing written) or returns the new order.

    ``actor`` is who placed it (the customer on the web by default); ``form_token``
    is the one-time token of the order form it came from: a second submission of
    the same form raises ``AlreadyPlaced`` naming the first order, and writes
    nothing (the database's unique constraint decides, whatever the race).
    The submission upstream is queued only once the transaction has committed.
    ``loaded``: ``service`` was read by ``service_for_order`` with this customer's prices (the API reads it with the key).
    """
    actor = actor or Actor.web(user)
    if form_token is not None and (placed := _placed_with(user, form_token)) is not None:
        raise AlreadyPlaced(placed)
    order = order_prepare(
        user=user,
        service=service,
        link=link,
        quantity=quantity,
        runs=runs,
        interval=interval,
        loaded=loaded,
        link_rule_later=True,
        **extra,
    )
    order.form_token = form_token
    charge = order.charge
    placed = event(order_id=0, kind=Kind.PLACED, actor=actor, status=OrderStatus.AWAITING, charge=charge)
    try:
        with link_rule_held(order=order):
            if form_token is None:
                order_insert_charged(user=user, order=order, placed=placed)
            else:
                with transaction.atomic():  # a savepoint: the clash of a twin submission must not break a caller's transaction
                    order_insert_charged(user=user, order=order, placed=placed)
    except InsufficientFunds as exc:
        funds = {"charge": exc.needed, "balance": exc.available}
        raise OrderRejected({"__all__": NOT_ENOUGH_FUNDS}, code=Refusal.SHORT_OF_FUNDS, params=funds) from exc
    except WalletOnHold as exc:
        paused = _("New orders are paused: %(reason)s Please contact support.") % {"reason": exc.reason}
        raise OrderRejected({"__all__": paused}) from exc
    except IntegrityError:
        twin = _placed_with(user, form_token) if form_token is not None else None
        if twin is None:
            raise
        raise AlreadyPlaced(twin) from None
    # After the commit (at once outside a transaction). A broker that fails
    # here must not turn a placed, charged order into an error reply: it is
    # logged, and the sweep queues the order again (ORDER_REQUEUE_AFTER).
    transaction.on_commit(lambda: _enqueue_submit(order.pk), robust=True)
    return order


def order_prepare(
    *,
    user: AbstractBaseUser,
    service: Service | int,
    link: Any = "",
    quantity: Any = None,
    runs: Any = None,
    interval: Any = None,
    loaded: bool = False,
    prices: CustomerPrices | None = None,
    link_rule_later: bool = False,
    **extra: Any,
) -> Order:
    """The order these fields make, validated and priced but not saved; raises ``OrderRejected``. Reads only.

    ``order_place`` saves and charges it; the mass order previews and places many with it, reading
    once what each call would read: ``loaded`` says ``service`` comes from ``services_for_order``
    (or from ``service_for_order``, its ``prices`` with it), ``prices`` are the customer's
    (``customer_prices``). ``link_rule_later``: the caller checks the link rule itself, under the
    link's lock (``link_rule_held``), as ``order_place`` does.
    """
    if not (loaded and isinstance(service, Service)):
        # The customer's prices for it come in the same statement, unless the caller has read them.
        service_id = service.pk if isinstance(service, Service) else service
        service = service_for_order(service_id=service_id, user_id=user.pk if prices is None else None)
    if service is None or not service_orderable(service=service):
        raise OrderRejected({"service": NOT_ORDERABLE}, code=Refusal.NOT_ORDERABLE)
    spec = type_spec(service.provider_service.type)
    assert spec is not None  # service_orderable checked it
    try:
        fields = _clean(service, spec, link=link, quantity=quantity, runs=runs, interval=interval, extra=extra)
    except FieldError as exc:
        raise OrderRejected({exc.field: exc.message}, code=exc.code, params=exc.params) from exc

    if (
        not link_rule_later
        and service.one_order_per_link
        and fields["link"]
        and order_live_with_link(service_id=service.pk, link=fields["link"])
    ):
        raise OrderRejected({"link": LINK_BUSY})
    retail = service_rate(service=service, default_markup=service.default_markup)
    if prices is None:
        prices = service.prices if hasattr(service, "prices") else customer_prices(user=user, service_id=service.pk)
    rate = customer_rate(retail_rate=retail, service_id=service.pk, prices=prices, package=spec.package)
    total = fields.get("total") or fields["quantity"] * (fields["runs"] or 1)
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
        posts_done=fields.get("posts_done"),  # 0 on a subscription: it is how readings tell one apart
        rate=rate,
        charge=charge,
        status=OrderStatus.AWAITING,
    )
    order.next_attempt_at = timezone.now()  # due at once; created_at is set on insert
    return order


@contextmanager
def link_rule_held(*, order: Order) -> Iterator[None]:
    """With the link rule on, a transaction in which no other order of ``order``'s service and link is placed; raises ``OrderRejected``.

    Checking, then inserting, lets two orders sent at once both find the link free: here the
    check runs after taking the (service, link) lock (``order_links_lock``), in a transaction
    that holds it until the order written in the block commits. Without the rule, or without
    a link (a subscription's username), nothing is taken and no transaction is opened.
    """
    if not (order.service.one_order_per_link and order.link):
        yield
        return
    with transaction.atomic():
        order_links_lock(links=[(order.service_id, order.link)])
        if order_live_with_link(service_id=order.service_id, link=order.link):
            raise OrderRejected({"link": LINK_BUSY})
        yield


def _clean(
    service: Service, spec: TypeSpec, *, link: Any, quantity: Any, runs: Any, interval: Any, extra: dict[str, Any]
) -> dict[str, Any]:
    low, high = service_limits(service=service)
    low = max(low, 1)  # a provider's minimum of 0 still orders at least 1 (the table refuses a quantity of 0)
    if spec.subscription:
        if runs not in (None, "") or interval not in (None, ""):
            raise FieldError("runs", _("Drip-feed is not available for this service."))
        sub = clean_subscription(extra, low=low, high=high)
        per_post, total = reserve(sub)  # the most it can deliver: max on every post
        return {"link": "", "quantity": per_post, "runs": None, "interval": None, "extra": sub, "total": total, "posts_done": 0}
    cleaned_link = clean_link(link) if spec.needs_link else ""
    extra_fields = clean_extra(spec, extra)
    if spec.quantity_from:
        amount = len(clean_lines(extra_fields[spec.quantity_from], spec.quantity_from))
    elif spec.needs_quantity:
        # Any whole number here: the service's own minimum answers below, in the words panels use.
        amount = clean_whole(quantity, "quantity", low=None)
        if amount is None:
            raise FieldError("quantity", _("Quantity is required."))
    else:
        amount = 1
    if not spec.package:
        if amount < low:
            raise FieldError("quantity", f"Quantity less than minimal {low}", code=Refusal.BELOW_MIN, params={"min": low})
        if amount > high:
            raise FieldError("quantity", f"Quantity more than maximum {high}", code=Refusal.ABOVE_MAX, params={"max": high})
    drip_runs = clean_whole(runs, "runs", low=2, high=MAX_RUNS)
    drip_interval = clean_whole(interval, "interval", high=MAX_INTERVAL)  # at least 1, the default
    if drip_runs is not None or drip_interval is not None:
        if not service.provider_service.dripfeed or not spec.runs:
            raise FieldError("runs", _("Drip-feed is not available for this service."))
        if drip_runs is None or drip_interval is None:
            raise FieldError("runs" if drip_runs is None else "interval", _("Drip-feed needs both runs and an interval."))
    return {"link": cleaned_link, "quantity": amount, "runs": drip_runs, "interval": drip_interval, "extra": extra_fields}


def _enqueue_submit(order_id: int) -> None:
    from shop.orders.tasks import order_submit_task

    order_submit_task.delay(order_id)


def _placed_with(user: AbstractBaseUser, form_token: UUID) -> Order | None:
    return Order.objects.filter(user=user, form_token=form_token).first()
