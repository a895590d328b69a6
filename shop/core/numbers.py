"""Ids and page numbers as people type them into addresses, forms and API calls."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

MAX_ID_DIGITS = 17  # below 2**63: every id the database can hold, and nothing that overflows a bigint


def id_number(text: object) -> int | None:
    """The number ``text`` names when it is 1 to 17 ASCII digits; otherwise None.

    ``str.isdigit()`` alone is not enough: it passes "²", which ``int()``
    refuses (an error page), and Arabic-Indic digits, which ``int()`` reads.
    """
    text = str(text)
    if text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS:
        return int(text)
    return None


def other_digits(text: object) -> bool:
    """Whether ``text`` holds a digit other than 0-9 (Arabic-Indic, fullwidth, superscript...).

    Every number a customer types is read in ASCII digits only, as ids are:
    ``int()`` and ``Decimal()`` would read Arabic-Indic "50" in one field while another
    refuses it (issue 17).
    """
    return any(char.isdigit() and not char.isascii() for char in str(text))


DIGITS_ONLY = gettext_lazy("Write numbers with the digits 0 to 9.")  # shown on forms, in the page's language
