"""What the sandbox panel accepts: `add` parameters per service type, id lists, and its error replies.

The checks run in the order a real panel runs them and refuse with its exact
error strings, so a client is tested against the messages it will really see.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .catalogue import SandboxService
from .orders import PLACES
from .subscriptions import Subscription, SubscriptionError, parse_subscription

__all__ = ["MAX_IDS", "TYPE_RULES", "AddError", "AddRequest", "echo_id", "err", "id_list", "parse_add"]

MAX_IDS = 100
LINK_RE = re.compile(r"https?://[^\s]+")
INT_RE = re.compile(r"[+-]?[0-9]+")
LINE_SPLIT = re.compile(r"\r?\n")

# Per service type: the fields `add` needs besides `link`, and where the
# quantity comes from: the `quantity` field, the line count of another field,
# or None for packages (one unit, charged the flat rate).
TYPE_RULES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "Default": (("quantity",), "quantity"),
    "Package": ((), None),
    "Custom Comments": (("comments",), "comments"),
    "Custom Comments Package": (("comments",), None),
    "Mentions": (("quantity", "usernames"), "quantity"),
    "Mentions with Hashtags": (("quantity", "usernames", "hashtags"), "quantity"),
    "Mentions Custom List": (("usernames",), "usernames"),
    "Mentions Hashtag": (("quantity", "hashtag"), "quantity"),
    "Mentions User Followers": (("quantity", "username"), "quantity"),
    "Mentions Media Likers": (("quantity", "media"), "quantity"),
    "Comment Likes": (("quantity", "username"), "quantity"),
    "Poll": (("quantity", "answer_number"), "quantity"),
    "Invites from Groups": (("quantity", "groups"), "quantity"),
    "SEO": (("quantity", "keywords"), "quantity"),
}


def err(message: str) -> dict[str, str]:
    """An error reply, as the panel sends it: ``{"error": message}``."""
    return {"error": message}


class AddError(Exception):
    """An `add` refused; the message is the panel's error string."""


@dataclass(frozen=True, slots=True)
class AddRequest:
    """A validated `add`: total quantity (runs included) and its charge."""

    link: str  # a subscription's username: one running subscription per username where duplicates are refused
    quantity: int
    charge: Decimal
    subscription: Subscription | None = None


def _positive_int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def _runs(service: SandboxService, params: Mapping[str, str]) -> int:
    runs = (params.get("runs") or "").strip()
    interval = (params.get("interval") or "").strip()
    if not runs and not interval:
        return 1
    if not service.dripfeed:
        raise AddError("Drip-feed is not available for this service")
    count = _positive_int(runs)
    if count is None or _positive_int(interval) is None:
        raise AddError("Incorrect request")
    return count


def parse_add(service: SandboxService, params: Mapping[str, str], now: float | None = None) -> AddRequest:
    """Validate an `add` for `service` as a real panel does, in the same order; `now` dates a subscription's expiry."""
    if service.type == "Subscriptions":
        try:
            sub = parse_subscription(service.min, service.max, params, time.time() if now is None else now)
        except SubscriptionError as exc:
            raise AddError(str(exc)) from None
        # The most it can cost, max on every post: taken now, the unused part given back when it ends.
        charge = (service.rate * sub.max * sub.total_posts / 1000).quantize(PLACES, ROUND_HALF_UP)
        return AddRequest(sub.username, sub.max * sub.total_posts, charge, sub)
    rule = TYPE_RULES.get(service.type)
    if rule is None:
        raise AddError("Incorrect request")
    required, source = rule
    values: dict[str, str] = {}
    for name in ("link", *required):
        values[name] = (params.get(name) or "").strip()
        if not values[name]:
            raise AddError("Incorrect request")
    if source == "quantity":
        if not INT_RE.fullmatch(values["quantity"]):
            raise AddError("Incorrect request")
        quantity = int(values["quantity"])
    elif source is None:
        quantity = 1
    else:
        quantity = sum(1 for line in LINE_SPLIT.split(values[source]) if line.strip())
    if "answer_number" in values and _positive_int(values["answer_number"]) is None:
        raise AddError("Incorrect request")
    if not LINK_RE.fullmatch(values["link"]):
        raise AddError("Bad link")
    runs = _runs(service, params)
    if source is None:
        return AddRequest(values["link"], 1, service.rate.quantize(PLACES, ROUND_HALF_UP))
    if quantity < service.min:
        raise AddError(f"Quantity less than minimal {service.min}")
    if quantity > service.max:
        raise AddError(f"Quantity more than maximum {service.max}")
    charge = (service.rate * quantity * runs / 1000).quantize(PLACES, ROUND_HALF_UP)
    return AddRequest(values["link"], quantity * runs, charge)


def id_list(raw: str | None) -> list[str] | None:
    """Split a comma-separated id list; None when empty or over the limit."""
    tokens = [token.strip() for token in (raw or "").split(",") if token.strip()]
    return tokens if 0 < len(tokens) <= MAX_IDS else None


def echo_id(token: str) -> int | str:
    """Echo an id back as the batch replies do: an int when it is one."""
    token = token.strip()
    return int(token) if token.isascii() and token.isdigit() else token
