"""signup_register and signup_activate: one mail per sign-up, the same answer outside, links that work once, for waiting accounts only."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from shop.accounts import signup
from shop.accounts.signup import SignupRefused, TooManySignups, activation_tokens, signup_activate, signup_register
from shop.accounts.usernames import username_skeletons_set
from shop.models import PendingActivation, UsernameSkeleton
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SITE = "https://shop.example"
User = get_user_model()


def register(username: str = "newbie", email: str = "new@example.com", password: str = "a-long-Passw0rd!", address: str = "198.51.100.1"):
    signup_register(username=username, email=email, password=password, address=address, site_url=SITE)


def uid(user) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def test_a_new_address_gets_an_inactive_account_its_skeleton_and_a_link_on_the_site(mailoutbox) -> None:
    register(email=" New@Example.COM ")
    user = User.objects.get(username="newbie")
    assert (user.email, user.is_active) == ("new@example.com", False)
    assert PendingActivation.objects.filter(user=user).exists()
    assert list(UsernameSkeleton.objects.filter(user=user).values_list("skeleton", flat=True)) == ["newbie"]
    (mail,) = mailoutbox
    assert mail.subject == "Activate your account" and f"{SITE}/accounts/activate/{uid(user)}/" in mail.body
    assert "works once, for 3 days" in mail.body


def test_a_registered_address_gets_no_account_and_the_same_work_is_done(monkeypatch, mailoutbox) -> None:
    UserFactory(username="owner", email="owner@example.com")
    hashed: list[str] = []
    monkeypatch.setattr(signup, "make_password", lambda password: hashed.append(password) or "x")
    register("newbie", "OWNER@example.com")
    assert not User.objects.filter(username="newbie").exists()
    assert hashed == ["a-long-Passw0rd!"]  # as long as a real sign-up takes to hash it
    (mail,) = mailoutbox
    assert mail.to == ["owner@example.com"] and mail.subject == "Someone tried to sign up with your email address"
    assert f"{SITE}/accounts/login/" in mail.body and f"{SITE}/accounts/password_reset/" in mail.body


def test_a_lookalike_taken_since_the_form_checked_is_refused_and_nothing_is_made(mailoutbox) -> None:
    username_skeletons_set(user=UserFactory(username="demo"))
    with pytest.raises(SignupRefused, match="looks too much like an existing one"):
        register("derno")
    assert not User.objects.filter(username="derno").exists() and not mailoutbox


def test_over_a_limit_nothing_is_made_or_sent(settings, mailoutbox) -> None:
    settings.SIGNUP_ADDRESS_LIMIT = 1
    register("first", "first@example.com")
    with pytest.raises(TooManySignups, match="Too many sign-ups from your network"):
        register("second", "second@example.com")
    assert not User.objects.filter(username="second").exists() and len(mailoutbox) == 1


def test_a_mail_that_cannot_be_sent_is_logged_without_the_address_and_the_account_waits(monkeypatch, caplog) -> None:
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(signup, "send_mail", refuse)
    with caplog.at_level(logging.ERROR, logger="shop.accounts.signup"):
        register()
    user = User.objects.get(username="newbie")
    assert PendingActivation.objects.filter(user=user).exists()
    assert f"Could not send the signup_activation mail to user {user.pk}" in caplog.text and "new@example.com" not in caplog.text


def test_activation_works_once(mailoutbox) -> None:
    register()
    user = User.objects.get(username="newbie")
    token = activation_tokens.make_token(user)
    assert signup_activate(uidb64=uid(user), token=token) == user
    user.refresh_from_db()
    assert user.is_active and not PendingActivation.objects.filter(user=user).exists()
    assert signup_activate(uidb64=uid(user), token=token) is None


def test_a_valid_token_does_not_activate_an_account_that_is_not_waiting() -> None:
    banned = UserFactory(username="banned", is_active=False)  # deactivated by an admin: no pending row
    assert signup_activate(uidb64=uid(banned), token=activation_tokens.make_token(banned)) is None
    banned.refresh_from_db()
    assert not banned.is_active


def test_an_expired_link_does_not_activate(settings, mailoutbox) -> None:
    register()
    user = User.objects.get(username="newbie")
    token = activation_tokens.make_token(user)
    settings.PASSWORD_RESET_TIMEOUT = -1
    assert signup_activate(uidb64=uid(user), token=token) is None


def test_a_password_reset_token_is_not_an_activation_token(mailoutbox) -> None:
    from django.contrib.auth.tokens import default_token_generator

    register()
    user = User.objects.get(username="newbie")
    assert signup_activate(uidb64=uid(user), token=default_token_generator.make_token(user)) is None


def test_an_account_an_admin_activated_by_hand_is_in_use_not_waiting(mailoutbox) -> None:
    register("newbie", "new@example.com", password="first-Passw0rd!")
    user = User.objects.get(username="newbie")
    User.objects.filter(pk=user.pk).update(is_active=True)  # the admin ticked "active"; the pending row stays
    register("taker", "new@example.com", password="other-Passw0rd!")
    user.refresh_from_db()
    assert (user.username, user.check_password("first-Passw0rd!")) == ("newbie", True)
    assert mailoutbox[-1].subject == "Someone tried to sign up with your email address"
