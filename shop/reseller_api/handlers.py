"""What each API action does: parse its parameters, call the orders and wallet domains, shape the reply as the document does."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection

from shop.catalogue.models import Service
from shop.catalogue.selectors import customer_prices, orderable_services, service_offers
from shop.core.numbers import id_number
from shop.orders.display import customer_remains
from shop.orders.history import Actor
from shop.orders.models import Order, OrderStatus, Refill
from shop.orders.placement import OrderRejected, order_place
from shop.orders.requests import RequestRefused, order_cancel, order_refill
from shop.orders.requests_many import orders_cancel_many, orders_refill_many
from shop.reseller_api.keys import KEY_PREFIX_LENGTH
from shop.reseller_api.queries import (
    OwnerRow,
    key_owner_with_service,
    key_owner_with_status_texts,
    status_rows,
    status_texts,
)
from shop.wallet.selectors import balance_of

BATCH_LIMIT = 100
ORDER_FIELDS = (
    "link",
    "quantity",
    "runs",
    "interval",
    "comments",
    "usernames",
    "hashtags",
    "hashtag",
    "username",
    "media",
    "answer_number",
    "groups",
    "keywords",
    # Subscriptions
    "min",
    "max",
    "posts",
    "old_posts",
    "delay",
    "expiry",
)

INCORRECT_REQUEST = "Incorrect request"
INVALID_KEY = "Invalid API key"
INCORRECT_ORDER = "Incorrect order ID"
TOO_MANY = "Too many requests, slow down"
MISSING_ORDER = json.dumps({"error": INCORRECT_ORDER})


T = TypeVar("T")
#: Reads the owner of a key (by its hash) and, in the same statement, what an action needs (``keys.api_key_caller``).
Reader = Callable[[str], tuple[OwnerRow | None, T]]


class EncodedReply(str):
    """A reply already written as JSON text (by the database): sent as it is."""


class ApiError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Replies ----------------------------------------------------------------------------


def _rate(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def _status(row: dict[str, Any], currency: str) -> dict[str, str]:
    if row["posts_done"] is not None:
        # A subscription, answered as panels answer for one: its posts served instead of start count and remains.
        return {
            "charge": str(row["charge"] - row["refunded"]),
            "status": OrderStatus.customer_label(row["status"]),
            "posts": str(row["posts_done"]),
            "currency": currency,
        }
    remains = customer_remains(remains=row["remains"], total_quantity=row["total_quantity"])
    return {
        "charge": str(row["charge"] - row["refunded"]),
        "start_count": str(row["start_count"] or 0),
        "status": OrderStatus.customer_label(row["status"]),
        "remains": str(row["total_quantity"] if remains is None else remains),
        "currency": currency,
    }


def _own_status_rows(user: AbstractBaseUser, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The customer's orders among ``ids``, as plain rows: a status reply needs no model objects.

    On PostgreSQL it is one prepared-shape statement with an array of ids, the
    hot path of every reseller's polling; elsewhere the ORM does the same.
    """
    numbers = _numbers(ids)
    rows = status_rows(user_id=user.pk, order_ids=set(numbers.values()))
    return _keyed_by_text(numbers, {row["pk"]: row for row in rows})


def _ids(raw: str | None) -> list[str]:
    ids = [part.strip() for part in (raw or "").split(",") if part.strip()]
    if not ids or len(ids) > BATCH_LIMIT:
        raise ApiError(INCORRECT_REQUEST)
    return ids


def _own_orders(user: AbstractBaseUser, ids: list[str]) -> dict[str, Order]:
    numbers = _numbers(ids)
    found = Order.objects.select_related("provider", "provider_service").filter(user=user, pk__in=set(numbers.values()))
    return _keyed_by_text(numbers, {order.pk: order for order in found})


def _numbers(ids: list[str]) -> dict[str, int]:
    """The ids as sent, mapped to the numbers they name (ids that are not numbers name nothing)."""
    return {text: number for text in ids if (number := id_number(text)) is not None}


def _keyed_by_text(numbers: dict[str, int], by_pk: dict[int, Any]) -> dict[str, Any]:
    """Rows found, keyed by the id text the customer sent."""
    return {text: by_pk[number] for text, number in numbers.items() if number in by_pk}


def _number(text: str) -> int | str:
    number = id_number(text)
    return text if number is None else number


