"""Responses to a signed-in person are never stored by a browser or proxy cache.

Every page of a signed-in customer shows their balance in the header, and many
show their orders, payments or API key: with ``Cache-Control: no-store`` the
browser's Back button after a logout, a shared computer's disk cache or a
misconfigured proxy cannot show them to someone else (issue 17). A view that
set its own ``Cache-Control`` keeps it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class NoStoreWhenSignedIn:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response


class AdminContentSecurityPolicy:
    """The admin's pages get the two exceptions its theme needs, and nothing more: django-unfold's Alpine.js evaluates
    its ``x-data`` expressions (``'unsafe-eval'``) and its templates set ``style`` attributes (``'unsafe-inline'`` styles).

    Still no inline script and no other origin. Runs before ``csp.middleware.CSPMiddleware`` on the way out (it is
    listed after it), so the policy that middleware writes is the replaced one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Whatever path the admin is mounted at, or prefix (SCRIPT_NAME) the site is served under.
        match = getattr(request, "resolver_match", None)
        if match is not None and "admin" in match.namespaces:
            response._csp_replace = ADMIN_CSP_REPLACE  # type: ignore[attr-defined]
        return response


ADMIN_CSP_REPLACE = {"script-src": ["'self'", "'unsafe-eval'"], "style-src": ["'self'", "'unsafe-inline'"]}
