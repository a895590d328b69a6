"""Accounts on django-allauth: sign-up answers alike whether or not the address is registered, the address is confirmed by
the mailed link before the first login (and so before any top-up), login by username or address, and the sign-up and
reset mail limits."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.urls import reverse

from shop.accounts.usernames import username_skeletons_set
from tests.factories import UserFactory
from tests.helpers import activation_link, confirm_address

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-Passw0rd!"
CHECK_INBOX = "Verify Your Email Address"
User = get_user_model()


def sign_up(client, username: str = "newbie", email: str = "New@Example.com", *, address: str = "198.51.100.1", password: str = PASSWORD):
    form = {"username": username, "email": email, "password1": password, "password2": password}
    return client.post(reverse("signup"), form, REMOTE_ADDR=address, follow=True)


def log_in(client, login: str, password: str = PASSWORD, **extra):
    return client.post(reverse("login"), {"login": login, "password": password}, follow=True, **extra)


def reset(client, email: str, *, address: str = "198.51.100.1"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address, follow=True)


def page(response, email: str = "") -> str:
    """The page as text, without what differs by itself on every render (the CSRF token) or by what was typed (the address)."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    return html.replace(email, "EMAIL") if email else html


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_signup_mails_a_link_that_confirms_the_address_and_logs_the_customer_in(client, mailoutbox) -> None:
    response = sign_up(client)
    assert response.redirect_chain[-1][0] == reverse("account_email_verification_sent") and CHECK_INBOX in response.content.decode()
    user = User.objects.get(username="newbie")
    assert (user.email, EmailAddress.objects.get(user=user).verified) == ("new@example.com", False)
    assert not signed_in(client)
    assert [mail.to for mail in mailoutbox] == [["new@example.com"]]
    assert "Hello from SMM Shop!" in mailoutbox[0].body and "testserver!" not in mailoutbox[0].body  # the shop's name, not the host
    link = activation_link(mailoutbox[0])
    assert "Confirm" in client.get(link).content.decode()  # the link shows a button: a mail scanner's GET confirms nothing
    assert not EmailAddress.objects.get(user=user).verified

    response = confirm_address(client, mailoutbox[0])
    assert response.redirect_chain[-1][0] == reverse("order-new") and signed_in(client)
    assert "0 USD" in response.content.decode()
    assert EmailAddress.objects.get(user=user).verified


def test_no_login_before_the_address_is_confirmed_and_a_login_mails_the_link_again(client, mailoutbox) -> None:
    sign_up(client)
    response = log_in(client, "newbie")
    assert CHECK_INBOX in response.content.decode() and not signed_in(client)
    assert len(mailoutbox) == 1  # the link mailed at sign-up is fresh: not sent again within the cool-down
    client.post(activation_link(mailoutbox[0]))
    client.logout()
    assert log_in(client, "New@example.com").redirect_chain[-1][0] == reverse("order-new") and signed_in(client)


def test_signup_answers_the_same_whether_or_not_the_email_is_registered(client, mailoutbox) -> None:
    UserFactory(username="first", email="taken@example.com")
    fresh = sign_up(client, "second", "fresh@example.com")
    taken = sign_up(client, "third", "Taken@Example.com")
    assert fresh.redirect_chain == taken.redirect_chain == [(reverse("account_email_verification_sent"), 302)]
    assert page(fresh, "fresh@example.com") == page(taken, "taken@example.com")  # each names the address typed
    assert "already" not in taken.content.decode()
    # No account for the taken address; its owner is told, with the way back in.
    assert not User.objects.filter(username="third").exists()
    to_owner = mailoutbox[-1]
    assert to_owner.to == ["taken@example.com"] and "/accounts/confirm-email/" not in to_owner.body
    assert reverse("password_reset") in to_owner.body


