"""The sandbox panel's service list: a hand-written base plus seeded padding."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["SandboxService", "build_catalogue"]


@dataclass(frozen=True, slots=True)
class SandboxService:
    """One service as the sandbox panel sells it; `rate` is per 1000 units."""

    service: int
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False
    desc: str = ""

    def to_api(self) -> dict[str, object]:
        """Return the service in the upstream reply shape (rate/min/max as strings)."""
        return {
            "service": self.service,
            "name": self.name,
            "type": self.type,
            "category": self.category,
            "rate": str(self.rate),
            "min": str(self.min),
            "max": str(self.max),
            "refill": self.refill,
            "cancel": self.cancel,
            "dripfeed": self.dripfeed,
            "desc": self.desc,
        }


def _svc(
    service: int,
    category: str,
    name: str,
    type_: str,
    rate: str,
    min_: int,
    max_: int,
    flags: str = "",
    desc: str = "",
) -> SandboxService:
    # flags: "r" refill, "c" cancel, "d" drip-feed; keeps the table below readable.
    return SandboxService(
        service=service,
        name=name,
        type=type_,
        category=category,
        rate=Decimal(rate),
        min=min_,
        max=max_,
        refill="r" in flags,
        cancel="c" in flags,
        dripfeed="d" in flags,
        desc=desc,
    )


_IGF, _IGL, _IGC, _IGM = (
    "Instagram Followers",
    "Instagram Likes",
    "Instagram Comments",
    "Instagram Mentions",
)
_YTV, _YTE, _TT, _TG = "YouTube Views", "YouTube Engagement", "TikTok", "Telegram"
_XP, _X = "Twitter/X Polls", "Twitter/X"

_BASE: tuple[SandboxService, ...] = (
    _svc(1, _IGF, "Instagram Followers [Real, Refill 30D]", "Default", "0.90", 50, 10000, "rc", "Start 0-1 h, 5-10K/day."),
    _svc(2, _IGF, "Instagram Followers [HQ, No Refill]", "Default", "0.45", 100, 50000, "", "Fast start, drops possible."),
    _svc(3, _IGF, "Instagram Followers [Drip-feed, Refill 60D]", "Default", "1.75", 50, 20000, "rcd", "Natural speed."),
    _svc(4, _IGL, "Instagram Likes [Instant]", "Default", "0.0125", 10, 100000, "d", "Instant start, mixed quality."),
    _svc(5, _IGL, "Instagram Likes [Real, Refill 30D]", "Default", "0.38", 20, 50000, "rc", "Real accounts."),
    _svc(6, _IGL, "Instagram Likes Package 1000", "Package", "2.10", 1, 1, "", "1000 likes on the latest post."),
    _svc(7, _IGC, "Instagram Custom Comments", "Custom Comments", "8", 10, 1500, "c", "One comment per line."),
    _svc(8, _IGC, "Instagram Comments Package [10]", "Custom Comments Package", "3.50", 1, 1, "", "Ten comments, one per line."),
    _svc(9, _IGC, "Instagram Comment Likes", "Comment Likes", "2.40", 20, 5000, "", "Give the comment owner's username."),
    _svc(10, _IGM, "Instagram Mentions [Custom List]", "Mentions", "6.00", 100, 10000, "", "Mentions of given users."),
    _svc(11, _IGM, "Instagram Mentions + Hashtags", "Mentions with Hashtags", "7.20", 100, 10000, "", "Mentions and hashtags."),
    _svc(12, _IGM, "Instagram Mentions [User Followers]", "Mentions User Followers", "5.50", 500, 50000, "", "Followers of one user."),
    _svc(13, _YTV, "YouTube Views [Non-drop, Refill 30D]", "Default", "1.20", 500, 1000000, "rd", "Retention 1-3 min."),
    _svc(14, _YTV, "YouTube Views [Cheap]", "Default", "0.35", 1000, 10000000, "c", "Fast, drops possible."),
    _svc(15, _YTE, "YouTube Likes [Refill 30D]", "Default", "2.80", 20, 50000, "r", "Real-looking accounts."),
    _svc(16, _YTE, "YouTube Custom Comments", "Custom Comments", "12", 5, 1000, "", "One comment per line."),
    _svc(17, _TT, "TikTok Followers [Refill 30D]", "Default", "3.10", 100, 100000, "rc", "Start 0-2 h."),
    _svc(18, _TT, "TikTok Views", "Default", "0.0125", 100, 10000000, "cd", "Instant, drip-feed available."),
    _svc(19, _TT, "TikTok Likes", "Default", "0.60", 50, 200000, "", "Start 0-1 h."),
    _svc(20, _TG, "Telegram Channel Members [Refill 30D]", "Default", "1.45", 100, 100000, "r", "Public channels."),
    _svc(21, _TG, "Telegram Post Views [Last 5 Posts]", "Package", "0.99", 1, 1, "", "Views on the last five posts."),
    _svc(22, _TG, "Telegram Group Members", "Invites from Groups", "4.80", 100, 20000, "", "Source groups, one per line."),
    _svc(23, _XP, "Twitter Poll Votes", "Poll", "1.90", 100, 50000, "c", "Give the answer number, from 1."),
    _svc(24, _X, "Twitter Followers [Refill 30D]", "Default", "4.25", 100, 25000, "r", "Start 0-6 h."),
    _svc(25, _X, "Twitter Retweets", "Default", "1.10", 20, 10000, "d", "Drip-feed available."),
    _svc(26, _IGL, "Instagram Auto Likes (subscription)", "Subscriptions", "0.50", 50, 5000, "c", "Likes on each new post of a username."),
)

_PLATFORMS = ("Instagram", "YouTube", "TikTok", "Telegram", "Twitter/X", "Facebook", "Spotify")
_KINDS = ("Followers", "Likes", "Views", "Members", "Shares", "Saves", "Plays")
_OTHER_TYPES = ("Custom Comments", "Package", "Mentions", "Poll", "Comment Likes")
_MINS = (10, 20, 50, 100, 500, 1000)
_MAXES = (1000, 5000, 10000, 50000, 100000, 1000000)


def _padding(count: int, first_id: int, seed: int) -> list[SandboxService]:
    rng = random.Random(f"catalogue:{seed}")
    services = []
    for service_id in range(first_id, first_id + count):
        platform, kind = rng.choice(_PLATFORMS), rng.choice(_KINDS)
        type_ = "Default" if rng.random() < 0.85 else rng.choice(_OTHER_TYPES)
        # Rates spread over three magnitudes, as on real panels ("0.0125" .. "25").
        rate = Decimal(rng.randint(5, 2500)).scaleb(-rng.choice((2, 2, 3, 4)))
        min_ = 1 if type_ == "Package" else rng.choice(_MINS)
        max_ = 1 if type_ == "Package" else max(min_, rng.choice(_MAXES))
        services.append(
            SandboxService(
                service=service_id,
                name=f"{platform} {kind} #{service_id}",
                type=type_,
                category=f"{platform} {kind}",
                rate=rate,
                min=min_,
                max=max_,
                refill=rng.random() < 0.3,
                cancel=rng.random() < 0.3,
                dripfeed=type_ == "Default" and rng.random() < 0.2,
                desc="Generated sandbox service.",
            )
        )
    return services


def build_catalogue(*, size: int | None = None, seed: int = 0) -> list[SandboxService]:
    """Return the sandbox catalogue, ordered by service id.

    Without `size` it is the hand-written base. A larger `size` pads it with
    generated services (deterministic for a given `seed`) up to exactly `size`
    entries; a smaller one keeps the first `size` base services.
    """
    base = list(_BASE)
    if size is None:
        return base
    if size < 0:
        raise ValueError("size must not be negative")
    if size <= len(base):
        return base[:size]
    return base + _padding(size - len(base), base[-1].service + 1, seed)
