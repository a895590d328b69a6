"""Staff roles (shop.accounts.roles): what Support, Finance and Admin each reach in admin, and that none grants itself more."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from shop.accounts.roles import ADMIN, FINANCE, ROLES, SUPPORT, roles_sync
from shop.orders.models import OrderStatus
from shop.payments.crediting import topup_create
from shop.payments.models import PaymentMethod
from shop.support.models import TicketStatus
from shop.support.services import ticket_open
from tests.factories import UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db


def member(role: str) -> tuple[Client, object]:
    user = UserFactory(username=f"staff-{role.lower()}", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def world(customer):
    manual = PaymentMethod.objects.create(
        code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank", is_enabled=True, currency=settings.SHOP_CURRENCY, instructions="IBAN"
    )
    return {
        "customer": customer,
        "stuck": order_row(customer, status=OrderStatus.NEEDS_ATTENTION),
        "topup": topup_create(user=customer, method=manual, amount="40", reference="TRX-1", urls=lambda topup: None),
        "ticket": ticket_open(user=customer, subject="Help", category="other", body="Please help."),
        "method": manual,
    }


def reach(client: Client, world: dict) -> dict[str, int]:
    """The status code of each thing a staff member might do (POSTs without "confirm" only show the confirmation page)."""
    customer, topup = world["customer"], world["topup"]
    return {
        "tickets": client.get(reverse("admin:shop_ticket_changelist")).status_code,
        "answer ticket": client.post(reverse("admin:shop_ticket_act", args=[world["ticket"].pk, "reply"]), {"message": "Hi"}).status_code,
        "orders": client.get(reverse("admin:shop_order_changelist")).status_code,
        "resolve order": client.post(reverse("admin:shop_order_resolve", args=[world["stuck"].pk, "not-placed"])).status_code,
        "customers": client.get(reverse("admin:auth_user_changelist")).status_code,
        "adjust balance": client.get(reverse("admin:auth_user_balance", args=[customer.pk])).status_code,
        "edit customer": client.post(reverse("admin:auth_user_change", args=[customer.pk]), {}).status_code,
        "credit top-up": client.post(reverse("admin:shop_topup_credit", args=[topup.pk])).status_code,
        "payment methods": client.get(reverse("admin:shop_paymentmethod_changelist")).status_code,
        "edit payment method": client.post(reverse("admin:shop_paymentmethod_change", args=[world["method"].pk]), {}).status_code,
        "shop settings": client.get(reverse("admin:shop_shopsettings_changelist")).status_code,
        "groups": client.get(reverse("admin:auth_group_changelist")).status_code,
    }


ALLOWED, DENIED = "allowed", "denied"
EXPECTED = {
    SUPPORT: {
        "tickets": ALLOWED,
        "answer ticket": ALLOWED,
        "orders": ALLOWED,
        "resolve order": ALLOWED,
        "customers": ALLOWED,
        "adjust balance": DENIED,
        "edit customer": DENIED,
        "credit top-up": DENIED,
        "payment methods": DENIED,
        "edit payment method": DENIED,
        "shop settings": DENIED,
        "groups": DENIED,
    },
    FINANCE: {
        "tickets": ALLOWED,
        "answer ticket": DENIED,
        "orders": ALLOWED,
        "resolve order": DENIED,
        "customers": ALLOWED,
        "adjust balance": ALLOWED,
        "edit customer": DENIED,
        "credit top-up": ALLOWED,
        "payment methods": ALLOWED,
        "edit payment method": DENIED,
        "shop settings": DENIED,
        "groups": DENIED,
    },
    ADMIN: dict.fromkeys(
        [
            "tickets",
            "answer ticket",
            "orders",
            "resolve order",
            "customers",
            "adjust balance",
            "edit customer",
            "credit top-up",
            "payment methods",
            "edit payment method",
            "shop settings",
            "groups",
        ],
        ALLOWED,
    ),
}


@pytest.mark.parametrize("role", [SUPPORT, FINANCE, ADMIN])
def test_each_role_reaches_what_it_needs_and_nothing_more(world, role) -> None:
    client, _ = member(role)
    codes = reach(client, world)
    assert {name: DENIED if code == 403 else ALLOWED for name, code in codes.items()} == EXPECTED[role], codes
    assert all(code in (200, 302, 403) for code in codes.values()), codes


def test_staff_with_no_role_reach_nothing(world) -> None:
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    codes = reach(client, world)
    assert set(codes.values()) == {403}, codes


def test_denied_actions_changed_nothing(world) -> None:
    client, _ = member(FINANCE)
    reach(client, world)
    world["ticket"].refresh_from_db()
    world["stuck"].refresh_from_db()
    assert world["ticket"].status == TicketStatus.OPEN and world["stuck"].status == OrderStatus.NEEDS_ATTENTION


@pytest.mark.parametrize("role", [SUPPORT, FINANCE, ADMIN])
def test_no_role_can_grant_itself_more(role) -> None:
    client, user = member(role)
    admin_group = Group.objects.get(name=ADMIN)
    every = Permission.objects.get(codename="change_group")
    data = {
        "username": user.username,
        "email": "x@example.com",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [admin_group.pk],
        "user_permissions": [every.pk],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    edited = client.post(reverse("admin:auth_user_change", args=[user.pk]), data)
    if role != ADMIN:  # Admin holds every permission already
        client.post(reverse("admin:auth_group_change", args=[Group.objects.get(name=role).pk]), {"name": role, "permissions": [every.pk]})
    user.refresh_from_db()
    assert user.is_superuser is False
    assert list(user.groups.values_list("name", flat=True)) == [role]
    assert not user.user_permissions.exists()
    assert user.email == ("x@example.com" if role == ADMIN else f"{user.username}@example.com")  # Admin edits the account, not its reach
    if role != ADMIN:
        assert edited.status_code == 403
        assert not Group.objects.get(name=role).permissions.filter(pk=every.pk).exists()


def test_the_roles_are_made_by_the_migrations_and_admin_holds_every_permission() -> None:
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)
    assert Group.objects.get(name=ADMIN).permissions.count() == Permission.objects.count()
    support = set(Group.objects.get(name=SUPPORT).permissions.values_list("content_type__app_label", "codename"))
    assert support == {tuple(label.split(".")) for label in ROLES[SUPPORT]}


def test_a_permission_added_later_reaches_admin_and_a_sync_puts_back_what_was_removed() -> None:
    support = Group.objects.get(name=SUPPORT)
    support.permissions.clear()
    group_type = ContentType.objects.get_for_model(Group)
    later = Permission.objects.create(codename="do_new_thing", name="Can do a new thing", content_type=group_type)
    roles_sync(apps)
    assert Group.objects.get(name=ADMIN).permissions.filter(pk=later.pk).exists()
    assert support.permissions.count() == len(ROLES[SUPPORT])
    assert not support.permissions.filter(pk=later.pk).exists()


@pytest.mark.parametrize("role", [SUPPORT, FINANCE, ADMIN])
def test_no_role_can_take_over_a_superusers_account(role) -> None:
    client, _ = member(role)
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    boss.set_password("the-bosses-own-password")
    boss.save()
    password = client.post(
        reverse("admin:auth_user_password_change", args=[boss.pk]),
        {"password1": "taken-over-9f3a", "password2": "taken-over-9f3a", "usable_password": "true"},
    )
    edit = client.post(reverse("admin:auth_user_change", args=[boss.pk]), {"username": "boss", "email": "mine@example.com"})
    delete = client.post(reverse("admin:auth_user_delete", args=[boss.pk]), {"post": "yes"})
    assert (password.status_code, edit.status_code, delete.status_code) == (403, 403, 403)
    boss.refresh_from_db()
    assert boss.check_password("the-bosses-own-password") and boss.email == "boss@example.com"


def test_a_sync_never_brings_back_a_role_group_that_was_removed() -> None:
    Group.objects.filter(name=SUPPORT).delete()
    roles_sync(apps)
    assert not Group.objects.filter(name=SUPPORT).exists()
    roles_sync(apps, create=True)
    assert Group.objects.get(name=SUPPORT).permissions.count() == len(ROLES[SUPPORT])


@pytest.mark.django_db(transaction=True)
def test_a_flush_leaves_the_role_groups_in_place() -> None:
    from django.core.management import call_command

    call_command("flush", verbosity=0, interactive=False)
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)
    assert Group.objects.get(name=ADMIN).permissions.count() == Permission.objects.count()
