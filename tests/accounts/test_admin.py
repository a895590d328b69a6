"""The customers admin: Django's user admin with balances, order counts and balance adjustments; a password it sets revokes the API key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.models import ApiKey, LedgerEntry, Wallet
from shop.reseller_api.keys import api_key_issue
from shop.reseller_api.models import Revocation
from shop.wallet.selectors import ledger_differences
from shop.wallet.services import WalletError, wallet_adjust, wallet_credit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def balance_url(user) -> str:
    return reverse("admin:auth_user_balance", args=[user.pk])


def overview_url(user) -> str:
    return reverse("admin:auth_user_overview", args=[user.pk])


def adjust(client, user, **form: str):
    data = {"amount": "12.5", "direction": "credit", "reason": "Goodwill for a late order", **form}
    return client.post(balance_url(user), data, follow=True)


def balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def test_credit_writes_one_adjustment_by_the_admin_and_returns_to_the_overview(admin_client, admin_user, customer) -> None:
    response = adjust(admin_client, customer, amount="12.5")
    assert response.status_code == 200
    assert response.redirect_chain == [(overview_url(customer), 302)]  # not Django's raw user form
    html = response.content.decode()
    assert "the balance is now 112.5000" in html
    assert 'id="customer-balance">112.50<' in html and "Goodwill for a late order" in html
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.ADJUSTMENT)
    assert (entry.amount, entry.balance_after, entry.created_by, entry.reason) == (
        Decimal("12.5"),
        Decimal("112.5"),
        admin_user,
        "Goodwill for a late order",
    )
    assert balance(customer) == Decimal("112.5")
    assert ledger_differences() == []


def test_debit_writes_one_adjustment_by_the_admin(admin_client, admin_user, customer) -> None:
    response = adjust(admin_client, customer, amount="30.0001", direction="debit", reason="Chargeback")
    assert response.redirect_chain == [(overview_url(customer), 302)]
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.ADJUSTMENT)
    assert (entry.amount, entry.balance_after, entry.created_by) == (Decimal("-30.0001"), Decimal("69.9999"), admin_user)
    assert balance(customer) == Decimal("69.9999")
    assert ledger_differences() == []


def test_credit_to_a_user_without_a_wallet_opens_one(admin_client) -> None:
    newcomer = UserFactory()
    adjust(admin_client, newcomer, amount="5")
    assert balance(newcomer) == Decimal("5")
    assert ledger_differences() == []


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"amount": "0"}, "Enter an amount above zero."),
        ({"amount": "-1"}, "Enter an amount above zero."),
        ({"amount": "1.00001"}, "Ensure that there are no more than 4 decimal places."),
        ({"amount": "abc"}, "Enter a number."),
        ({"amount": ""}, "This field is required."),
        ({"reason": ""}, "This field is required."),
        ({"reason": "   "}, "This field is required."),
        ({"reason": "x" * 256}, "Ensure this value has at most 255 characters"),
        ({"direction": "steal"}, "Select a valid choice."),
    ],
)
def test_bad_input_shows_the_form_again_and_writes_nothing(admin_client, customer, form: dict[str, str], error: str) -> None:
    entries = LedgerEntry.objects.count()
    response = adjust(admin_client, customer, **form)
    html = response.content.decode()
    assert response.status_code == 200
    assert error in html
    assert "Nothing was changed" in html and 'name="amount"' in html
    assert LedgerEntry.objects.count() == entries
    assert balance(customer) == Decimal("100")


def test_debit_beyond_the_balance_writes_nothing(admin_client, customer) -> None:
    entries = LedgerEntry.objects.count()
    response = adjust(admin_client, customer, amount="100.0001", direction="debit")
    html = response.content.decode()
    assert "Not enough funds: 100.0001 needed, 100.0000 available." in html
    assert LedgerEntry.objects.count() == entries
    assert balance(customer) == Decimal("100")


def test_debit_from_a_user_without_a_wallet_writes_nothing(admin_client) -> None:
    newcomer = UserFactory()
    assert "Not enough funds" in adjust(admin_client, newcomer, amount="1", direction="debit").content.decode()
    assert not Wallet.objects.filter(user=newcomer).exists()
    assert not LedgerEntry.objects.exists()


def test_balance_page_is_for_superusers_only(client, customer) -> None:
    clerk = UserFactory(username="clerk", is_staff=True)
    client.force_login(clerk)
    assert adjust(client, customer).status_code == 403
    assert balance(customer) == Decimal("100")


def test_balance_page_of_an_unknown_user_is_404(admin_client) -> None:
    assert admin_client.get(reverse("admin:auth_user_balance", args=[999999])).status_code == 404
    assert admin_client.get(reverse("admin:auth_user_balance", args=["abc"])).status_code == 404


def test_action_leads_to_the_balance_page_of_one_customer(admin_client, customer) -> None:
    url = reverse("admin:auth_user_changelist")
    response = admin_client.post(url, {"action": "adjust_balance", "_selected_action": [customer.pk]})
    assert response.status_code == 302 and response["Location"] == balance_url(customer)
    page = admin_client.get(response["Location"]).content.decode()
    assert "100.0000" in page and 'name="reason"' in page

    other = UserFactory()
    response = admin_client.post(url, {"action": "adjust_balance", "_selected_action": [customer.pk, other.pk]}, follow=True)
    assert "Select exactly one customer to credit or debit." in response.content.decode()


def test_service_refuses_what_the_form_would(customer, admin_user) -> None:
    for amount, direction, reason in [
        (Decimal("0"), "credit", "r"),
        (Decimal("1.00001"), "credit", "r"),
        (Decimal("1"), "sideways", "r"),
        (Decimal("1"), "credit", " "),
    ]:
        with pytest.raises(WalletError):
            wallet_adjust(user=customer, amount=amount, direction=direction, reason=reason, admin=admin_user)
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).exists()


# The list ------------------------------------------------------------------------------


def test_customer_list_shows_balances_and_order_counts(admin_client, customer) -> None:
    html = admin_client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert "100.0000" in html
    assert "column-balance_display" in html and "column-order_count_display" in html
    assert balance_url(customer) in html
    # UserAdmin's own behaviour stays: its filters and search box.
    assert "By staff status" in html and 'name="q"' in html


def test_customer_search_finds_by_username_and_email(admin_client, customer) -> None:
    UserFactory(username="somebody-else", email="else@example.org")
    url = reverse("admin:auth_user_changelist")
    for query in [customer.username, customer.email]:
        html = admin_client.get(url, {"q": query}).content.decode()
        assert f'href="{overview_url(customer)}"' in html and "somebody-else" not in html


def test_customer_list_queries_do_not_grow_with_users(admin_client, django_assert_max_num_queries) -> None:
    def make(count: int) -> None:
        for _ in range(count):
            wallet_credit(user=UserFactory(), amount=Decimal("1"), kind=LedgerEntry.Kind.DEPOSIT)

    url = reverse("admin:auth_user_changelist")
    make(5)
    admin_client.get(url)  # warm up: session and content types
    with CaptureQueriesContext(connection) as five:
        assert admin_client.get(url).status_code == 200
    make(25)
    with django_assert_max_num_queries(len(five)):
        html = admin_client.get(url).content.decode()
    assert html.count("1.0000 <a") == 30
    assert get_user_model().objects.count() == 31  # and the admin


def test_change_page_keeps_user_admin_and_links_the_balance(admin_client, customer) -> None:
    response = admin_client.get(reverse("admin:auth_user_change", args=[customer.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="username"' in html and "../password/" in html  # UserAdmin's form and password link
    assert f'href="{balance_url(customer)}"' in html and "Balance 100.0000: credit or debit" in html
    assert f'href="{overview_url(customer)}"' in html
    password = admin_client.get(reverse("admin:auth_user_password_change", args=[customer.pk]))
    assert password.status_code == 200
    assert 'name="password1"' in password.content.decode() and customer.username in password.content.decode()


@pytest.mark.parametrize(
    "form",
    [
        {"usable_password": "true", "password1": "an-admin-Passw0rd!", "password2": "an-admin-Passw0rd!"},
        {"usable_password": "false", "unset-password": "1"},
    ],
    ids=["set", "disable"],
)
def test_an_admin_setting_a_password_revokes_the_customers_api_key(admin_client, client, customer, form) -> None:
    key = api_key_issue(user=customer)
    response = admin_client.post(reverse("admin:auth_user_password_change", args=[customer.pk]), form, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:auth_user_change", args=[customer.pk])
    assert client.post("/api/v2", {"key": key, "action": "balance"}).json() == {"error": "Invalid API key"}
    assert ApiKey.objects.get(user=customer).revoked_reason == Revocation.PASSWORD_SET_BY_ADMIN

    customer.refresh_from_db()
    client.force_login(customer)
    page = client.get(reverse("api-page")).content.decode()
    assert "because an administrator changed your password" in page
    client.post(reverse("api-key-new"), {"confirm": "yes"})
    assert ApiKey.objects.get(user=customer).revoked_at is None


def test_a_refused_admin_password_form_leaves_the_key_working(admin_client, client, customer) -> None:
    key = api_key_issue(user=customer)
    form = {"usable_password": "true", "password1": "an-admin-Passw0rd!", "password2": "something else"}
    response = admin_client.post(reverse("admin:auth_user_password_change", args=[customer.pk]), form)
    assert response.status_code == 200  # the form again, with its error
    assert set(client.post("/api/v2", {"key": key, "action": "balance"}).json()) == {"balance", "currency"}


def test_staff_adding_or_renaming_a_user_follow_the_username_rules(admin_client) -> None:
    from shop.models import UsernameSkeleton

    add = reverse("admin:auth_user_add")
    form = {"usable_password": "true", "password1": "a-long-Passw0rd!", "password2": "a-long-Passw0rd!", "_save": "Save"}
    assert admin_client.post(add, {**form, "username": "demo"}).status_code == 302
    demo = get_user_model().objects.get(username="demo")
    assert list(UsernameSkeleton.objects.filter(user=demo).values_list("skeleton", flat=True)) == ["derno"]
    refused = admin_client.post(add, {**form, "username": "d\u0435mo"}).content.decode()  # a Cyrillic e (U+0435)
    assert "Use letters of one script only" in refused and not get_user_model().objects.filter(username="d\u0435mo").exists()
    assert "looks too much like an existing one" in admin_client.post(add, {**form, "username": "derno"}).content.decode()

    change = {"username": "olga", "email": "", "date_joined_0": "2024-01-01", "date_joined_1": "00:00:00", "is_active": "on"}
    assert admin_client.post(reverse("admin:auth_user_change", args=[demo.pk]), change).status_code == 302
    assert list(UsernameSkeleton.objects.filter(user=demo).values_list("skeleton", flat=True)) == ["olga"]


# The overview --------------------------------------------------------------------------------


def test_customer_list_names_lead_to_the_overview(admin_client, customer) -> None:
    html = admin_client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert f'href="{overview_url(customer)}">{customer.username}</a>' in html


def test_overview_shows_balance_orders_top_ups_key_and_activity(admin_client, admin_user, customer) -> None:
    from shop.models import OrderStatus, PaymentMethod, TopUp
    from shop.wallet.services import wallet_hold
    from tests.helpers import order_row

    pending = order_row(customer, status=OrderStatus.PENDING)
    order_row(customer, status=OrderStatus.COMPLETED)
    order_row(customer, status=OrderStatus.COMPLETED)
    method = PaymentMethod.objects.create(code="bank", kind="manual", name="Bank transfer", is_enabled=True)
    TopUp.objects.create(user=customer, method=method, amount=Decimal("25"), currency="USD", state="paid", paid_at=pending.created_at)
    key = api_key_issue(user=customer)
    wallet_adjust(user=customer, amount=Decimal("5"), direction="credit", reason="Sorry for the wait", admin=admin_user)
    wallet_hold(user=customer, reason="A payment was reversed.")

    html = admin_client.get(overview_url(customer)).content.decode()
    assert 'id="customer-balance">105.00<' in html
    assert "Balance on hold:" in html and "A payment was reversed." in html
    assert 'id="customer-status-completed">2<' in html and 'id="customer-status-pending">1<' in html
    assert reverse("admin:shop_order_change", args=[pending.pk]) in html
    assert "Bank transfer" in html and 'id="customer-paid">25.00<' in html
    prefix = ApiKey.objects.get(user=customer).prefix
    assert f"<code>{prefix}&hellip;</code>" in html or f"<code>{prefix}…</code>" in html
    assert key not in html and key[len(prefix) :] not in html  # never the key
    assert "Sorry for the wait" in html and f"(by {admin_user})" in html
    assert f'href="{balance_url(customer)}"' in html  # credit or debit from here
    assert f'href="{reverse("admin:auth_user_change", args=[customer.pk])}"' in html  # the account's own form


def test_overview_queries_do_not_grow_with_the_customers_history(admin_client, customer, django_assert_max_num_queries) -> None:
    from shop.models import OrderStatus
    from tests.helpers import order_row

    def load() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(overview_url(customer)).status_code == 200
        return len(queries)

    order_row(customer, status=OrderStatus.PENDING)
    load()  # warm up: session and content types
    few = load()
    for status in [OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.FAILED] * 8:
        order_row(customer, status=status)
        wallet_credit(user=customer, amount=Decimal("1"), kind=LedgerEntry.Kind.DEPOSIT)
    assert load() == few


def test_overview_is_for_staff_who_may_see_customers(client, customer) -> None:
    clerk = UserFactory(username="clerk", is_staff=True)
    client.force_login(clerk)
    assert client.get(overview_url(customer)).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_user"))
    clerk = get_user_model().objects.get(pk=clerk.pk)  # permissions are cached on the instance
    client.force_login(clerk)
    html = client.get(overview_url(customer)).content.decode()
    assert 'id="customer-balance">100.00<' in html
    assert balance_url(customer) not in html  # crediting stays with superusers
    assert client.get(reverse("admin:auth_user_overview", args=["abc"])).status_code == 404


def test_orders_and_top_ups_link_to_the_customers_overview(admin_client, customer) -> None:
    from shop.models import PaymentMethod, TopUp
    from tests.helpers import order_row

    order = order_row(customer)
    method = PaymentMethod.objects.create(code="bank", kind="manual", name="Bank transfer", is_enabled=True)
    topup = TopUp.objects.create(user=customer, method=method, amount=Decimal("25"), currency="USD", state="review", reference="r")
    for url in [
        reverse("admin:shop_order_changelist"),
        reverse("admin:shop_order_change", args=[order.pk]),
        reverse("admin:shop_topup_changelist"),
        reverse("admin:shop_topup_change", args=[topup.pk]),
    ]:
        assert overview_url(customer) in admin_client.get(url).content.decode(), url


@pytest.mark.postgres
def test_the_customer_search_can_read_trigram_indexes_for_every_field_it_searches(rf, admin_user) -> None:
    """An OR of four ``icontains`` uses the indexes only if each field has one (issue 16: 144 -> 62 ms on 100,000 customers)."""
    from django.contrib import admin as django_admin
    from django.contrib.auth.models import User
    from django.db import connection

    model_admin = django_admin.site._registry[User]
    request = rf.get("/admin/auth/user/", {"q": "bob"})
    request.user = admin_user
    queryset, _ = model_admin.get_search_results(request, User.objects.order_by(), "bob")
    with connection.cursor() as cursor:  # on a table this small the planner would rather read it all
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
    assert sorted(set(model_admin.search_fields)) == ["email", "first_name", "last_name", "username"]
    for index in ["user_username_trgm", "user_email_trgm", "user_first_name_trgm", "user_last_name_trgm"]:
        assert index in plan, plan
