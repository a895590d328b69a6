"""The sandbox panel's Subscriptions orders: what `add` accepts for them, and how they run.

A subscription watches a username and delivers between `min` and `max` units
to each post. In the sandbox one post is served per stage from the moment it is
placed (`delay` is checked but not waited for); it shows Active until its posts
(`posts` + `old_posts`) are all served (Completed), its `expiry` date comes
(Expired, at 00:00 UTC that day) or it is canceled (Canceled). The charge is
the most it can cost, `max` on every post, taken when it is placed; the part the
served posts did not use comes back when it ends. Unlike some panels, the
sandbox needs `posts`: without it the charge would have no bound.

Its status reply has no `charge` or `remains`: `status`, `posts` (served so far)
and `orders` (one id per served post), as panels answer for subscriptions.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["DELAYS", "Subscription", "draw_units", "parse_subscription", "posts_served", "subscription_used"]

DELAYS = frozenset({0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600})
MAX_POSTS = 10_000
_INT = re.compile(r"[0-9]{1,9}")
_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_PLACES = Decimal("0.00001")


class SubscriptionError(Exception):
    """A subscription `add` refused; the message is the panel's error string."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A validated subscription `add`: whose posts, how much on each, how many, until when (panel time, or None)."""

    username: str
    min: int
    max: int
    posts: int
    old_posts: int
    delay: int
    expires: float | None

    @property
    def total_posts(self) -> int:
        return self.posts + self.old_posts


def parse_subscription(min_quantity: int, max_quantity: int, params: Mapping[str, str], now: float) -> Subscription:
    """Validate a subscription's fields against the service's min and max, in the order a panel checks them."""
    values = {name: (params.get(name) or "").strip() for name in ("username", "min", "max", "posts", "old_posts", "delay", "expiry")}
    if not values["username"] or not all(_INT.fullmatch(values[name]) for name in ("min", "max")):
        raise SubscriptionError("Incorrect request")
    least, most = int(values["min"]), int(values["max"])
    if least < min_quantity:
        raise SubscriptionError(f"Quantity less than minimal {min_quantity}")
    if most > max_quantity:
        raise SubscriptionError(f"Quantity more than maximum {max_quantity}")
    if least > most:
        raise SubscriptionError("Min quantity more than max quantity")
    posts = _count(values["posts"], required=True)
    old_posts = _count(values["old_posts"], required=False)
    if posts < 1 or posts + old_posts > MAX_POSTS:
        raise SubscriptionError("Incorrect posts count")
    delay = _count(values["delay"], required=False)
    if delay not in DELAYS:
        raise SubscriptionError("Incorrect delay")
    expires = _expiry(values["expiry"], now)
    return Subscription(values["username"], least, most, posts, old_posts, delay, expires)


def draw_units(seed: int, order_id: int, subscription: Subscription) -> list[int]:
    """What each post will get, between min and max, drawn from the seed so a run replays exactly."""
    rng = random.Random(f"{seed}:{order_id}:subscription")
    return [rng.randint(subscription.min, subscription.max) for _ in range(subscription.total_posts)]


def posts_served(created: float, until: float, stage: float, total: int) -> int:
    """Posts served between `created` and `until`: one per stage, at most `total`."""
    return max(0, min(total, int((until - created) // stage)))


def subscription_used(units: list[int], served: int, rate: Decimal) -> Decimal:
    """What the first `served` posts cost at `rate` per 1000."""
    return (rate * sum(units[:served]) / 1000).quantize(_PLACES, ROUND_HALF_UP)


def _count(text: str, *, required: bool) -> int:
    if not text:
        if required:
            raise SubscriptionError("Incorrect request")
        return 0
    if not _INT.fullmatch(text):
        raise SubscriptionError("Incorrect request")
    return int(text)


def _expiry(text: str, now: float) -> float | None:
    if not text:
        return None
    match = _DATE.fullmatch(text)
    if match is None:
        raise SubscriptionError("Incorrect expiry date")
    day, month, year = map(int, match.groups())
    try:
        expires = datetime(year, month, day, tzinfo=UTC).timestamp()
    except ValueError:
        raise SubscriptionError("Incorrect expiry date") from None
    if expires <= now:
        raise SubscriptionError("Incorrect expiry date")
    return expires