def test_signup_again_before_confirming_makes_nothing_and_sets_no_credentials(client, mailoutbox) -> None:
    """Whoever knows only the address cannot set the credentials of the account its owner is about to confirm."""
    sign_up(client, "victim", "new@example.com", password="victims-Passw0rd!")
    again = sign_up(client, "attacker", "new@example.com", password="attackers-Passw0rd!")
    assert again.redirect_chain == [(reverse("account_email_verification_sent"), 302)]
    user = User.objects.get(email="new@example.com")
    assert (user.username, user.check_password("victims-Passw0rd!")) == ("victim", True)
    assert not User.objects.filter(username="attacker").exists()
    assert "attacker" not in mailoutbox[-1].body
    client.post(activation_link(mailoutbox[0]))
    client.logout()
    log_in(client, "attacker", "attackers-Passw0rd!")
    assert not signed_in(client)
    log_in(client, "victim", "attackers-Passw0rd!")
    assert not signed_in(client)
    log_in(client, "victim", "victims-Passw0rd!")
    assert signed_in(client)


def test_a_taken_username_is_taken_whatever_the_email_so_the_form_names_no_address(client, mailoutbox) -> None:
    sign_up(client, "newbie", "new@example.com")
    with_its_address = sign_up(client, "newbie", "new@example.com")
    with_another = sign_up(client, "newbie", "other@example.com")
    assert page(with_its_address, "new@example.com") == page(with_another, "other@example.com")
    assert "A user with that username already exists." in with_its_address.content.decode()
    assert len(mailoutbox) == 1


def test_signup_refuses_a_taken_username_and_a_weak_password(client, mailoutbox) -> None:
    UserFactory(username="first")
    html = sign_up(client, "First", "someone@example.com", password="123").content.decode()
    assert "A user with that username already exists." in html
    assert "This password is too short" in html
    assert not mailoutbox and User.objects.count() == 1


def test_signup_does_not_reactivate_an_account_an_admin_deactivated(client, mailoutbox) -> None:
    banned = UserFactory(username="banned", email="banned@example.com", is_active=False)
    sign_up(client, "banned2", "banned@example.com")
    banned.refresh_from_db()
    assert not banned.is_active and "/accounts/confirm-email/" not in mailoutbox[-1].body
    assert not User.objects.filter(username="banned2").exists()


@pytest.mark.parametrize("key", ["bad-key", "MQ:1abc:xyz", "x" * 300, "%00"])
def test_a_bad_confirmation_link_shows_a_page_not_an_error(client, customer, key: str) -> None:
    for response in (client.get(f"/accounts/confirm-email/{key}/"), client.post(f"/accounts/confirm-email/{key}/")):
        assert response.status_code in {200, 404}
        assert not signed_in(client)


def test_a_signup_with_a_lookalike_of_an_existing_username_is_refused(client, mailoutbox) -> None:
    username_skeletons_set(user=UserFactory(username="demo"))
    username_skeletons_set(user=UserFactory(username="copa"))
    # A Cyrillic e (U+0435) among Latin letters.
    assert "Use letters of one script only: this name mixes Cyrillic and Latin" in page(sign_up(client, "d\u0435mo", "a@example.com"))
    # All Cyrillic, or all Latin, and still the same look: "copa" in Cyrillic letters, "rn" for "m".
    for lookalike in ("\u0441\u043e\u0440\u0430", "derno", "DERNO"):
        assert "This username looks too much like an existing one." in page(sign_up(client, lookalike, "a@example.com")), lookalike
    assert "A user with that username already exists." in page(sign_up(client, "Demo", "a@example.com"))
    assert not mailoutbox and User.objects.count() == 2


def test_a_new_account_gets_its_username_skeletons(client, mailoutbox) -> None:
    sign_up(client, "newbie")
    assert list(User.objects.get(username="newbie").username_skeletons.values_list("skeleton", flat=True))


