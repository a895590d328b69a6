"""The shop's own API v2, for resellers: the same actions and reply shapes as the upstream's document.

Every action is defined once here (parameters, description, example request
and reply, handler); the endpoint dispatches on these definitions and the API
page renders its documentation from them, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection

from shop import page_selectors as pages
from shop.models import Order, Refill
from shop.numbers import id_number
from shop.services.api_keys import api_key_user
from shop.services.order_requests import RequestRefused, order_cancel, order_refill, refill_status_refresh
from shop.services.orders import OrderRejected, order_place
from shop.services.rate_limit import Limit, rate_limit_count, rate_limit_hit

BATCH_LIMIT = 100
BAD_KEY_WINDOW = 600
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
)

INCORRECT_REQUEST = "Incorrect request"
INVALID_KEY = "Invalid API key"
INCORRECT_ORDER = "Incorrect order ID"
TOO_MANY = "Too many requests, slow down"


class ApiError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    required: bool = True


@dataclass(frozen=True)
class Action:
    """One documented form of one action."""

    action: str
    title: str
    params: tuple[Param, ...]
    example: dict[str, str]
    reply: object
    selector: str = ""  # the parameter that tells this form from another of the same action
    handler: Callable[[AbstractBaseUser, Mapping[str, str]], object] = field(default=lambda user, params: None, repr=False)


# Replies ----------------------------------------------------------------------------


def _rate(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


STATUS_FIELDS = ("pk", "status", "charge", "refunded", "start_count", "remains", "total_quantity")


def _status(row: dict[str, Any], currency: str) -> dict[str, str]:
    return {
        "charge": str(row["charge"] - row["refunded"]),
        "start_count": str(row["start_count"] or 0),
        "status": pages.CUSTOMER_STATUS[row["status"]],
        "remains": str(row["total_quantity"] if row["remains"] is None else row["remains"]),
        "currency": currency,
    }


def _own_status_rows(user: AbstractBaseUser, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The customer's orders among ``ids``, as plain rows: a status reply needs no model objects.

    On PostgreSQL it is one prepared-shape statement with an array of ids, the
    hot path of every reseller's polling; elsewhere the ORM does the same.
    """
    numbers = _numbers(ids)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join('id' if name == 'pk' else name for name in STATUS_FIELDS)} FROM {Order._meta.db_table} "  # noqa: S608
                "WHERE user_id = %s AND id = ANY(%s)",
                [user.pk, list(set(numbers.values()))],
            )
            rows = [dict(zip(STATUS_FIELDS, values, strict=True)) for values in cursor.fetchall()]
    else:
        rows = list(Order.objects.filter(user=user, pk__in=set(numbers.values())).values(*STATUS_FIELDS))
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
            "dripfeed": offer.dripfeed,
            "desc": offer.description,
        }
        for offer in pages.service_offers(pages.orderable_services())
    ]


def do_add(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, int]:
    service = id_number((params.get("service") or "").strip())
    if service is None:
        raise ApiError("Incorrect service ID")
    fields = {name: params[name] for name in ORDER_FIELDS if params.get(name) not in (None, "")}
    try:
        order = order_place(user=user, service=service, **fields)
    except OrderRejected as exc:
        raise ApiError(exc.message) from exc
    return {"order": order.pk}


def do_status(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, object]:
    text = params.get("order", "").strip()
    row = _own_status_rows(user, [text]).get(text)
    if row is None:
        raise ApiError(INCORRECT_ORDER)
    return _status(row, settings.SHOP_CURRENCY)


def do_status_many(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, object]:
    ids = _ids(params.get("orders"))
    found = _own_status_rows(user, ids)
    currency = settings.SHOP_CURRENCY
    missing = {"error": INCORRECT_ORDER}
    return {text: _status(found[text], currency) if text in found else missing for text in ids}


def do_balance(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, str]:
    return {"balance": str(pages.balance_of(user=user)), "currency": settings.SHOP_CURRENCY}


def _refill_one(order: Order | None) -> str:
    if order is None:
        raise RequestRefused(INCORRECT_ORDER)
    return str(order_refill(order=order).pk)


def do_refill(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, str]:
    text = params.get("order", "").strip()
    try:
        return {"refill": _refill_one(_own_orders(user, [text]).get(text))}
    except RequestRefused as exc:
        raise ApiError(str(exc)) from exc


