"""Failed logins: per username and address (``AXES_FAILURE_LIMIT``), and per address across usernames (``LOGIN_ADDRESS_FAILURE_LIMIT``)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


def log_in(username: str, password: str, *, address: str = ATTACKER):
    return Client().post(reverse("login"), {"login": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def users(db) -> list[str]:
    return [UserFactory(username=f"user{number}").username for number in range(8)]


def test_one_address_guessing_across_usernames_is_locked_out_after_the_address_limit(settings, users) -> None:
    settings.AXES_FAILURE_LIMIT, settings.LOGIN_ADDRESS_FAILURE_LIMIT = 5, 12
    # Four wrong passwords for each of three usernames: never five for one, twelve for the address.
    answers = [log_in(username, "wrong").status_code for username in users[:3] for _ in range(4)]
    assert answers == [200] * 11 + [429]
    # Now every username is refused from that address, the right password too.
    for username in users[3:]:
        refused = log_in(username, "pw-for-tests")
        assert refused.status_code == 429 and "Too many failed logins" in refused.content.decode()
        assert "Try again in 15\xa0minutes" in refused.content.decode()  # the cool-off in words, not "PT15M"
    # Another address is not held back.
    assert log_in(users[0], "pw-for-tests", address=ELSEWHERE).status_code == 302


def test_below_the_address_limit_other_usernames_still_log_in_from_that_address(settings, users) -> None:
    settings.AXES_FAILURE_LIMIT, settings.LOGIN_ADDRESS_FAILURE_LIMIT = 5, 12
    for _ in range(5):
        log_in(users[0], "wrong")
    assert log_in(users[0], "pw-for-tests").status_code == 429  # that username, from that address
    assert log_in(users[1], "pw-for-tests").status_code == 302  # 5 of 12: the address is not locked


def test_a_successful_login_does_not_clear_the_address_count(settings, users) -> None:
    settings.AXES_FAILURE_LIMIT, settings.LOGIN_ADDRESS_FAILURE_LIMIT = 5, 8
    for username, failures in ((users[0], 4), (users[1], 3)):
        for _ in range(failures):
            log_in(username, "wrong")
    assert log_in(users[7], "pw-for-tests").status_code == 302  # the guesser's own account: 7 failures stay counted
    assert log_in(users[2], "wrong").status_code == 429  # the eighth


def test_the_default_address_limit_is_higher_than_the_per_username_one(settings) -> None:
    assert settings.LOGIN_ADDRESS_FAILURE_LIMIT > settings.AXES_FAILURE_LIMIT > 0
