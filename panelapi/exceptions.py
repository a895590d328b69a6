"""What can go wrong when calling a panel, grouped by what the caller may do next.

- ``PanelRefused``: the panel answered and said no. Definite: nothing happened.
- ``PanelUnreachable``: the request provably never reached the panel (DNS,
  connection refused, connect timeout). Safe to retry, even for ``add``.
- ``PanelOutcomeUnknown``: the request may have been processed (read timeout,
  reset after sending, 5xx, HTML or malformed reply). After ``add`` the order
  may exist upstream: never retry it blindly.
- ``PanelMisconfigured``: the call cannot be made at all (bad URL, no key).

Messages never contain the API key: they are built from the action, the host
and the panel's own words only.
"""

from __future__ import annotations


class PanelError(Exception):
    """Base class of every panel client failure."""

    def __init__(self, message: str, *, action: str = "", http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.action = action
        self.http_status = http_status


class PanelMisconfigured(PanelError):
    """The call cannot be attempted: the provider's settings are wrong."""


class PanelRefused(PanelError):
    """The panel answered ``{"error": ...}``: a definite refusal with its message."""


class PanelUnreachable(PanelError):
    """The request never reached the panel; retrying is safe."""


class PanelRateLimited(PanelUnreachable):
    """HTTP 429 without a JSON body: the panel turned the request away unprocessed."""


class PanelOutcomeUnknown(PanelError):
    """The request may have been processed; the panel's answer is lost or unreadable."""


class PanelTimeout(PanelOutcomeUnknown):
    """The panel took longer than the read timeout to answer."""


class PanelBadResponse(PanelOutcomeUnknown):
    """The panel answered something that is not a valid reply (5xx, HTML, bad JSON, wrong shape)."""