def do_refill_many(user: AbstractBaseUser, params: Mapping[str, str]) -> list[dict[str, object]]:
    ids = _ids(params.get("orders"))
    found = _own_orders(user, ids)
    replies: list[dict[str, object]] = []
    for text in ids:
        try:
            replies.append({"order": _number(text), "refill": int(_refill_one(found.get(text)))})
        except RequestRefused as exc:
            replies.append({"order": _number(text), "refill": {"error": str(exc)}})
    return replies


def _own_refills(user: AbstractBaseUser, ids: list[str]) -> dict[str, Refill]:
    numbers = _numbers(ids)
    found = Refill.objects.select_related("order__provider").filter(order__user=user, pk__in=set(numbers.values()))
    return _keyed_by_text(numbers, {refill.pk: refill for refill in found})


def do_refill_status(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, str]:
    text = params.get("refill", "").strip()
    refill = _own_refills(user, [text]).get(text)
    if refill is None:
        raise ApiError("Refill not found")
    return {"status": refill_status_refresh(refill=refill).status}


def do_refill_status_many(user: AbstractBaseUser, params: Mapping[str, str]) -> list[dict[str, object]]:
    ids = _ids(params.get("refills"))
    found = _own_refills(user, ids)
    return [
        {
            "refill": _number(text),
            "status": refill_status_refresh(refill=found[text]).status if text in found else {"error": "Refill not found"},
        }
        for text in ids
    ]


def _cancel_one(order: Order | None) -> None:
    if order is None:
        raise RequestRefused(INCORRECT_ORDER)
    order_cancel(order=order)


def do_cancel(user: AbstractBaseUser, params: Mapping[str, str]) -> dict[str, int]:
    text = params.get("order", "").strip()
    try:
        _cancel_one(_own_orders(user, [text]).get(text))
    except RequestRefused as exc:
        raise ApiError(str(exc)) from exc
    return {"cancel": 1}


def do_cancel_many(user: AbstractBaseUser, params: Mapping[str, str]) -> list[dict[str, object]]:
    ids = _ids(params.get("orders"))
    found = _own_orders(user, ids)
    replies: list[dict[str, object]] = []
    for text in ids:
        try:
            _cancel_one(found.get(text))
            replies.append({"order": _number(text), "cancel": 1})
        except RequestRefused as exc:
            replies.append({"order": _number(text), "cancel": {"error": str(exc)}})
    return replies


# Definitions ----------------------------------------------------------------------------

