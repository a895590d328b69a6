"""Subscriptions orders: what ``add`` takes for them, and the reserve charged when they are placed.

A subscription (api-v2-notes.md) has no link: the provider watches a
``username`` and delivers between ``min`` and ``max`` units to each of its next
``posts`` new posts (and to ``old_posts`` of its latest ones), ``delay``
minutes after each appears, until ``expiry`` (d/m/Y) if one is given.

What it will cost is not known when it is placed, so the charge reserves the
most it can deliver: ``max`` on every post it may serve, ``quantity = max`` and
``total_quantity = max x (posts + old_posts)``, priced as any order
(``charge_for``). When it ends (Completed, Expired or Canceled), the part the
served posts did not use comes back once (``shop.orders.flow.subscription_refund``).
That is why the shop requires ``posts``, which panels leave optional: without
it the reserve would have no bound.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shop.orders.types import CONTROL_RE, USERNAME_RE, FieldError, Refusal, _text, clean_whole

FIELDS = ("username", "min", "max", "posts", "old_posts", "delay", "expiry")
MAX_POSTS = 1000
MAX_OLD_POSTS = 1000
#: The delays (minutes) panels offer for subscriptions.
DELAYS = (0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600)
#: How far ahead an expiry date may be: a date beyond this is a typing mistake.
MAX_EXPIRY_DAYS = 3653
EXPIRY_FORMAT = "%d/%m/%Y"
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def clean_subscription(data: dict[str, Any], *, low: int, high: int, today: date | None = None) -> dict[str, Any]:
    """The fields of a Subscriptions order, cleaned, as ``add`` sends them; raises ``FieldError`` for the first bad one.

    ``low`` and ``high`` are the service's min and max: both of the order's
    ``min`` and ``max`` per post are within them. Optional fields left blank are
    left out, so the provider applies its own defaults.
    """
    username = _text(data.get("username"), "username")
    if not username:
        raise FieldError("username", _("Username is required."))
    if not USERNAME_RE.match(username) or CONTROL_RE.search(username):
        raise FieldError("username", _("Username is not valid: letters, digits, '.', '_' or '-'."))
    least = _per_post(data, "min", low=low, high=high)
    most = _per_post(data, "max", low=low, high=high)
    if least > most:
        raise FieldError("min", _("Minimum per post must not be more than the maximum per post."))
    posts = clean_whole(data.get("posts"), "posts", low=1, high=MAX_POSTS)
    if posts is None:
        raise FieldError("posts", _("Posts is required: how many new posts to deliver to (the charge reserved is for that many)."))
    cleaned: dict[str, Any] = {"username": username, "min": least, "max": most, "posts": posts}
    old_posts = clean_whole(data.get("old_posts"), "old_posts", low=0, high=MAX_OLD_POSTS)
    if old_posts is not None:
        cleaned["old_posts"] = old_posts
    delay = clean_whole(data.get("delay"), "delay", low=None)
    if delay is not None:
        if delay not in DELAYS:
            raise FieldError("delay", _("Delay must be one of %(delays)s minutes.") % {"delays": ", ".join(map(str, DELAYS))})
        cleaned["delay"] = delay
    expiry = clean_expiry(data.get("expiry"), today=today or timezone.localdate())
    if expiry is not None:
        cleaned["expiry"] = expiry.strftime(EXPIRY_FORMAT)
    return cleaned


def reserve(extra: dict[str, Any]) -> tuple[int, int]:
    """(quantity, total quantity) of a cleaned subscription: ``max`` per post, on every post it may serve."""
    return extra["max"], extra["max"] * (extra["posts"] + extra.get("old_posts", 0))


def clean_expiry(value: Any, *, today: date) -> date | None:
    """An expiry date as d/m/Y (what panels take) or Y-m-d (what a browser's date field sends), after ``today``; blank is None."""
    text = _text(value, "expiry")
    if not text:
        return None
    if match := _DMY.fullmatch(text):
        day, month, year = map(int, match.groups())
    elif match := _ISO.fullmatch(text):
        year, month, day = map(int, match.groups())
    else:
        raise FieldError("expiry", _("Expiry must be a date written day/month/year, e.g. 31/12/2030."))
    try:
        expiry = date(year, month, day)
    except ValueError:
        raise FieldError("expiry", _("Expiry: %(text)s is not a date.") % {"text": text}) from None
    if expiry <= today:
        raise FieldError("expiry", _("Expiry must be a date after today."))
    if (expiry - today).days > MAX_EXPIRY_DAYS:
        raise FieldError("expiry", _("Expiry must be within ten years."))
    return expiry


def expiry_date(extra: dict[str, Any]) -> date | None:
    """The expiry of a placed subscription as a date, for pages; None without one."""
    text = extra.get("expiry")
    return datetime.strptime(text, EXPIRY_FORMAT).date() if isinstance(text, str) and text else None


def _per_post(data: dict[str, Any], field: str, *, low: int, high: int) -> int:
    amount = clean_whole(data.get(field), field, low=None)
    name = "Min" if field == "min" else "Max"
    if amount is None:
        if field == "min":
            raise FieldError(field, _("Min is required: the least to deliver to each post."))
        raise FieldError(field, _("Max is required: the most to deliver to each post."))
    if amount < low:
        raise FieldError(field, f"{name} less than minimal {low}", code=Refusal.BELOW_MIN, params={"min": low})
    if amount > high:
        raise FieldError(field, f"{name} more than maximum {high}", code=Refusal.ABOVE_MAX, params={"max": high})
    return amount


def posts_done_words(posts_done: int | None) -> str | None:
    """A subscription's progress as pages show it (``3 posts done``); None for other orders."""
    if posts_done is None:
        return None
    return ngettext("%(count)s post done", "%(count)s posts done", posts_done) % {"count": posts_done}
