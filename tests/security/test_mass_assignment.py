"""Mass assignment: fields a form does not offer are ignored, whatever the poster adds.

Proves that extra fields (price, rate, charge, status, user, user_id, balance,
is_staff, refunded, ...) posted to the order form, the API's add action, the
signup form, the password change and reset forms, the API key page and the
admin's credit/debit form change nothing beyond what each form is for: the
charge is computed from the service, the order and the key belong to the
poster, nobody becomes staff, and only the chosen wallet moves, by the amount
given, in one ledger entry.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from allauth.account.forms import EmailAwarePasswordResetTokenGenerator
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from shop.models import ApiKey, LedgerEntry, Order, OrderStatus, Wallet
from shop.reseller_api.keys import api_key_issue
from tests.helpers import activation_link
from tests.security.conftest import LINK

pytestmark = pytest.mark.django_db
PASSWORD = "a-new-Passw0rd!"
CHARGE = Decimal("1.1700")  # 1000 of the sandbox's service 1 at the shop's default markup


@pytest.fixture
def extras(shopper_b) -> dict[str, str]:
    """Fields no form of the shop offers, aimed at making the poster rich, staff, or someone else."""
    return {
        "price": "0.0001",
        "rate": "0",
        "charge": "0.0001",
        "refunded": "1000",
        "status": "completed",
        "upstream_order_id": "1",
        "total_quantity": "1",
        "user": str(shopper_b.pk),
        "user_id": str(shopper_b.pk),
        "wallet": str(shopper_b.pk),
        "balance": "1000000",
        "balance_after": "1000000",
        "kind": "deposit",
        "created_by": str(shopper_b.pk),
        "is_staff": "on",
        "is_superuser": "on",
        "is_active": "",
        "user_permissions": str(Permission.objects.order_by("pk").first().pk),
        "groups": "1",
    }


def balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def assert_plain_customer(user) -> None:
    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser, user.is_active) == (False, False, True)
    assert not user.user_permissions.exists() and not user.groups.exists()


def assert_one_honest_order(customer, shopper_b) -> None:
    order = Order.objects.get()
    assert (order.user, order.charge, order.refunded, order.status) == (customer, CHARGE, Decimal("0"), OrderStatus.AWAITING)
    assert (order.quantity, order.total_quantity, order.upstream_order_id) == (1000, 1000, None)
    assert balance(customer) == Decimal("100") - CHARGE
    assert balance(shopper_b) == Decimal("50")
    assert LedgerEntry.objects.filter(order=order).get().amount == -CHARGE
    assert_plain_customer(customer)


def test_order_form_computes_the_charge_and_keeps_the_order_the_posters(client, catalogue, customer, shopper_b, extras) -> None:
    client.force_login(customer)
    form = {**extras, "service": catalogue["1"].pk, "link": LINK, "quantity": "1000"}
    response = client.post(reverse("order-new"), form)
    assert response.status_code == 302
    assert_one_honest_order(customer, shopper_b)


def test_api_add_computes_the_charge_and_keeps_the_order_the_callers(client, catalogue, customer, shopper_b, extras) -> None:
    key = api_key_issue(user=customer)
    reply = client.post("/api/v2", {**extras, "key": key, "action": "add", "service": catalogue["1"].pk, "link": LINK, "quantity": "1000"})
    assert reply.json() == {"order": Order.objects.get().pk}
    assert_one_honest_order(customer, shopper_b)


def test_api_add_as_json_ignores_the_same_fields(client, catalogue, customer, shopper_b, extras) -> None:
    key = api_key_issue(user=customer)
    body = {**extras, "key": key, "action": "add", "service": catalogue["1"].pk, "link": LINK, "quantity": 1000}
    reply = client.post("/api/v2", body, content_type="application/json")
    assert reply.json() == {"order": Order.objects.get().pk}
    assert_one_honest_order(customer, shopper_b)


def test_signup_makes_a_plain_customer_with_nothing_on_the_balance(client, extras, mailoutbox) -> None:
    form = {
        **extras,
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password1": "a-new-Passw0rd!",
        "password2": "a-new-Passw0rd!",
    }
    response = client.post(reverse("signup"), form)
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newcomer")
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert not EmailAddress.objects.get(user=user).verified  # until the mailed link is followed
    assert client.post(activation_link(mailoutbox[-1]), extras).status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert_plain_customer(user)
    assert not LedgerEntry.objects.filter(wallet__user=user).exists()
    assert not Wallet.objects.filter(user=user, balance__gt=0).exists()


def test_password_change_changes_the_password_only(client, customer, shopper_b, extras) -> None:
    client.force_login(customer)
    form = {
        **extras,
        "username": "renamed",
        "email": "renamed@example.com",
        "oldpassword": "pw-for-tests",
        "password1": "a-new-Passw0rd!",
        "password2": "a-new-Passw0rd!",
    }
    response = client.post(reverse("password_change"), form)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password("a-new-Passw0rd!")
    assert (customer.username, customer.email) != ("renamed", "renamed@example.com")
    assert_plain_customer(customer)
    assert balance(customer) == Decimal("100") and balance(shopper_b) == Decimal("50")
    assert shopper_b.check_password("pw-for-tests")


def test_password_reset_sets_the_password_only(client, customer, extras) -> None:
    uid, token = user_pk_to_url_str(customer), EmailAwarePasswordResetTokenGenerator().make_token(customer)
    form_url = client.get(reverse("password_reset_confirm", args=[uid, token]))["Location"]
    response = client.post(form_url, {**extras, "username": "renamed", "password1": "a-new-Passw0rd!", "password2": "a-new-Passw0rd!"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password("a-new-Passw0rd!") and customer.username != "renamed"
    assert_plain_customer(customer)


def test_api_key_page_issues_a_key_to_the_poster_only(client, customer, shopper_b, extras) -> None:
    client.force_login(customer)
    assert client.post(reverse("api-key-new"), {**extras, "confirm": "yes"}).status_code == 302
    assert list(ApiKey.objects.values_list("user", flat=True)) == [customer.pk]


def test_admin_credit_moves_only_the_chosen_wallet_by_the_amount_given(admin_client, admin_user, customer, shopper_b, extras) -> None:
    form = {**extras, "amount": "12.5", "direction": "credit", "reason": "Goodwill"}
    response = admin_client.post(reverse("admin:auth_user_balance", args=[customer.pk]), form)
    assert response.status_code == 302
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.ADJUSTMENT)
    assert (entry.wallet.user, entry.amount, entry.balance_after, entry.created_by, entry.order) == (
        customer,
        Decimal("12.5"),
        Decimal("112.5"),
        admin_user,
        None,
    )
    assert balance(customer) == Decimal("112.5") and balance(shopper_b) == Decimal("50")
    assert_plain_customer(customer)
    assert_plain_customer(shopper_b)
