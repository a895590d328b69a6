"""Password change and reset (``shop.accounts.passwords``): a new password revokes the API key, and the customer is told."""

from __future__ import annotations

import re

import pytest
from allauth.account.forms import EmailAwarePasswordResetTokenGenerator
from allauth.account.utils import user_pk_to_url_str
from django.urls import reverse

from shop.models import ApiKey
from shop.reseller_api.models import Revocation

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-new-Passw0rd!"
NOTICE = "Your API key was revoked because your password changed"


def balance_with(client, key: str) -> object:
    return client.post("/api/v2", {"key": key, "action": "balance"}).json()


def change_password(web, old: str = "pw-for-tests"):
    form = {"oldpassword": old, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    return web.post(reverse("password_change"), form, follow=True)


def reset_password(client, user):
    link = reverse("password_reset_confirm", args=[user_pk_to_url_str(user), EmailAwarePasswordResetTokenGenerator().make_token(user)])
    # The link in the mail redirects to a token-free address that the session remembers, as Django's view does.
    form_page = client.get(link, follow=True)
    assert form_page.redirect_chain, "the reset link should lead to the form"
    return client.post(form_page.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}, follow=True)


def assert_a_new_key_can_be_issued(client, customer) -> None:
    customer.refresh_from_db()  # the new password's hash, which the session must carry
    client.force_login(customer)
    page = client.get(reverse("api-page")).content.decode()
    assert "was revoked" in page and "Generate a new key" in page
    issued = client.post(reverse("api-key-new"), {"confirm": "yes"}, follow=True).content.decode()
    new_key = re.search(r"data-new-key>(smm_[^<]+)<", issued).group(1)
    assert set(balance_with(client, new_key)) == {"balance", "currency"}


def test_changing_the_password_revokes_the_key_and_says_so(web, client, customer, key) -> None:
    assert set(balance_with(client, key)) == {"balance", "currency"}
    page = change_password(web).content.decode()
    assert "Password successfully changed." in page
    assert NOTICE in page and f'href="{reverse("api-page")}"' in page
    assert balance_with(client, key) == {"error": "Invalid API key"}
    assert ApiKey.objects.get(user=customer).revoked_reason == Revocation.PASSWORD_CHANGED
    assert_a_new_key_can_be_issued(web, customer)


def test_resetting_the_password_revokes_the_key_and_says_so(client, customer, key) -> None:
    page = reset_password(client, customer).content.decode()
    assert "Your password is now changed." in page and NOTICE in page
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    assert balance_with(client, key) == {"error": "Invalid API key"}
    assert ApiKey.objects.get(user=customer).revoked_reason == Revocation.PASSWORD_RESET
    assert_a_new_key_can_be_issued(client, customer)


def test_a_refused_password_change_leaves_the_key_working(web, client, customer, key) -> None:
    page = change_password(web, old="not-my-password").content.decode()
    assert NOTICE not in page
    assert set(balance_with(client, key)) == {"balance", "currency"}


def test_a_customer_without_a_key_is_told_nothing_about_one(web, customer) -> None:
    page = change_password(web).content.decode()
    assert "Password successfully changed." in page and NOTICE not in page
    assert not ApiKey.objects.exists()
