"""The accent colour: its check (white text on it must be readable) and its shade in each theme.

Contrast is WCAG 2's ratio of relative luminances. The backgrounds below are those of static/shop/shop.css (a test compares
them), so an accent shown as link text on any of them, or as a button under its ink, keeps a ratio of at least 4.5:1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

MIN_CONTRAST = 4.5
WHITE = "#ffffff"
BLACK = "#000000"
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


@dataclass(frozen=True)
class Theme:
    """What an accent colour is read against in one theme, and the way it moves when it needs more contrast."""

    name: str
    backgrounds: tuple[str, ...]  # --bg, --surface, --surface-2, then --good-bg, --bad-bg, --warn-bg, --info-bg
    ink: str  # --accent-ink: text on accent buttons
    toward: str  # darker for the light theme, lighter for the dark one


LIGHT = Theme("light", ("#f4f6fa", "#ffffff", "#eef1f6", "#e3f4ea", "#fdecea", "#fff1dc", "#e7eefc"), WHITE, BLACK)
DARK = Theme("dark", ("#0e1218", "#161b24", "#1e2430", "#143324", "#3a1a18", "#3a2a10", "#172543"), "#0b1020", WHITE)


def _rgb(colour: str) -> tuple[int, int, int]:
    digits = colour.lstrip("#")
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    r, g, b = (_channel(value) for value in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _mix(colour: str, other: str, share: float) -> str:
    """``colour`` with ``share`` (0..1) of ``other`` mixed in."""
    mixed = (round(a + (b - a) * share) for a, b in zip(_rgb(colour), _rgb(other), strict=True))
    return "#" + "".join(f"{value:02x}" for value in mixed)


def accent_clean(value: str) -> str:
    """An accent colour as stored: blank, or ``#rrggbb`` in lowercase on which white text has a contrast of 4.5:1 or more."""
    value = (value or "").strip()
    if not value:
        return ""
    match = _HEX.fullmatch(value)
    if match is None:
        raise ValidationError("Enter the colour as # and six hexadecimal digits, for example #3450c4.", code="format")
    colour = "#" + match.group(1).lower()
    ratio = contrast(colour, WHITE)
    if ratio < MIN_CONTRAST:
        raise ValidationError(
            f"White text on {colour} has a contrast of only {ratio:.1f}:1; buttons need at least {MIN_CONTRAST}:1 to be readable. "
            "Pick a darker shade.",
            code="contrast",
        )
    return colour


def validate_accent(value: str) -> None:
    if value:
        accent_clean(value)


def accent_in(theme: Theme, colour: str) -> str:
    """The accent's shade in ``theme``: unchanged if it already reads well there, else moved just enough toward black or white."""
    for step in range(21):
        shade = _mix(colour, theme.toward, step / 20)
        if min(contrast(shade, other) for other in (*theme.backgrounds, theme.ink)) >= MIN_CONTRAST:
            return shade
    return theme.toward


def accent_css(colour: str) -> str:
    """The style sheet that sets --accent and --accent-ink from the admin's colour, for both themes ("" for none)."""
    if not _HEX.fullmatch(colour or "") or not colour.startswith("#"):
        return ""
    light, dark = accent_in(LIGHT, colour), accent_in(DARK, colour)
    dark_rule = f"--accent: {dark}; --accent-ink: {DARK.ink};"
    return (
        "/* The shop's accent colour (admin: Branding), per theme. */\n"
        f":root {{ --accent: {light}; --accent-ink: {LIGHT.ink}; }}\n"
        f":root[data-theme=dark] {{ {dark_rule} }}\n"
        f"@media (prefers-color-scheme: dark) {{ :root:not([data-theme=light]) {{ {dark_rule} }} }}\n"
    )
