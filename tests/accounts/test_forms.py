"""The sign-up form and the admin's user forms: the same username rules; the sign-up form never judges the email address."""

from __future__ import annotations

import pytest

from shop.accounts.forms import SignupForm, StaffUserChangeForm, StaffUserCreationForm
from shop.accounts.usernames import username_skeletons_set
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-Passw0rd!"


@pytest.fixture
def demo():
    user = UserFactory(username="demo")
    username_skeletons_set(user=user)
    return user


def signup_form(username: str, email: str = "someone@example.com", password: str = PASSWORD) -> SignupForm:
    return SignupForm({"username": username, "email": email, "password1": password, "password2": password})


def test_signup_form_takes_a_registered_email_address_without_a_word(demo) -> None:
    form = signup_form("newbie", demo.email.upper())
    assert form.is_valid(), form.errors
    assert form.cleaned_data["email"] == demo.email


def test_signup_form_refuses_lookalikes_mixed_scripts_and_a_password_like_the_username(demo) -> None:
    assert signup_form("derno").errors["username"] == ["This username looks too much like an existing one. Choose another."]
    assert "letters of one script only" in signup_form("d\u0435mo").errors["username"][0]
    fullwidth = "\uff24\uff25\uff2d\uff2f"  # NFKC makes it DEMO
    assert signup_form(fullwidth).errors["username"] == ["A user with that username already exists."]
    assert "too similar to the username" in signup_form("longusername", password="longusername1").errors["password2"][0]


def staff_creation(username: str) -> StaffUserCreationForm:
    return StaffUserCreationForm({"username": username, "usable_password": "true", "password1": PASSWORD, "password2": PASSWORD})


def test_staff_cannot_add_a_lookalike_or_mixed_script_user(demo) -> None:
    assert staff_creation("derno").errors["username"] == ["This username looks too much like an existing one. Choose another."]
    assert "letters of one script only" in staff_creation("d\u0435mo2").errors["username"][0]
    assert staff_creation("olga").is_valid()


def staff_change(user, username: str) -> StaffUserChangeForm:
    data = {"username": username, "email": user.email, "date_joined": "2024-01-01 00:00:00", "is_active": "on"}
    return StaffUserChangeForm(data, instance=user)


def test_staff_renaming_follows_the_rules_and_an_unchanged_name_is_left_alone(demo) -> None:
    other = UserFactory(username="olga")
    assert staff_change(other, "derno").errors["username"] == ["This username looks too much like an existing one. Choose another."]
    assert staff_change(demo, "Demo").is_valid()  # its own look
    legacy = UserFactory(username="p\u0430ypal", email="legacy@example.com")  # mixed, from before the rule: other edits work
    form = staff_change(legacy, "p\u0430ypal")
    assert form.is_valid(), form.errors
