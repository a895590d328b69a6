"""Readers for whole API v2 replies: one per action, each turning decoded JSON into ``panelapi.types``.

``PanelClient._call`` hands every decoded reply to one of these. Each raises
``ValueError``, ``TypeError`` or ``KeyError`` on a wrong shape, which the client
turns into ``PanelBadResponse``; a bad entry inside a list or batch fails only
that entry (a ``SkippedItem`` or an ``ItemError``), not the whole reply. The
single values inside a reply are read by ``panelapi.parse``.
"""

from __future__ import annotations

from typing import Any

from . import parse
from .types import (
    AddResult,
    Balance,
    CancelResult,
    ItemError,
    OrderStatus,
    RefillResult,
    RefillStatus,
    ServiceInfo,
    ServiceList,
    SkippedItem,
)

__all__ = [
    "parse_add",
    "parse_balance",
    "parse_cancel_many",
    "parse_multi_status",
    "parse_refill",
    "parse_refill_many",
    "parse_refill_status",
    "parse_refill_status_many",
    "parse_service",
    "parse_services",
    "parse_single_status",
    "parse_status",
]


def parse_services(data: Any) -> ServiceList:
    """The ``services`` list (or an object keyed by id); unreadable entries become ``SkippedItem``s."""
    if isinstance(data, dict) and all(isinstance(item, dict) for item in data.values()):
        data = list(data.values())  # some panels key the list by service id
    if not isinstance(data, list):
        raise TypeError(f"expected a list of services, got {type(data).__name__}")
    services: dict[str, ServiceInfo] = {}
    skipped: list[SkippedItem] = []
    for position, item in enumerate(data):
        try:
            info = parse_service(item)
        except (ValueError, TypeError, KeyError) as exc:
            skipped.append(SkippedItem(position, str(exc)[:200], _readable_id(item)))
            continue
        services[info.service_id] = info  # a repeated id: the later entry wins
    return ServiceList(tuple(services.values()), tuple(skipped))


def _readable_id(item: Any) -> str:
    """The id of an unreadable service entry, so the caller knows the service is still listed; "" if none."""
    try:
        return parse.to_id(item.get("service")) if isinstance(item, dict) else ""
    except ValueError:
        return ""


def parse_service(item: Any) -> ServiceInfo:
    """One entry of the ``services`` list."""
    if not isinstance(item, dict):
        raise TypeError("service entry is not an object")
    rate = parse.to_decimal(item.get("rate"))
    minimum = parse.to_int(item.get("min"))
    maximum = parse.to_int(item.get("max"))
    if rate is None or rate < 0:
        raise ValueError("missing or negative rate")
    if minimum is None or maximum is None or minimum < 0 or maximum < minimum:
        raise ValueError("missing or inconsistent min/max")
    name = parse.to_text(item.get("name"), limit=255)
    if not name:
        raise ValueError("missing name")
    return ServiceInfo(
        service_id=parse.to_id(item.get("service")),
        name=name,
        type=parse.to_text(item.get("type"), limit=64) or "Default",
        category=parse.to_text(item.get("category"), limit=255),
        rate=rate,
        min=minimum,
        max=maximum,
        refill=parse.to_bool(item.get("refill")),
        cancel=parse.to_bool(item.get("cancel")),
        dripfeed=parse.to_bool(item.get("dripfeed")),
        description=parse.to_text(item.get("desc", item.get("description"))),
    )


def parse_add(data: Any) -> AddResult:
    """The ``add`` reply: the new order's id."""
    if not isinstance(data, dict) or "order" not in data:
        raise KeyError("no order id in the reply")
    return AddResult(order_id=parse.to_id(data["order"]))


def parse_status(data: Any) -> OrderStatus:
    """One order's status object, alone or inside a multi-status reply."""
    if not isinstance(data, dict):
        raise TypeError("status entry is not an object")
    status, raw = parse.to_status(data.get("status"))
    currency = parse.to_text(data.get("currency"), limit=8) or None
    return OrderStatus(
        status=status,
        raw_status=raw,
        charge=parse.to_amount(data.get("charge")),
        start_count=parse.to_int(data.get("start_count")),
        remains=parse.to_int(data.get("remains")),
        currency=currency,
        posts=_posts(data.get("posts")),
        orders=_child_orders(data.get("orders")),
    )


#: The most posts a subscription can have served: far above what panels take (a few thousand), far below a database integer's limit.
MAX_POSTS_SERVED = 100_000


