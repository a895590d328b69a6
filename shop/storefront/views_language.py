"""The language switcher: Django's ``set_language`` (the cookie, a safe way back), and the choice kept for a signed-in customer."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from shop.accounts.languages import CODES, language_save


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """POST ``language`` (and ``next``): a language the shop does not speak changes nothing and goes back all the same."""
    response = set_language(request)
    code = request.POST.get("language", "")
    if code not in CODES:
        # Django's view takes any language it has a catalogue for; the shop keeps only those it speaks.
        response.cookies.pop(settings.LANGUAGE_COOKIE_NAME, None)
    elif request.user.is_authenticated:
        language_save(user=request.user, code=code)
    return response
