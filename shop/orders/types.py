"""The fields each service type takes (api-v2-notes.md, "Fields of add per service type"), and their validation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.core.numbers import other_digits

LINK_RE = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$|^https?://localhost(?::\d+)?(?:[/?#]\S*)?$", re.IGNORECASE)
USERNAME_RE = re.compile(r"^@?[\w.\-]{1,100}$")
HASHTAG_RE = re.compile(r"^#?[^\s#]{1,100}$")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 but tab and line ends, DEL, C1
MAX_LINK = 2000
MAX_LINES = 10_000
MAX_LINE = 500
MAX_RUNS = 1000
MAX_INTERVAL = 1440


@dataclass(frozen=True)
class TypeSpec:
    """What ``add`` needs for one service type."""

    fields: tuple[str, ...] = ()
    needs_link: bool = True
    needs_quantity: bool = True
    quantity_from: str | None = None  # quantity is the number of lines of this field
    package: bool = False  # one fixed bundle: the charge is the rate itself
    subscription: bool = False  # no link: a username, min and max per post, posts (``shop.orders.subscriptions``)

    @property
    def runs(self) -> bool:
        """Whether an order of this type may be drip-fed (where the service offers it): not a package, a list or a subscription."""
        return not (self.package or self.quantity_from or self.subscription)


TYPES: dict[str, TypeSpec] = {
    "Default": TypeSpec(),
    "Package": TypeSpec(needs_quantity=False, package=True),
    "Custom Comments": TypeSpec(("comments",), needs_quantity=False, quantity_from="comments"),
    "Custom Comments Package": TypeSpec(("comments",), needs_quantity=False, package=True),
    "Mentions": TypeSpec(("usernames",)),
    "Mentions with Hashtags": TypeSpec(("usernames", "hashtags")),
    "Mentions Custom List": TypeSpec(("usernames",), needs_quantity=False, quantity_from="usernames"),
    "Mentions Hashtag": TypeSpec(("hashtag",)),
    "Mentions User Followers": TypeSpec(("username",)),
    "Mentions Media Likers": TypeSpec(("media",)),
    "Comment Likes": TypeSpec(("username",)),
    "Poll": TypeSpec(("answer_number",)),
    "Invites from Groups": TypeSpec(("groups",)),
    "SEO": TypeSpec(("keywords",)),
    "Subscriptions": TypeSpec(
        ("username", "min", "max", "posts", "old_posts", "delay", "expiry"), needs_link=False, needs_quantity=False, subscription=True
    ),
}

LABELS = {
    "link": gettext_lazy("Link"),
    "quantity": gettext_lazy("Quantity"),
    "comments": gettext_lazy("Comments"),
    "usernames": gettext_lazy("Usernames"),
    "hashtags": gettext_lazy("Hashtags"),
    "hashtag": gettext_lazy("Hashtag"),
    "username": gettext_lazy("Username"),
    "media": gettext_lazy("Media link"),
    "answer_number": gettext_lazy("Answer number"),
    "groups": gettext_lazy("Groups"),
    "keywords": gettext_lazy("Keywords"),
    "runs": gettext_lazy("Runs"),
    "interval": gettext_lazy("Interval"),
    "min": gettext_lazy("Minimum per post"),
    "max": gettext_lazy("Maximum per post"),
    "posts": gettext_lazy("Posts"),
    "old_posts": gettext_lazy("Old posts"),
    "delay": gettext_lazy("Delay"),
    "expiry": gettext_lazy("Expiry"),
}
LIST_FIELDS = {"comments", "usernames", "hashtags", "groups", "keywords"}


class Refusal(StrEnum):
    """Refusals whose API v2 wording (kept exactly: resellers' software parses it) pages word for people instead.

    A refusal carries its code and figures (``FieldError.params``, ``OrderRejected.params``),
    so no page has to read the API's message to know what was wrong.
    """

    BAD_LINK = "bad_link"
    BELOW_MIN = "below_min"  # params: min
    ABOVE_MAX = "above_max"  # params: max
    NOT_ORDERABLE = "not_orderable"
    SHORT_OF_FUNDS = "short_of_funds"  # params: charge, balance


class FieldError(ValueError):
    """One field's value is wrong: ``message`` as the API words it, and a ``Refusal`` code where pages word it otherwise."""

    def __init__(self, field: str, message: str, *, code: str = "", params: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code
        self.params = params or {}


def type_spec(service_type: str) -> TypeSpec | None:
    return TYPES.get(service_type)


def clean_link(value: Any, field: str = "link") -> str:
    text = _text(value, field)
    if not text:
        raise FieldError(field, _("%(field)s is required.") % {"field": LABELS[field]})
    if len(text) > MAX_LINK or CONTROL_RE.search(text) or not LINK_RE.match(text):
        raise FieldError(field, "Bad link", code=Refusal.BAD_LINK)
    return text


def clean_whole(value: Any, field: str, *, low: int | None = 1, high: int | None = None) -> int | None:
    """A whole number from a form or API field; blank is None. ``low=None``: any number, the caller checks its range."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise FieldError(field, _("%(field)s must be a whole number.") % {"field": LABELS[field]})
    text = str(value).strip()
    if other_digits(text):
        raise FieldError(field, _("%(field)s: write numbers with the digits 0 to 9.") % {"field": LABELS[field]})
    if not re.fullmatch(r"[+-]?[0-9]{1,18}", text):
        raise FieldError(field, _("%(field)s must be a whole number.") % {"field": LABELS[field]})
    number = int(text)
    if low is not None and number < low:
        raise FieldError(field, _("%(field)s must be at least %(low)s.") % {"field": LABELS[field], "low": low})
    if high is not None and number > high:
        raise FieldError(field, _("%(field)s must be at most %(high)s.") % {"field": LABELS[field], "high": high})
    return number


def clean_lines(value: Any, field: str) -> list[str]:
    """A one-per-line list (comments, usernames, ...): blank lines dropped, \\r\\n or \\n."""
    text = _text(value, field, limit=MAX_LINES * (MAX_LINE + 2))
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise FieldError(field, _("%(field)s is required: one per line.") % {"field": LABELS[field]})
    if len(lines) > MAX_LINES:
        raise FieldError(field, _("%(field)s: at most %(count)s lines.") % {"field": LABELS[field], "count": MAX_LINES})
    for line in lines:
        if len(line) > MAX_LINE or CONTROL_RE.search(line):
            raise FieldError(
                field,
                _("%(field)s: each line at most %(count)s characters, no control characters.")
                % {"field": LABELS[field], "count": MAX_LINE},
            )
    if field == "usernames" and not all(USERNAME_RE.match(line) for line in lines):
        raise FieldError(field, _("Usernames: one username per line, letters, digits, '.', '_' or '-'."))
    return lines


def clean_extra(spec: TypeSpec, data: dict[str, Any]) -> dict[str, Any]:
    """The type's own fields, cleaned; raises ``FieldError`` for the first bad one."""
    cleaned: dict[str, Any] = {}
    for field in spec.fields:
        value = data.get(field)
        if field in LIST_FIELDS:
            cleaned[field] = "\n".join(clean_lines(value, field))
        elif field == "answer_number":
            number = clean_whole(value, field, low=1, high=100)
            if number is None:
                raise FieldError(field, _("Answer number is required."))
            cleaned[field] = number
        elif field == "media":
            cleaned[field] = clean_link(value, "media")
        else:
            text = _text(value, field)
            pattern = HASHTAG_RE if field == "hashtag" else USERNAME_RE
            if not text:
                raise FieldError(field, _("%(field)s is required.") % {"field": LABELS[field]})
            if not pattern.match(text) or CONTROL_RE.search(text):
                raise FieldError(field, _("%(field)s is not valid.") % {"field": LABELS[field]})
            cleaned[field] = text
    return cleaned


def _text(value: Any, field: str, limit: int = MAX_LINK * 2) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise FieldError(field, _("%(field)s must be text.") % {"field": LABELS[field]})
    text = str(value)
    if len(text) > limit:
        raise FieldError(field, _("%(field)s is too long.") % {"field": LABELS[field]})
    return text.strip()
