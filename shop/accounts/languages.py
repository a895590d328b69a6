"""The customer's language: what the switcher saves, what a new login restores, and what their mails are written in.

A visitor's language lives in Django's language cookie (``LocaleMiddleware`` reads it, then the browser's
Accept-Language). A signed-in customer's choice is also kept in ``UserLanguage``: a login on another browser
finds it (``SavedLanguage``), and mails sent by the worker, which has no request, are written in it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from shop.accounts.models import UserLanguage

CODES = frozenset(code for code, _ in settings.LANGUAGES)
ADMIN_PREFIX = "/admin/"
SESSION_KEY = "shop_language"


def language_save(*, user: AbstractBaseUser, code: str) -> bool:
    """Keep ``code`` as ``user``'s language; False (nothing kept) when the shop does not speak it."""
    if code not in CODES:
        return False
    UserLanguage.objects.update_or_create(user=user, defaults={"code": code})
    return True


def language_of(*, user: AbstractBaseUser) -> str:
    """The language ``user`` chose, or the shop's default when they never chose (or chose one the shop no longer has)."""
    code = UserLanguage.objects.filter(user=user).values_list("code", flat=True).first()
    return code if code in CODES else settings.LANGUAGE_CODE


def language_remember_at_login(sender: object, request: HttpRequest, user: AbstractBaseUser, **kwargs: object) -> None:
    """``user_logged_in``: the customer's chosen language into the new session, for ``SavedLanguage`` (one query per login)."""
    code = UserLanguage.objects.filter(user=user).values_list("code", flat=True).first()
    if code in CODES and hasattr(request, "session"):
        request.session[SESSION_KEY] = code


class SavedLanguage:
    """A signed-in customer whose browser has no language cookie gets the language they chose before, and the cookie;
    the staff's admin stays in English (its own texts are not translated, so it would read half in one language).

    After ``SessionMiddleware`` and ``LocaleMiddleware``. No query: the login looked the choice up once and left it in the session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(ADMIN_PREFIX):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return self.get_response(request)
        code = None
        if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES and hasattr(request, "session"):
            code = request.session.get(SESSION_KEY)  # put there at login (language_remember_at_login)
            if code in CODES:
                translation.activate(code)
                request.LANGUAGE_CODE = code
            else:
                code = None
        response = self.get_response(request)
        if code is not None:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                code,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            )
        return response
