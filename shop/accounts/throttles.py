"""How many sign-ups and password reset mails one network, and one email address, may ask for in an hour.

Each request that would create an account or send a mail counts once per
client address and once per email address (whether or not an account uses it,
so the answer says nothing about which addresses are registered). Over either
limit, the caller refuses with the message returned, and nothing is created or
sent. The counters are ``shop.core.limits``' fixed windows of an hour.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.utils.translation import gettext as _

from shop.core.limits import Limit, rate_limit_hit

HOUR = 3600


def _email_bucket(email: str) -> str:
    # A digest: the counters' keys carry no email address.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _over_limit(*, kind: str, address: str, email: str, address_limit: int, email_limit: int) -> str | None:
    """Count one ``kind`` from ``address`` for ``email``; which limit that passes ("address" first, "email"), else None."""
    by_address, by_email = rate_limit_hit(
        Limit(f"{kind}-address:{address}", address_limit, HOUR),
        Limit(f"{kind}-email:{_email_bucket(email)}", email_limit, HOUR),
    )
    if by_address:
        return "address"
    if by_email:
        return "email"
    return None


def signup_limit_hit(*, address: str, email: str) -> str | None:
    """Count one sign-up from ``address`` with ``email``; the message to show if that is one too many, else None."""
    limits = {"address_limit": settings.SIGNUP_ADDRESS_LIMIT, "email_limit": settings.SIGNUP_EMAIL_LIMIT}
    over = _over_limit(kind="signup", address=address, email=email, **limits)
    if over == "address":
        return _("Too many sign-ups from your network; try again in an hour.")
    if over == "email":
        return _("Too many sign-ups with this email address; try again in an hour.")
    return None


def password_reset_limit_hit(*, address: str, email: str) -> str | None:
    """Count one password reset request from ``address`` for ``email``; the message to show if that is one too many, else None."""
    limits = {"address_limit": settings.PASSWORD_RESET_ADDRESS_LIMIT, "email_limit": settings.PASSWORD_RESET_EMAIL_LIMIT}
    over = _over_limit(kind="password-reset", address=address, email=email, **limits)
    if over == "address":
        return _("Too many password reset requests from your network; try again in an hour.")
    if over == "email":
        return _("Too many password reset requests for this email address; try again in an hour.")
    return None