def test_signups_are_limited_per_network(client, settings, mailoutbox) -> None:
    settings.SIGNUP_ADDRESS_LIMIT = 2
    for number in range(2):
        assert CHECK_INBOX in sign_up(client, f"user{number}", f"user{number}@example.com").content.decode()
    refused = sign_up(client, "user2", "user2@example.com")
    assert refused.status_code == 429
    assert "Too many sign-ups from your network; try again in an hour." in refused.content.decode()
    assert not User.objects.filter(username="user2").exists() and len(mailoutbox) == 2
    # Another network is not held back.
    assert CHECK_INBOX in sign_up(client, "user2", "user2@example.com", address="203.0.113.9").content.decode()


def test_signups_are_limited_per_email_address_whether_or_not_it_is_registered(client, settings, mailoutbox) -> None:
    settings.SIGNUP_EMAIL_LIMIT = 2
    UserFactory(username="owner", email="taken@example.com")
    answers = {}
    for email in ("taken@example.com", "fresh@example.com"):
        answers[email] = [
            (response.status_code, "Too many sign-ups with this email address" in response.content.decode())
            for number in range(3)
            for response in [sign_up(client, f"{email[:5]}{number}", email, address=f"198.51.100.{number + 10}")]
        ]
    assert answers["taken@example.com"] == answers["fresh@example.com"] == [(200, False), (200, False), (429, True)]


def test_password_reset_mails_are_limited_per_network(client, settings, mailoutbox) -> None:
    settings.PASSWORD_RESET_ADDRESS_LIMIT = 3
    UserFactory(username="owner", email="owner@example.com")
    done = reverse("account_reset_password_done")
    for _ in range(3):
        assert reset(client, "owner@example.com").redirect_chain[-1][0] == done
    settings.PASSWORD_RESET_EMAIL_LIMIT = 100  # so only the network's limit is left
    refused = reset(client, "owner@example.com")
    assert refused.status_code == 429
    assert "Too many password reset requests from your network; try again in an hour." in refused.content.decode()
    assert len(mailoutbox) == 3
    assert reset(client, "owner@example.com", address="203.0.113.9").redirect_chain[-1][0] == done
    assert len(mailoutbox) == 4


def test_password_reset_mails_are_limited_per_email_and_still_say_nothing_of_who_is_registered(client, settings, mailoutbox) -> None:
    settings.PASSWORD_RESET_EMAIL_LIMIT = 2
    UserFactory(username="owner", email="owner@example.com")
    answers = {}
    for email in ("owner@example.com", "nobody@example.com"):
        answers[email] = []
        for number in range(3):
            response = reset(client, email, address=f"198.51.100.{number + 10}")
            answers[email].append((response.status_code, response.redirect_chain, page(response, email)))
    assert answers["owner@example.com"] == answers["nobody@example.com"]
    assert [status for status, _, _ in answers["nobody@example.com"]] == [200, 200, 429]
    assert "Too many password reset requests for this email address; try again in an hour." in answers["nobody@example.com"][2][2]
    assert [mail.to for mail in mailoutbox] == [["owner@example.com"]] * 2


def test_a_reset_link_sets_a_new_password_once(client, mailoutbox) -> None:
    UserFactory(username="owner", email="owner@example.com")
    reset(client, "owner@example.com")
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", mailoutbox[-1].body).group(1)
    form = client.get(link, follow=True)
    new = {"password1": "a-new-Passw0rd!", "password2": "a-new-Passw0rd!"}
    done = client.post(form.redirect_chain[-1][0] if form.redirect_chain else link, new, follow=True)
    assert done.status_code == 200 and User.objects.get(username="owner").check_password("a-new-Passw0rd!")
    again = client.get(link, follow=True)
    assert "password1" not in again.content.decode()  # the link is spent


def test_existing_customers_log_in_by_username_or_address(client) -> None:
    UserFactory(username="regular", email="regular@example.com", password=PASSWORD)
    assert log_in(client, "regular").redirect_chain[-1][0] == reverse("order-new")
    client.logout()
    assert log_in(client, "REGULAR@example.com").redirect_chain[-1][0] == reverse("order-new")
    client.logout()
    assert "not correct" in log_in(client, "regular", "wrong-password").content.decode() and not signed_in(client)
