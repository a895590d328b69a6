"""The client's address, for login lockouts and API limits: X-Forwarded-For only from proxies the deployment trusts."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or behind ``TRUSTED_PROXY_COUNT`` proxies the address the outermost one received from.

    Each trusted proxy appends the address it was reached from to
    X-Forwarded-For, so the client's is that many entries from the end; what
    the client itself sent sits further left and is never read. A header too
    short or not an address means the request did not come through the
    proxies: REMOTE_ADDR then.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < proxies:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-proxies]))
    except ValueError:
        return remote
