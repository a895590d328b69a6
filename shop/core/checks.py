"""Start-up checks: production must not serve pages whose static files it cannot name.

Production stores static files under hashed names (WhiteNoise's manifest
storage). Until ``manage.py collectstatic`` has written the manifest, every
page that links a stylesheet fails with "Missing staticfiles manifest entry"
(issue 17). ``check --deploy`` reports it, and the WSGI entry point refuses to
start, so a deploy that skipped the step stops at once instead of serving 500s.
"""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.checks import Error, Tags, register
from django.core.files.storage import storages

COLLECT = "Run `python manage.py collectstatic --noinput` (README, Production) before starting the web server."


def static_manifest_gaps(limit: int = 5) -> list[str]:
    """Static files the manifest does not name (none when the storage keeps no manifest)."""
    storage = storages["staticfiles"]
    if not isinstance(storage, ManifestFilesMixin):
        return []
    hashed_files, _ = storage.load_manifest()
    gaps = []
    for finder in finders.get_finders():
        for path, _ in finder.list(["CVS", ".*", "*~"]):
            if storage.hash_key(storage.clean_name(path)) not in hashed_files:
                gaps.append(path)
                if len(gaps) >= limit:
                    return gaps
    return gaps


@register(Tags.staticfiles, deploy=True)
def static_manifest_check(app_configs=None, **kwargs) -> list[Error]:
    gaps = static_manifest_gaps()
    if not gaps:
        return []
    return [Error(f"The static files manifest does not name {', '.join(gaps)}: every page would fail.", hint=COLLECT, id="shop.E001")]
