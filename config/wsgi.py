"""WSGI entry point for gunicorn and other WSGI servers.

In production it refuses to start when the static files were not collected:
every page would otherwise answer 500 (shop/core/checks.py).
"""

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

if settings.PRODUCTION:
    from shop.core.checks import COLLECT, static_manifest_gaps

    if gaps := static_manifest_gaps():
        raise ImproperlyConfigured(f"The static files manifest does not name {', '.join(gaps)}. {COLLECT}")
