"""Who may read /metrics and the health checks' details: the bearer token ``METRICS_TOKEN``, or signed-in staff.

Without a token set, production serves /metrics to nobody (404) and development and tests to anyone
(a laptop's server listens on loopback). Staff see the health details when they may read the audit
records of provider calls (every staff role but Finance) and, where the admin asks for it, signed in
with their second factor this session: what reaching the admin takes.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest

from shop.accounts.mfa import signed_in_with_second_factor

BEARER = "Bearer "


def has_metrics_token(request: HttpRequest) -> bool:
    """The request carries ``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time); False with no token set."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if not token or not header.startswith(BEARER):
        return False
    return hmac.compare_digest(header.removeprefix(BEARER).strip().encode(), token.encode())


def may_read_metrics(request: HttpRequest) -> bool:
    if settings.METRICS_TOKEN:
        return has_metrics_token(request)
    return not settings.PRODUCTION


def may_read_health_details(request: HttpRequest) -> bool:
    if has_metrics_token(request):
        return True
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm("shop.view_upstreamcall")):
        return False
    return not settings.STAFF_MFA_REQUIRED or signed_in_with_second_factor(request)