# Handlers ---------------------------------------------------------------------------------


def do_services(user: AbstractBaseUser, params: Mapping[str, str]) -> list[dict[str, object]]:
    return [
        {
            "service": offer.id,
            "name": offer.name,
            "type": offer.type,
            "category": offer.category,
            "rate": _rate(offer.rate),
            "min": str(offer.min),
            "max": str(offer.max),
            "refill": offer.refill,
            "cancel": offer.cancel,
            "dripfeed": offer.dripfeed_orderable,  # runs and interval are taken
            "desc": offer.description,
            # Not in the API v2 family: the median of the last 10 completed orders, in minutes per 1000 (null: no data yet).
            "average_time": offer.average_minutes,
        }
        for offer in service_offers(orderable_services(), prices=customer_prices(user=user))
    ]


def read_add(params: Mapping[str, str]) -> Reader[list[Service]] | None:
    """The service of an ``add``, read with the key (PostgreSQL): what ``do_add`` takes as ``read``."""
    service = id_number((params.get("service") or "").strip())
    if service is None or connection.vendor != "postgresql":
        return None
    return lambda key_hash: key_owner_with_service(key_hash=key_hash, service_id=service)


def do_add(user: AbstractBaseUser, params: Mapping[str, str], read: list[Service] | None = None) -> dict[str, int]:
    """``read``: the service, with the customer's prices, if ``read_add`` found it ([] if not)."""
    service = id_number((params.get("service") or "").strip())
    if service is None:
        raise ApiError("Incorrect service ID")
    fields = {name: params[name] for name in ORDER_FIELDS if params.get(name) not in (None, "")}
    try:
        # A service read with the key is placed as read; otherwise order_place reads it (and refuses it if there is none).
        found = {"service": read[0], "loaded": True} if read else {"service": service}
        order = order_place(user=user, actor=_caller(user, params), **found, **fields)
    except OrderRejected as exc:
        raise ApiError(exc.message) from exc
    return {"order": order.pk}


def read_status(params: Mapping[str, str]) -> Reader[dict[int, str]] | None:
    """The JSON text of the order a ``status`` names, read with the key (PostgreSQL): what ``do_status`` takes as ``read``."""
    return _status_reader([params.get("order", "").strip()])


def read_status_many(params: Mapping[str, str]) -> Reader[dict[int, str]] | None:
    """``read_status`` for the orders of a many-orders ``status`` (none if their list is refused: ``do_status_many`` says why)."""
    ids = [part.strip() for part in params.get("orders", "").split(",") if part.strip()]
    return _status_reader(ids) if 0 < len(ids) <= BATCH_LIMIT else None


def _status_reader(ids: list[str]) -> Reader[dict[int, str]] | None:
    if connection.vendor != "postgresql":
        return None
    numbers = set(_numbers(ids).values())
    labels, currency = OrderStatus.CUSTOMER_LABELS, settings.SHOP_CURRENCY
    return lambda key_hash: key_owner_with_status_texts(key_hash=key_hash, order_ids=numbers, labels=labels, currency=currency)


def do_status(user: AbstractBaseUser, params: Mapping[str, str], read: dict[int, str] | None = None) -> dict[str, object] | EncodedReply:
    """``read``: the order's JSON text by id, if ``read_status`` read it."""
    text = params.get("order", "").strip()
    if read is not None:
        number = id_number(text)
        if number is None or number not in read:
            raise ApiError(INCORRECT_ORDER)
        return EncodedReply(read[number])
    row = _own_status_rows(user, [text]).get(text)
    if row is None:
        raise ApiError(INCORRECT_ORDER)
    return _status(row, settings.SHOP_CURRENCY)


def do_status_many(
    user: AbstractBaseUser, params: Mapping[str, str], read: dict[int, str] | None = None
) -> dict[str, object] | EncodedReply:
    """``read``: the JSON text of each found order by id, if ``read_status_many`` read them."""
    ids = _ids(params.get("orders"))
    numbers = _numbers(ids)
    texts = read
    if texts is None:
        texts = status_texts(
            user_id=user.pk, order_ids=set(numbers.values()), labels=OrderStatus.CUSTOMER_LABELS, currency=settings.SHOP_CURRENCY
        )
    if texts is None:
        return status_many_reply(user, ids)
    # An id sent twice is answered once, where it first came (as a dict's keys are). An id that is a
    # number is digits only, so it needs no escaping as a JSON name.
    replies = (
        f'"{text}":{texts.get(numbers[text], MISSING_ORDER)}' if text in numbers else f"{json.dumps(text)}:{MISSING_ORDER}"
        for text in dict.fromkeys(ids)
    )
    return EncodedReply("{" + ",".join(replies) + "}")


