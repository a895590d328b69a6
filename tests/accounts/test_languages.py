"""A customer's language (shop/accounts/languages.py): kept when chosen, restored on a new browser, the language of their mails."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.accounts.languages import language_of, language_save
from shop.accounts.models import UserLanguage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_language_is_kept_once_per_customer_and_only_one_the_shop_speaks() -> None:
    user = UserFactory()
    assert language_of(user=user) == settings.LANGUAGE_CODE == "en"
    assert language_save(user=user, code="es") is True
    assert language_save(user=user, code="es") is True
    assert language_of(user=user) == "es"
    assert language_save(user=user, code="fr") is False
    assert language_save(user=user, code="") is False
    assert list(UserLanguage.objects.values_list("code", flat=True)) == ["es"]


def test_a_language_the_shop_stopped_speaking_reads_as_the_default() -> None:
    user = UserFactory()
    UserLanguage.objects.create(user=user, code="de")
    assert language_of(user=user) == "en"


def test_a_new_browser_gets_the_language_the_customer_chose_and_keeps_it() -> None:
    user = UserFactory()
    language_save(user=user, code="es")
    browser = Client()
    browser.force_login(user)
    first = browser.get(reverse("orders"))
    assert 'lang="es"' in first.content.decode()
    assert first.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert settings.LANGUAGE_COOKIE_NAME not in browser.get(reverse("orders")).cookies  # set once, then read from the cookie


def test_the_cookie_wins_over_the_saved_choice() -> None:
    user = UserFactory()
    language_save(user=user, code="es")
    browser = Client()
    browser.force_login(user)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert 'lang="en"' in browser.get(reverse("orders")).content.decode()


def test_without_a_choice_the_browsers_language_decides_and_no_cookie_is_set() -> None:
    browser = Client()
    browser.force_login(UserFactory())
    page = browser.get(reverse("orders"), HTTP_ACCEPT_LANGUAGE="es")
    assert 'lang="es"' in page.content.decode()
    assert settings.LANGUAGE_COOKIE_NAME not in page.cookies


@override_settings(LANGUAGE_COOKIE_SECURE=True)
def test_the_restored_cookie_follows_the_cookie_settings() -> None:
    user = UserFactory()
    language_save(user=user, code="es")
    browser = Client()
    browser.force_login(user)
    cookie = browser.get(reverse("orders")).cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie["secure"] and cookie["samesite"] == "Lax" and int(cookie["max-age"]) == settings.LANGUAGE_COOKIE_AGE


def test_signing_up_keeps_the_language_the_page_was_read_in(client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    response = client.post(
        reverse("signup"),
        {"username": "maria", "email": "maria@example.com", "password1": "a long pass phrase 7", "password2": "a long pass phrase 7"},
    )
    assert response.status_code == 302
    assert UserLanguage.objects.get(user__username="maria").code == "es"


def test_the_admin_stays_in_english_for_staff_who_read_the_shop_in_spanish(admin_client) -> None:
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    page = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="es")
    assert page.status_code == 200
    assert 'lang="en"' in page.content.decode() and "Log out" in page.content.decode()
    assert 'lang="es"' in admin_client.get(reverse("orders")).content.decode()


@pytest.mark.parametrize("chose", [False, True])
def test_the_choice_is_looked_up_once_at_login_and_never_on_pages(chose: bool) -> None:
    user = UserFactory()
    if chose:
        language_save(user=user, code="es")
    browser = Client()
    with CaptureQueriesContext(connection) as login:
        browser.force_login(user)
    assert sum("shop_userlanguage" in query["sql"] for query in login.captured_queries) == 1

    def lookups() -> int:
        with CaptureQueriesContext(connection) as queries:
            browser.get(reverse("orders"))
        return sum("shop_userlanguage" in query["sql"] for query in queries.captured_queries)

    assert [lookups(), lookups(), lookups()] == [0, 0, 0]