def _posts(value: Any) -> int | None:
    """A subscription's posts served; a count that cannot be one (negative, a word, above ``MAX_POSTS_SERVED``) is None, not an error."""
    try:
        posts = parse.to_int(value)
    except ValueError:
        return None
    return posts if posts is not None and 0 <= posts <= MAX_POSTS_SERVED else None


def _child_orders(value: Any) -> tuple[str, ...]:
    """The ids of a subscription's (or drip-feed parent's) orders, as a list or a comma-separated text; unreadable ids are left out."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return ()
    ids = []
    for item in value:
        try:
            ids.append(parse.to_id(item))
        except ValueError:
            continue
    return tuple(dict.fromkeys(ids))


def parse_single_status(data: Any) -> OrderStatus:
    """The reply to ``status`` with one ``order``."""
    return parse_status(data)


def parse_multi_status(data: Any, asked: list[str]) -> dict[str, OrderStatus | ItemError]:
    """The reply to ``status`` with ``orders``, keyed by id; ids not in ``asked`` are dropped, a bad entry is an ``ItemError``."""
    if isinstance(data, dict) and "status" in data and len(asked) == 1:
        # Some panels answer one id in the single shape; one naming another order answers nothing asked.
        data = {str(data.get("order", asked[0])).strip(): data}
    if isinstance(data, list):  # ... or as a list of objects that carry their id
        data = {parse.to_id(item.get("order")): item for item in data if isinstance(item, dict) and "order" in item}
    if not isinstance(data, dict):
        raise TypeError(f"expected an object keyed by order id, got {type(data).__name__}")
    wanted = set(asked)
    results: dict[str, OrderStatus | ItemError] = {}
    for key, item in data.items():
        order_id = str(key).strip()
        if order_id not in wanted:
            continue  # an id that was never asked for is noise, not data
        message = parse.error_message(item)
        if message is not None:
            results[order_id] = ItemError(message)
            continue
        try:
            results[order_id] = parse_status(item)
        except (ValueError, TypeError) as exc:
            results[order_id] = ItemError(f"unreadable status: {str(exc)[:100]}")
    return results


def parse_balance(data: Any) -> Balance:
    """The ``balance`` reply."""
    if not isinstance(data, dict):
        raise TypeError("balance reply is not an object")
    amount = parse.to_amount(data.get("balance"))
    if amount is None:
        raise KeyError("no balance in the reply")
    return Balance(amount=amount, currency=parse.to_text(data.get("currency"), limit=8) or None)


def parse_refill(data: Any) -> str:
    """The reply to ``refill`` with one ``order``: the refill id."""
    if not isinstance(data, dict) or "refill" not in data:
        raise KeyError("no refill id in the reply")
    return parse.to_id(data["refill"])


def parse_refill_many(data: Any) -> list[RefillResult]:
    """The reply to ``refill`` with ``orders``: a refill id or an error per order."""
    results = []
    for item in _list_of_objects(data):
        order_id = parse.to_id(item.get("order"))
        message = parse.error_message(item.get("refill"))
        if message is not None:
            results.append(RefillResult(order_id, error=message))
        else:
            results.append(RefillResult(order_id, refill_id=parse.to_id(item.get("refill"))))
    return results


def parse_refill_status(data: Any) -> str:
    """The reply to ``refill_status`` with one ``refill``: the status word."""
    if not isinstance(data, dict) or "status" not in data:
        raise KeyError("no status in the reply")
    return parse.to_text(data["status"], limit=64)


def parse_refill_status_many(data: Any) -> list[RefillStatus]:
    """The reply to ``refill_status`` with ``refills``: a status or an error per refill."""
    results = []
    for item in _list_of_objects(data):
        refill_id = parse.to_id(item.get("refill"))
        message = parse.error_message(item.get("status"))
        if message is not None:
            results.append(RefillStatus(refill_id, error=message))
        else:
            results.append(RefillStatus(refill_id, status=parse.to_text(item.get("status"), limit=64)))
    return results


def parse_cancel_many(data: Any) -> list[CancelResult]:
    """The ``cancel`` reply: accepted or an error per order."""
    results = []
    for item in _list_of_objects(data):
        order_id = parse.to_id(item.get("order"))
        message = parse.error_message(item.get("cancel"))
        if message is not None:
            results.append(CancelResult(order_id, accepted=False, error=message))
        else:
            results.append(CancelResult(order_id, accepted=parse.to_bool(item.get("cancel"))))
    return results


def _list_of_objects(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise TypeError("expected a list of objects")
    return data
