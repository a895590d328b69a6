"""Two-factor authentication (allauth.mfa): customers may turn on an authenticator app (TOTP) with recovery codes; staff
reach the admin only with a second factor in their session (``STAFF_MFA_REQUIRED``, shop/accounts/mfa.py)."""

from __future__ import annotations

import re
import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core import mail
from django.test import Client, TestCase
from django.urls import reverse

from tests.factories import UserFactory
from tests.helpers import mailed_login_code

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests"


@pytest.fixture(autouse=True)
def _tolerance(settings):
    settings.MFA_TOTP_TOLERANCE = 1  # codes of the period before and after count too: each step below uses its own
    settings.STAFF_MFA_REQUIRED = True


def code(secret: str, step: int) -> str:
    """The authenticator app's code ``step`` periods from now (-1, 0 or 1)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD + step))


def log_in(client, username: str):
    """Password, then (staff without an authenticator) the code mailed to them."""
    response = client.post(reverse("login"), {"login": username, "password": PASSWORD}, follow=True)
    if response.redirect_chain and response.redirect_chain[-1][0] == reverse("account_confirm_login_code"):
        response = client.post(reverse("account_confirm_login_code"), {"code": mailed_login_code(mail.outbox[-1].body)}, follow=True)
    return response


def turn_on_totp(client) -> str:
    """Activate an authenticator on the signed-in account; its secret."""
    page = client.get(reverse("mfa_activate_totp"), follow=True)
    if page.redirect_chain:  # allauth asks for the password again before a security change
        page = client.post(page.redirect_chain[-1][0], {"password": PASSWORD}, follow=True)
    page = page.content.decode()
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"|value="([A-Z2-7]+)"[^>]*id="authenticator_secret"', page)
    assert secret, page
    secret = secret.group(1) or secret.group(2)
    with TestCase.captureOnCommitCallbacks(execute=True):  # allauth says "authenticator added" once its row is committed
        done = client.post(reverse("mfa_activate_totp"), {"code": code(secret, -1)}, follow=True)
    assert done.status_code == 200
    return secret


def test_a_customer_turns_on_an_authenticator_and_then_needs_its_code_to_log_in(client) -> None:
    customer = UserFactory(username="alice")
    log_in(client, "alice")
    secret = turn_on_totp(client)
    assert Authenticator.objects.filter(user=customer, type=Authenticator.Type.TOTP).exists()
    assert Authenticator.objects.filter(user=customer, type=Authenticator.Type.RECOVERY_CODES).exists()
    client.logout()

    asked = log_in(client, "alice")
    assert asked.redirect_chain[-1][0] == reverse("mfa_authenticate") and "_auth_user_id" not in client.session
    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000" if code(secret, 0) != "000000" else "111111"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    done = client.post(reverse("mfa_authenticate"), {"code": code(secret, 0)}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("order-new") and client.session["_auth_user_id"] == str(customer.pk)


def test_a_recovery_code_logs_in_once(client) -> None:
    UserFactory(username="alice")
    log_in(client, "alice")
    turn_on_totp(client)
    page = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    recovery = re.findall(r"\b[0-9a-f]{8}\b", page)
    assert recovery, page
    client.logout()
    log_in(client, "alice")
    client.post(reverse("mfa_authenticate"), {"code": recovery[0]})
    assert "_auth_user_id" in client.session
    client.logout()
    log_in(client, "alice")
    client.post(reverse("mfa_authenticate"), {"code": recovery[0]})
    assert "_auth_user_id" not in client.session  # spent


def test_staff_without_an_authenticator_are_sent_to_set_one_up_before_the_admin(client) -> None:
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    log_in(client, "boss")
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    assert client.get(reverse("admin:shop_order_changelist"))["Location"] == reverse("mfa_activate_totp")


@pytest.mark.django_db(transaction=True)  # allauth signals "authenticator added" on commit, as in production: before the response
def test_staff_who_turn_on_an_authenticator_reach_the_admin_in_that_session_and_are_told_by_mail(client, mailoutbox) -> None:
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    log_in(client, "boss")
    turn_on_totp(client)  # its code was the second factor
    assert client.get(reverse("admin:index")).status_code == 200
    # Whoever set it up, the owner hears of it at their address (a stranger with a stolen password is noticed).
    told = [mail for mail in mailoutbox if mail.to == ["boss@example.com"] and "authenticator" in mail.body.lower()]
    assert len(told) == 1, [(mail.subject, mail.to) for mail in mailoutbox]


def test_staff_who_signed_in_without_the_second_factor_are_asked_for_it(client) -> None:
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    log_in(client, "boss")
    secret = turn_on_totp(client)
    other = Client()  # another browser
    other.force_login(boss)  # a session without the second factor (a login before the authenticator was on)
    response = other.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_reauthenticate"))
    assert other.get(reverse("admin:shop_order_changelist")).status_code == 302
    other.post(response["Location"], {"code": code(secret, 0)})
    assert other.get(reverse("admin:index")).status_code == 200


def test_staff_who_log_in_with_their_code_reach_the_admin(client) -> None:
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    log_in(client, "boss")
    secret = turn_on_totp(client)
    client.logout()
    log_in(client, "boss")
    client.post(reverse("mfa_authenticate"), {"code": code(secret, 0)})
    assert client.get(reverse("admin:index")).status_code == 200


def test_customers_are_not_asked_for_a_second_factor(client) -> None:
    UserFactory(username="alice")
    log_in(client, "alice")
    assert client.get(reverse("order-new")).status_code == 200
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))  # not staff: the admin's own refusal


def test_guesses_at_the_code_are_limited_per_account(client) -> None:
    UserFactory(username="alice")
    log_in(client, "alice")
    secret = turn_on_totp(client)
    client.logout()
    log_in(client, "alice")
    wrong = "000000" if code(secret, 0) != "000000" else "111111"
    for _ in range(10):
        client.post(reverse("mfa_authenticate"), {"code": wrong})
    refused = client.post(reverse("mfa_authenticate"), {"code": code(secret, 0)})
    assert "Too many failed login attempts" in refused.content.decode() and "_auth_user_id" not in client.session


def test_the_admin_lists_second_factors_without_their_secrets(client, admin_client, settings) -> None:
    settings.STAFF_MFA_REQUIRED = False  # admin_client has no second factor to show; the rule has its own tests above
    alice = UserFactory(username="alice")
    log_in(client, "alice")
    secret = turn_on_totp(client)
    totp = Authenticator.objects.get(user=alice, type=Authenticator.Type.TOTP)
    pages = [
        admin_client.get(reverse("admin:mfa_authenticator_changelist")),
        admin_client.get(reverse("admin:mfa_authenticator_change", args=[totp.pk])),
    ]
    assert [page.status_code for page in pages] == [200, 200]
    for page in pages:
        html = page.content.decode()
        assert "alice" in html and secret not in html and "seed" not in html
    assert admin_client.get(reverse("admin:mfa_authenticator_add")).status_code == 403
    admin_client.post(reverse("admin:mfa_authenticator_delete", args=[totp.pk]), {"post": "yes"})
    assert not Authenticator.objects.filter(pk=totp.pk).exists()  # a lost one: its owner sets up a new one


def test_staff_without_an_authenticator_also_type_a_code_mailed_to_them(client, mailoutbox) -> None:
    """A stolen password alone cannot set up the second factor the admin asks for."""
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    asked = client.post(reverse("login"), {"login": "boss", "password": PASSWORD}, follow=True)
    assert asked.redirect_chain[-1][0] == reverse("account_confirm_login_code") and "_auth_user_id" not in client.session
    assert [sent.to for sent in mailoutbox] == [["boss@example.com"]]
    for _ in range(3):  # three wrong codes end the attempt
        client.post(reverse("account_confirm_login_code"), {"code": "WRONG1"})
    client.post(reverse("account_confirm_login_code"), {"code": mailed_login_code(mailoutbox[-1].body)})
    assert "_auth_user_id" not in client.session
    log_in(client, "boss")  # password and the new mailed code
    assert client.session["_auth_user_id"]


def test_staff_with_an_authenticator_and_customers_get_no_mailed_code(client, mailoutbox) -> None:
    from tests.helpers import with_authenticator

    secret = with_authenticator(UserFactory(username="boss", is_staff=True, is_superuser=True))
    UserFactory(username="alice")
    asked = client.post(reverse("login"), {"login": "boss", "password": PASSWORD}, follow=True)
    assert asked.redirect_chain[-1][0] == reverse("mfa_authenticate")
    client.post(reverse("mfa_authenticate"), {"code": code(secret, 0)})
    assert client.get(reverse("admin:index")).status_code == 200
    client.logout()
    log_in(client, "alice")
    assert client.session["_auth_user_id"] and not mailoutbox
