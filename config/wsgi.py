"""WSGI entry point for gunicorn and other WSGI servers.

The reseller API's calls (``API_PATHS``) go through a Django handler of their own whose
middleware is ``API_MIDDLEWARE``: the session, language, CSRF, authentication, messages,
two-factor, CSP and lockout middleware serve pages, and an API call needs none of them.

In production it refuses to start when the static files were not collected:
every page would otherwise answer 500 (shop/core/checks.py).
"""

import os
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

pages = get_wsgi_application()


class ApiHandler(WSGIHandler):
    """Django's handler with the middleware of ``API_MIDDLEWARE`` (Django reads only ``MIDDLEWARE`` to build a chain)."""

    def load_middleware(self, is_async: bool = False) -> None:
        every = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE  # once, at import, before any request
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = every


api = ApiHandler()


def application(environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
    handler = api if environ.get("PATH_INFO") in settings.API_PATHS else pages
    return handler(environ, start_response)


if settings.PRODUCTION:
    from shop.core.checks import COLLECT, static_manifest_gaps

    if gaps := static_manifest_gaps():
        raise ImproperlyConfigured(f"The static files manifest does not name {', '.join(gaps)}. {COLLECT}")
