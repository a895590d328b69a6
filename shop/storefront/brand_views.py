"""The branding's two files: the logo and the accent colour's style sheet, cached by browsers for a year under a version.

Pages link both with ``?v=<version>`` (the branding's last save), so a save changes their URL; without that version (or with
an old one) the answer is cached briefly only. Both answer a matching ``If-None-Match`` with 304.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import condition, require_GET

from shop.storefront.branding import branding_current, branding_logo
from shop.storefront.colours import accent_css

YEAR = 365 * 24 * 60 * 60
BRIEFLY = 5 * 60


def _etag(request: HttpRequest) -> str:
    return branding_current().version


def _versioned(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """GET only, 304 for a matching ETag, and the cache headers on both the answer and the 304."""
    conditional = require_GET(condition(etag_func=_etag)(view))

    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        response = conditional(request)
        if response.status_code in (200, 304):
            if request.GET.get("v") == branding_current().version:
                patch_cache_control(response, public=True, max_age=YEAR, immutable=True)
            else:
                patch_cache_control(response, public=True, max_age=BRIEFLY)
            response["X-Content-Type-Options"] = "nosniff"
        return response

    return wrapper


@_versioned
def brand_logo(request: HttpRequest) -> HttpResponse:
    logo = branding_logo()
    if logo is None:
        raise Http404("No logo.")
    data, content_type = logo
    response = HttpResponse(data, content_type=content_type)
    # Served inline as an image only; nothing in it may run as a document.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@_versioned
def brand_theme(request: HttpRequest) -> HttpResponse:
    return HttpResponse(accent_css(branding_current().accent), content_type="text/css; charset=utf-8")