def status_many_reply(user: AbstractBaseUser, ids: list[str]) -> dict[str, object]:
    """The status reply for many orders, built in Python from the rows (what ``status_reply`` builds on PostgreSQL)."""
    found = _own_status_rows(user, ids)
    currency = settings.SHOP_CURRENCY
    missing = {"error": INCORRECT_ORDER}
    return {text: _status(found[text], currency) if text in found else missing for text in ids}


def do_balance(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, str]:
    return {"balance": str(balance_of(user=user)), "currency": settings.SHOP_CURRENCY}


def _caller(user: AbstractBaseUser, params: Mapping[str, str]) -> Actor:
    """The customer, through the API, with the prefix of the key the call used (as the API page shows it)."""
    return Actor.api(user, key_prefix=params.get("key", "")[:KEY_PREFIX_LENGTH])


def do_refill(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, str]:
    """Answered at once with the shop's refill id; a task sends it to the provider."""
    text = params.get("order", "").strip()
    order = _own_orders(user, [text]).get(text)
    if order is None:
        raise ApiError(INCORRECT_ORDER)
    try:
        return {"refill": str(order_refill(order=order, actor=_caller(user, params)).pk)}
    except RequestRefused as exc:
        raise ApiError(str(exc)) from exc


def do_refill_many(user: AbstractBaseUser, params: Mapping[str, str]) -> list[dict[str, object]]:
    """Answered at once; the refills go to the provider from a task, 100 per call."""
    ids = _ids(params.get("orders"))
    found = _own_orders(user, ids)
    results = orders_refill_many(orders=found.values(), actor=_caller(user, params))
    replies: list[dict[str, object]] = []
    for text in ids:
        result = results.get(found[text].pk) if text in found else RequestRefused(INCORRECT_ORDER)
        refill = {"error": str(result)} if isinstance(result, RequestRefused) else result.pk
        replies.append({"order": _number(text), "refill": refill})
    return replies


def _own_refill_statuses(user: AbstractBaseUser, ids: list[str]) -> dict[str, str]:
    """The status of the customer's refills among ``ids``, as the shop last heard it (the periodic sweep asks the providers)."""
    numbers = _numbers(ids)
    found = Refill.objects.filter(order__user=user, pk__in=set(numbers.values())).values_list("pk", "status")
    return _keyed_by_text(numbers, dict(found))


def do_refill_status(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, str]:
    text = params.get("refill", "").strip()
    status = _own_refill_statuses(user, [text]).get(text)
    if status is None:
        raise ApiError("Refill not found")
    return {"status": status}


def do_refill_status_many(user: AbstractBaseUser, params: Mapping[str, str]) -> list[dict[str, object]]:
    ids = _ids(params.get("refills"))
    found = _own_refill_statuses(user, ids)
    return [
        {
            "refill": _number(text),
            "status": found[text] if text in found else {"error": "Refill not found"},
        }
        for text in ids
    ]


def do_cancel(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, int]:
    """Answered at once: an unsent order is canceled and refunded here, a placed one asked of the provider from a task."""
    text = params.get("order", "").strip()
    order = _own_orders(user, [text]).get(text)
    if order is None:
        raise ApiError(INCORRECT_ORDER)
    try:
        order_cancel(order=order, actor=_caller(user, params))
    except RequestRefused as exc:
        raise ApiError(str(exc)) from exc
    return {"cancel": 1}


def do_cancel_many(user: AbstractBaseUser, params: Mapping[str, str]) -> list[dict[str, object]]:
    """Answered at once: unsent orders are canceled and refunded here, the others asked of the provider from a task."""
    ids = _ids(params.get("orders"))
    found = _own_orders(user, ids)
    results = orders_cancel_many(orders=found.values(), actor=_caller(user, params))
    replies: list[dict[str, object]] = []
    for text in ids:
        refused = results.get(found[text].pk) if text in found else RequestRefused(INCORRECT_ORDER)
        replies.append({"order": _number(text), "cancel": {"error": str(refused)} if refused else 1})
    return replies
