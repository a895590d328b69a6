"""The API page's key: replacing a working key asks first, the POST redirects, and the new key is shown exactly once.

The key travels from the POST to its one display in the server-side session
(never the URL, the messages framework's cookie or a log), and a reload of any
page of the flow issues nothing.
"""

from __future__ import annotations

import logging
import re
import time

import pytest
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.urls import reverse

from shop.reseller_api.keys import api_key_revoke
from shop.reseller_api.models import ApiKey, Revocation
from shop.reseller_api.views import NEW_KEY_SESSION

pytestmark = pytest.mark.django_db
NEW_KEY = re.compile(r"data-new-key>(smm_[\w-]+)<")
CONFIRM = {"confirm": "yes"}


@pytest.fixture
def web(client, customer):
    client.force_login(customer)
    return client


def stored(customer) -> tuple[str, object]:
    row = ApiKey.objects.get(user=customer)
    return row.key_hash, row.revoked_at


def balance_with(client, key: str) -> dict:
    return client.post("/api/v2", {"key": key, "action": "balance"}).json()


def test_a_working_key_is_replaced_only_through_the_confirmation_page(web, customer, key) -> None:
    page = web.get(reverse("api-page")).content.decode()
    assert "A new key replaces this one, and the old key stops working at once." in page
    assert f'<a class="button secondary" href="{reverse("api-key-new")}">Generate a new key…</a>' in page
    assert f'action="{reverse("api-key-new")}"' not in page  # no form that replaces the key in one click

    before = stored(customer)
    confirm = web.get(reverse("api-key-new"))
    html = confirm.content.decode()
    assert confirm.status_code == 200 and stored(customer) == before
    assert f"<code>{key[:10]}…</code> <strong>stops working the moment the new one is made</strong>" in html
    assert '<input type="hidden" name="confirm" value="yes">' in html and "Yes, replace my key" in html
    assert f'<a class="button secondary" href="{reverse("api-page")}">Back</a>' in html
    assert set(balance_with(web, key)) == {"balance", "currency"}


def test_a_post_without_the_confirmation_issues_nothing(web, customer, key) -> None:
    before = stored(customer)
    response = web.post(reverse("api-key-new"), {"confirm": "no"})
    assert response.status_code == 200 and "Generate a new API key?" in response.content.decode()
    assert web.post(reverse("api-key-new")).status_code == 200
    assert stored(customer) == before and set(balance_with(web, key)) == {"balance", "currency"}


def test_the_confirmed_post_redirects_and_the_new_key_is_shown_exactly_once(web, customer, key, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        response = web.post(reverse("api-key-new"), CONFIRM)
        assert (response.status_code, response["Location"]) == (302, reverse("api-page"))
        shown = web.get(reverse("api-page"))
    html = shown.content.decode()
    new_key = NEW_KEY.search(html).group(1)
    assert new_key != key and ApiKey.objects.get(user=customer).prefix == new_key[:10]
    assert "it is shown only once" in html and "Your old key no longer works" in html
    assert 'data-copy="new-key"' in html and 'aria-live="polite"' in html and "shop/api.js" in html
    assert "no-store" in shown["Cache-Control"]

    # Only the hash is kept, the old key is revoked, and the new one works.
    assert balance_with(web, key) == {"error": "Invalid API key"}
    assert set(balance_with(web, new_key)) == {"balance", "currency"}
    # Never in the URL, a cookie or a log.
    assert new_key not in response["Location"]
    assert not any(new_key in morsel.value for morsel in [*response.cookies.values(), *shown.cookies.values()])
    assert not [record for record in caplog.records if new_key in record.getMessage()]

    # A reload shows the prefix only, and issues nothing.
    hash_after = stored(customer)
    for _ in range(2):
        again = web.get(reverse("api-page")).content.decode()
        assert new_key not in again and "shown only once" not in again and f"{new_key[:10]}…" in again
    assert stored(customer) == hash_after
    assert NEW_KEY_SESSION not in web.session


def test_without_a_working_key_one_click_makes_one(web, customer) -> None:
    page = web.get(reverse("api-page")).content.decode()
    assert "You have no API key yet." in page and '<input type="hidden" name="confirm" value="yes">' in page
    assert f'<form method="post" action="{reverse("api-key-new")}">' in page
    response = web.post(reverse("api-key-new"), CONFIRM, follow=True)
    assert response.redirect_chain == [(reverse("api-page"), 302)]
    assert NEW_KEY.search(response.content.decode())

    api_key_revoke(user=customer, reason=Revocation.PASSWORD_CHANGED)
    page = web.get(reverse("api-page")).content.decode()
    assert "was revoked" in page and '<input type="hidden" name="confirm" value="yes">' in page
    assert "nothing that works now stops working" in web.get(reverse("api-key-new")).content.decode()


def test_the_new_key_stays_on_the_server_side(web, customer) -> None:
    """The session that carries the key is kept server-side, and the messages framework never holds it."""
    assert settings.SESSION_ENGINE != "django.contrib.sessions.backends.signed_cookies"
    web.post(reverse("api-key-new"), CONFIRM)
    new_key = web.session[NEW_KEY_SESSION]["key"]
    assert new_key.startswith("smm_")
    assert all(new_key not in morsel.value for morsel in web.cookies.values())
    assert CookieStorage.cookie_name not in web.cookies or new_key not in web.cookies[CookieStorage.cookie_name].value


def test_the_pages_need_a_login_and_a_get_of_the_confirmation_issues_nothing(client, customer) -> None:
    for name in ("api-page", "api-key-new"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.post(reverse("api-key-new"), CONFIRM).status_code == 302
    assert not ApiKey.objects.filter(user=customer).exists()


def test_a_new_key_left_in_the_session_is_not_shown_once_stale_or_revoked(web, customer) -> None:
    """A key whose redirect was never followed is not shown later: not after two minutes, not once revoked."""
    web.post(reverse("api-key-new"), CONFIRM)
    session = web.session
    new_key = session[NEW_KEY_SESSION]["key"]
    session[NEW_KEY_SESSION] = {"key": new_key, "at": time.time() - 121}
    session.save()
    page = web.get(reverse("api-page")).content.decode()
    assert new_key not in page and "shown only once" not in page
    assert NEW_KEY_SESSION not in web.session

    web.post(reverse("api-key-new"), CONFIRM)
    new_key = web.session[NEW_KEY_SESSION]["key"]
    api_key_revoke(user=customer, reason=Revocation.PASSWORD_CHANGED)
    page = web.get(reverse("api-page")).content.decode()
    assert new_key not in page and "was revoked" in page


def test_a_fresh_new_key_is_shown_after_the_redirect(web) -> None:
    web.post(reverse("api-key-new"), CONFIRM)
    new_key = web.session[NEW_KEY_SESSION]["key"]
    assert new_key in web.get(reverse("api-page")).content.decode()
