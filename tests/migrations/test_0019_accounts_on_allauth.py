"""Migration 0019: existing accounts keep working on allauth. Each address becomes a verified ``EmailAddress``; an account
still waiting for its activation link becomes active with its address unverified, so its first login asks it to confirm.
An account without an address of its own confirms one before it logs in, or (without any) waits for staff to give it one."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse

from tests.migrations.steps import latest, migrate_to

BEFORE = [("shop", "0018_affiliates"), ("account", "0009_emailaddress_unique_primary_email")]
PASSWORD = "an-old-Passw0rd!"


@pytest.mark.django_db(transaction=True)
def test_existing_accounts_log_in_after_the_upgrade_and_a_waiting_one_must_confirm_first(mailoutbox) -> None:
    newest = latest()
    try:
        apps = migrate_to(BEFORE).loader.project_state(BEFORE).apps
        User, Pending = apps.get_model("auth", "User"), apps.get_model("shop", "PendingActivation")
        hashed = make_password(PASSWORD)
        regular = User.objects.create(username="regular", email="Regular@Example.com", password=hashed)
        waiting = User.objects.create(username="waiting", email="waiting@example.com", password=hashed, is_active=False)
        Pending.objects.create(user=waiting)
        banned = User.objects.create(username="banned", email="banned@example.com", password=hashed, is_active=False)
        User.objects.create(username="twin", email="regular@example.com", password=hashed)
        User.objects.create(username="staff", email="", password=hashed, is_staff=True)
        early = User.objects.create(username="early", email="shared@example.com", password=hashed, is_active=False)
        Pending.objects.create(user=early)  # an old sign-up never activated, then the address's owner signed up again
        owner = User.objects.create(username="owner", email="Shared@Example.com", password=hashed)
        User.objects.create(username="blank", email="   ", password=hashed)
        migrate_to(newest)
    finally:
        migrate_to(newest)

    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    addresses = {row[0]: row[1:] for row in EmailAddress.objects.values_list("user_id", "email", "verified", "primary")}
    assert addresses == {
        regular.pk: ("regular@example.com", True, True),
        waiting.pk: ("waiting@example.com", False, True),
        banned.pk: ("banned@example.com", True, True),
        owner.pk: ("shared@example.com", True, True),  # the account in use, not the older one that never activated
    }  # the twin's address is the older account's; staff had none
    active = dict(get_user_model().objects.values_list("username", "is_active"))
    assert active == {
        "regular": True,
        "waiting": True,
        "banned": False,
        "twin": True,
        "staff": True,
        "early": True,
        "owner": True,
        "blank": True,
    }

    def log_in(login: str) -> Client:
        client = Client()
        client.post(reverse("login"), {"login": login, "password": PASSWORD})
        return client

    assert "_auth_user_id" in log_in("regular").session
    assert "_auth_user_id" in log_in("REGULAR@example.com").session
    assert "_auth_user_id" in log_in("owner").session
    assert "_auth_user_id" not in log_in("banned").session
    assert "_auth_user_id" not in log_in("waiting").session  # not before the address is confirmed...
    assert [mail.to for mail in mailoutbox] == [["waiting@example.com"]]  # ...for which the login mailed a link
    # Without a confirmed address of its own, no login: the twin is mailed a link to the shared address (allauth
    # records it as the twin's unconfirmed address), the account without an address waits for staff to give it one.
    assert "_auth_user_id" not in log_in("twin").session and "_auth_user_id" not in log_in("staff").session
    assert [mail.to for mail in mailoutbox] == [["waiting@example.com"], ["regular@example.com"]]
