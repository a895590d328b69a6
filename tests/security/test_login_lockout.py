"""The login lockout (django-axes) cannot be reset or dodged with a forged X-Forwarded-For.

Proves that without trusted proxies (the default) the client address is
REMOTE_ADDR: failing AXES_FAILURE_LIMIT times while sending a new random
X-Forwarded-For each time still locks the username at that address, and no
other X-Forwarded-For unlocks it. Behind TRUSTED_PROXY_COUNT proxies the
address is the one the outermost proxy appended, so what the client prepends
changes nothing either, while two real clients behind the same proxy are told
apart. Also proves the API's invalid-key limit counts by the same address.
"""

from __future__ import annotations

import random

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from shop.core.client_address import client_address
from shop.reseller_api.keys import api_key_issue
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ATTACKER = "203.0.113.7"
PROXY = "10.0.0.2"


def random_address() -> str:
    return ".".join(str(random.randint(1, 254)) for _ in range(4))


def log_in(client: Client, password: str, *, remote: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(reverse("login"), {"login": "victim", "password": password}, **headers)


@pytest.fixture
def victim(db):
    return UserFactory(username="victim")


def fail_until_locked(client: Client, *, remote: str, forwarded) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = log_in(client, "wrong", remote=remote, forwarded=forwarded())
        assert response.status_code in {200, 429}


def test_a_new_forwarded_for_on_every_failure_still_locks_out(client, victim) -> None:
    fail_until_locked(client, remote=ATTACKER, forwarded=random_address)
    for forwarded in (None, random_address(), f"{random_address()}, {random_address()}", "unknown"):
        response = log_in(client, "pw-for-tests", remote=ATTACKER, forwarded=forwarded)
        assert response.status_code == 429, forwarded
        assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_address_so_the_forwarded_for_was_not_it(victim) -> None:
    """The control: the lock above holds the REMOTE_ADDR, and another address still logs in."""
    fail_until_locked(Client(), remote=ATTACKER, forwarded=random_address)
    elsewhere = log_in(Client(), "pw-for-tests", remote="198.51.100.20", forwarded=ATTACKER)
    assert elsewhere.status_code == 302


def test_behind_a_trusted_proxy_the_client_cannot_choose_its_address(client, victim, settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    # The client forges an entry; the proxy appends the address it really came from.
    fail_until_locked(client, remote=PROXY, forwarded=lambda: f"{random_address()}, {ATTACKER}")
    for forged in (random_address(), "127.0.0.1", ""):
        response = log_in(client, "pw-for-tests", remote=PROXY, forwarded=f"{forged}, {ATTACKER}")
        assert response.status_code == 429, forged
    # Another customer behind the same proxy is a different address: not locked.
    assert log_in(Client(), "pw-for-tests", remote=PROXY, forwarded="198.51.100.20").status_code == 302


@pytest.mark.parametrize(
    ("proxies", "forwarded", "address"),
    [
        (0, "198.51.100.1", "10.0.0.2"),
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.1", "198.51.100.1"),
        (2, "198.51.100.1", "10.0.0.2"),  # shorter than the proxy chain: not through the proxies
        (1, "not-an-address", "10.0.0.2"),
        (1, "", "10.0.0.2"),
        (1, None, "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(rf, settings, proxies: int, forwarded: str | None, address: str) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies
    headers = {"REMOTE_ADDR": "10.0.0.2"} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})
    assert client_address(rf.post("/", **headers)) == address


def test_the_api_invalid_key_limit_ignores_a_forged_forwarded_for(client, settings, customer) -> None:
    settings.API_BAD_KEY_LIMIT = 3
    for _ in range(3):
        client.post("/api/v2", {"key": "smm_guess", "action": "balance"}, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=random_address())
    blocked = client.post("/api/v2", {"key": "smm_guess", "action": "balance"}, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=random_address())
    assert blocked.status_code == 429
    valid = client.post("/api/v2", {"key": api_key_issue(user=customer), "action": "balance"}, REMOTE_ADDR=ATTACKER)
    assert valid.status_code == 200 and "balance" in valid.json()
