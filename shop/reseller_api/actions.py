"""Every action of the shop's API v2, defined once: parameters, description, example request and reply, handler.

The endpoint dispatches on these definitions and the customer's API page
renders its documentation from them, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from shop.reseller_api.handlers import (
    BATCH_LIMIT,
    INCORRECT_ORDER,
    Reader,
    do_add,
    do_balance,
    do_cancel,
    do_cancel_many,
    do_refill,
    do_refill_many,
    do_refill_status,
    do_refill_status_many,
    do_services,
    do_status,
    do_status_many,
    read_add,
    read_status,
    read_status_many,
)


@dataclass(frozen=True)
class Param:
    name: str
    description: str | Promise  # the API page's, in the reader's language
    required: bool = True


@dataclass(frozen=True)
class Action:
    """One documented form of one action."""

    action: str
    title: str | Promise
    params: tuple[Param, ...]
    example: dict[str, str]
    reply: object
    selector: str = ""  # the parameter that tells this form from another of the same action
    handler: Callable[..., object] = field(default=lambda user, params: None, repr=False)
    #: Given the call's parameters, what reads the key's owner and this action's data in one statement
    #: (``keys.api_key_caller``), or None; the handler then takes what it read as a third argument.
    reader: Callable[[Mapping[str, str]], Reader[Any] | None] | None = field(default=None, repr=False)

    def ids_touched(self, params: Mapping[str, str]) -> int:
        """How many order or refill ids a call of this form names (each counts once, at most a batch's worth)."""
        if self.selector in ("order", "refill"):
            return 1
        if self.selector in ("orders", "refills"):
            return min(len({part.strip() for part in params.get(self.selector, "").split(",")} - {""}), BATCH_LIMIT)
        return 0


# Definitions ----------------------------------------------------------------------------

KEY = Param("key", _("Your API key"))
ACTION = Param("action", _("The action's name"))
STATUS_EXAMPLE = {"charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD"}

ACTIONS: tuple[Action, ...] = (
    Action(
        "services",
        _("Service list"),
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
        _("Add order"),
        (
            KEY,
            ACTION,
            Param("service", _("Service ID")),
            Param("link", _("Link to page (every type but Subscriptions)")),
            Param("quantity", _("Needed quantity (Default, Mentions, Poll, Comment Likes, ...)"), required=False),
            Param("comments", _("Comments, one per line (Custom Comments: the quantity is the number of lines)"), required=False),
            Param("usernames", _("Usernames, one per line (Mentions types)"), required=False),
            Param("hashtags", _("Hashtags, one per line (Mentions with Hashtags)"), required=False),
            Param("hashtag", _("Hashtag (Mentions Hashtag)"), required=False),
            Param("username", _("Username (Mentions User Followers, Comment Likes, Subscriptions)"), required=False),
            Param("media", _("Media link (Mentions Media Likers)"), required=False),
            Param("answer_number", _("Answer number (Poll)"), required=False),
            Param("groups", _("Groups, one per line (Invites from Groups)"), required=False),
            Param("keywords", _("Keywords, one per line (SEO)"), required=False),
            Param("runs", _("Runs to deliver in (drip-feed services)"), required=False),
            Param("interval", _("Interval in minutes between runs (drip-feed services)"), required=False),
            Param("min", _("Least quantity for each post (Subscriptions)"), required=False),
            Param("max", _("Most quantity for each post (Subscriptions: the charge reserves max on every post)"), required=False),
            Param("posts", _("New posts to deliver to (Subscriptions; required by this shop)"), required=False),
            Param("old_posts", _("Latest existing posts to deliver to as well (Subscriptions)"), required=False),
            Param("delay", _("Delay in minutes after each post: 0, 5, 10, 15, 30, 60, 90, ... 600 (Subscriptions)"), required=False),
            Param("expiry", _("End date, d/m/Y (Subscriptions)"), required=False),
        ),
        {"action": "add", "service": "1", "link": "https://instagram.com/p/abc", "quantity": "1000"},
        {"order": 23501},
        handler=do_add,
        reader=read_add,
    ),
    Action(
        "status",
        _("Order status"),
        (KEY, ACTION, Param("order", _("Order ID"))),
        {"action": "status", "order": "23501"},
        STATUS_EXAMPLE,
        selector="order",
        handler=do_status,
        reader=read_status,
    ),
    Action(
        "status",
        _("Multiple orders status"),
        (KEY, ACTION, Param("orders", format_lazy(_("Order IDs separated by a comma, up to {limit}"), limit=BATCH_LIMIT))),
        {"action": "status", "orders": "1,10,100"},
        {"1": STATUS_EXAMPLE, "10": {"error": INCORRECT_ORDER}},
        selector="orders",
        handler=do_status_many,
        reader=read_status_many,
    ),
    Action(
        "balance",
        _("User balance"),
        (KEY, ACTION),
        {"action": "balance"},
        {"balance": "100.84", "currency": "USD"},
        handler=do_balance,
    ),
    Action(
        "refill",
        _("Create refill"),
        (KEY, ACTION, Param("order", _("Order ID"))),
        {"action": "refill", "order": "23501"},
        {"refill": "1"},
        selector="order",
        handler=do_refill,
    ),
    Action(
        "refill",
        _("Create multiple refills"),
        (KEY, ACTION, Param("orders", format_lazy(_("Order IDs separated by a comma, up to {limit}"), limit=BATCH_LIMIT))),
        {"action": "refill", "orders": "1,3"},
        [{"order": 1, "refill": 1}, {"order": 3, "refill": {"error": INCORRECT_ORDER}}],
        selector="orders",
        handler=do_refill_many,
    ),
    Action(
        "refill_status",
        _("Refill status"),
        (KEY, ACTION, Param("refill", _("Refill ID"))),
        {"action": "refill_status", "refill": "1"},
        {"status": "Completed"},
        selector="refill",
        handler=do_refill_status,
    ),
    Action(
        "refill_status",
        _("Multiple refills status"),
        (KEY, ACTION, Param("refills", format_lazy(_("Refill IDs separated by a comma, up to {limit}"), limit=BATCH_LIMIT))),
        {"action": "refill_status", "refills": "1,3"},
        [{"refill": 1, "status": "Completed"}, {"refill": 3, "status": {"error": "Refill not found"}}],
        selector="refills",
        handler=do_refill_status_many,
    ),
    Action(
        "cancel",
        _("Cancel order"),
        (KEY, ACTION, Param("order", _("Order ID"))),
        {"action": "cancel", "order": "2"},
        {"cancel": 1},
        selector="order",
        handler=do_cancel,
    ),
    Action(
        "cancel",
        _("Cancel multiple orders"),
        (KEY, ACTION, Param("orders", format_lazy(_("Order IDs separated by a comma, up to {limit}"), limit=BATCH_LIMIT))),
        {"action": "cancel", "orders": "2,3"},
        [{"order": 2, "cancel": 1}, {"order": 3, "cancel": {"error": INCORRECT_ORDER}}],
        selector="orders",
        handler=do_cancel_many,
    ),
)


def action_find(action: str, params: Mapping[str, str]) -> Action | None:
    forms = [definition for definition in ACTIONS if definition.action == action]
    for definition in forms:
        if definition.selector and params.get(definition.selector, "").strip():
            return definition
    return next((definition for definition in forms if not definition.selector), None)