KEY = Param("key", "Your API key")
ACTION = Param("action", "The action's name")
STATUS_EXAMPLE = {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"}

ACTIONS: tuple[Action, ...] = (
    Action(
        "services",
        "Service list",
        (KEY, ACTION),
        {"action": "services"},
        [
            {
                "service": 1,
                "name": "Followers",
                "type": "Default",
                "category": "First Category",
                "rate": "0.90",
                "min": "50",
                "max": "10000",
                "refill": True,
                "cancel": False,
                "dripfeed": False,
                "desc": "",
            }
        ],
        handler=do_services,
    ),
    Action(
        "add",
        "Add order",
        (
            KEY,
            ACTION,
            Param("service", "Service ID"),
            Param("link", "Link to page (every type but Subscriptions)"),
            Param("quantity", "Needed quantity (Default, Mentions, Poll, Comment Likes, ...)", required=False),
            Param("comments", "Comments, one per line (Custom Comments: the quantity is the number of lines)", required=False),
            Param("usernames", "Usernames, one per line (Mentions types)", required=False),
            Param("hashtags", "Hashtags, one per line (Mentions with Hashtags)", required=False),
            Param("hashtag", "Hashtag (Mentions Hashtag)", required=False),
            Param("username", "Username (Mentions User Followers, Comment Likes)", required=False),
            Param("media", "Media link (Mentions Media Likers)", required=False),
            Param("answer_number", "Answer number (Poll)", required=False),
            Param("groups", "Groups, one per line (Invites from Groups)", required=False),
            Param("keywords", "Keywords, one per line (SEO)", required=False),
            Param("runs", "Runs to deliver in (drip-feed services)", required=False),
            Param("interval", "Interval in minutes between runs (drip-feed services)", required=False),
        ),
        {"action": "add", "service": "1", "link": "https://instagram.com/p/abc", "quantity": "1000"},
        {"order": 23501},
        handler=do_add,
    ),
    Action(
        "status",
        "Order status",
        (KEY, ACTION, Param("order", "Order ID")),
        {"action": "status", "order": "23501"},
        STATUS_EXAMPLE,
        selector="order",
        handler=do_status,
    ),
    Action(
        "status",
        "Multiple orders status",
        (KEY, ACTION, Param("orders", f"Order IDs separated by a comma, up to {BATCH_LIMIT}")),
        {"action": "status", "orders": "1,10,100"},
        {"1": STATUS_EXAMPLE, "10": {"error": INCORRECT_ORDER}},
        selector="orders",
        handler=do_status_many,
    ),
    Action("balance", "User balance", (KEY, ACTION), {"action": "balance"}, {"balance": "100.84", "currency": "USD"}, handler=do_balance),
    Action(
        "refill",
        "Create refill",
        (KEY, ACTION, Param("order", "Order ID")),
        {"action": "refill", "order": "23501"},
        {"refill": "1"},
        selector="order",
        handler=do_refill,
    ),
    Action(
        "refill",
        "Create multiple refills",
        (KEY, ACTION, Param("orders", f"Order IDs separated by a comma, up to {BATCH_LIMIT}")),
        {"action": "refill", "orders": "1,3"},
        [{"order": 1, "refill": 1}, {"order": 3, "refill": {"error": INCORRECT_ORDER}}],
        selector="orders",
        handler=do_refill_many,
    ),
    Action(
        "refill_status",
        "Refill status",
        (KEY, ACTION, Param("refill", "Refill ID")),
        {"action": "refill_status", "refill": "1"},
        {"status": "Completed"},
        selector="refill",
        handler=do_refill_status,
    ),
    Action(
        "refill_status",
        "Multiple refills status",
        (KEY, ACTION, Param("refills", f"Refill IDs separated by a comma, up to {BATCH_LIMIT}")),
        {"action": "refill_status", "refills": "1,3"},
        [{"refill": 1, "status": "Completed"}, {"refill": 3, "status": {"error": "Refill not found"}}],
        selector="refills",
        handler=do_refill_status_many,
    ),
    Action(
        "cancel",
        "Cancel order",
        (KEY, ACTION, Param("order", "Order ID")),
        {"action": "cancel", "order": "2"},
        {"cancel": 1},
        selector="order",
        handler=do_cancel,
    ),
    Action(
        "cancel",
        "Cancel multiple orders",
        (KEY, ACTION, Param("orders", f"Order IDs separated by a comma, up to {BATCH_LIMIT}")),
        {"action": "cancel", "orders": "2,3"},
        [{"order": 2, "cancel": 1}, {"order": 3, "cancel": {"error": INCORRECT_ORDER}}],
        selector="orders",
        handler=do_cancel_many,
    ),
)


def _find(action: str, params: Mapping[str, str]) -> Action | None:
    forms = [definition for definition in ACTIONS if definition.action == action]
    for definition in forms:
        if definition.selector and params.get(definition.selector, "").strip():
            return definition
    return next((definition for definition in forms if not definition.selector), None)


def api_call(*, params: Mapping[str, str], client_address: str) -> tuple[int, object]:
    """Answer one API call: (HTTP status, JSON-able reply). Never raises for bad input."""
    user = api_key_user(key=params.get("key", ""))
    if user is None:
        # Guessing keys costs: past the limit an address gets no answers for a
        # while. (A valid key is answered anyway: it proves nothing is guessed.)
        bad_keys = Limit(f"api-bad-key:{client_address}", settings.API_BAD_KEY_LIMIT, BAD_KEY_WINDOW)
        if bad_keys.limit > 0 and rate_limit_count(bad_keys) >= bad_keys.limit:
            return 429, {"error": TOO_MANY}
        if rate_limit_hit(bad_keys)[0]:
            return 429, {"error": TOO_MANY}
        return 200, {"error": INVALID_KEY}
    action = params.get("action", "").strip()
    # All calls count against one limit, orders against a second; both in one round trip.
    limits = [Limit(f"api:{user.pk}", settings.API_RATE_LIMIT, 60)]
    if action == "add":
        limits.append(Limit(f"api-add:{user.pk}", settings.API_ADD_RATE_LIMIT, 60))
    if any(rate_limit_hit(*limits)):
        return 429, {"error": TOO_MANY}
    definition = _find(action, params)
    if definition is None:
        return 200, {"error": INCORRECT_REQUEST}
    try:
        return 200, definition.handler(user, params)
    except ApiError as exc:
        return 200, {"error": exc.message}
