"""Sign-up and reset limits: per network and per email address, each counted apart, with the message to show."""

from __future__ import annotations

from django.core.cache import cache

from shop.accounts.throttles import password_reset_limit_hit, signup_limit_hit


def test_each_email_address_is_counted_however_it_is_written(settings) -> None:
    settings.SIGNUP_ADDRESS_LIMIT, settings.SIGNUP_EMAIL_LIMIT = 100, 2
    answers = [signup_limit_hit(address=f"10.0.0.{n}", email=email) for n, email in enumerate(["a@x.io", " A@X.IO ", "a@X.io"])]
    assert answers == [None, None, "Too many sign-ups with this email address; try again in an hour."]
    assert signup_limit_hit(address="10.0.0.9", email="b@x.io") is None


def test_the_network_limit_is_said_first(settings) -> None:
    settings.PASSWORD_RESET_ADDRESS_LIMIT, settings.PASSWORD_RESET_EMAIL_LIMIT = 1, 1
    assert password_reset_limit_hit(address="10.0.0.1", email="a@x.io") is None
    assert password_reset_limit_hit(address="10.0.0.1", email="a@x.io") == (
        "Too many password reset requests from your network; try again in an hour."
    )
    assert password_reset_limit_hit(address="10.0.0.2", email="a@x.io") == (
        "Too many password reset requests for this email address; try again in an hour."
    )


def test_sign_ups_and_reset_mails_are_counted_apart(settings) -> None:
    settings.SIGNUP_ADDRESS_LIMIT = settings.PASSWORD_RESET_ADDRESS_LIMIT = 1
    assert signup_limit_hit(address="10.0.0.1", email="a@x.io") is None
    assert password_reset_limit_hit(address="10.0.0.1", email="a@x.io") is None


def test_a_limit_of_zero_is_no_limit(settings) -> None:
    settings.SIGNUP_ADDRESS_LIMIT = settings.SIGNUP_EMAIL_LIMIT = 0
    assert all(signup_limit_hit(address="10.0.0.1", email="a@x.io") is None for _ in range(20))


def test_the_counters_keys_carry_no_email_address(settings) -> None:
    signup_limit_hit(address="10.0.0.1", email="secret-person@example.com")
    keys = list(cache._cache.keys())  # the test settings' local-memory cache
    assert keys and not any("secret-person" in key for key in keys)
