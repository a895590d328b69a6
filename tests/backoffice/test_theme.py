"""The admin's theme (django-unfold): every admin on its classes, the shop's name and colours, the sidebar by domain."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.auth.models import Permission
from django.urls import reverse
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.sites import UnfoldAdminSite

from shop.storefront.branding import branding_save
from shop.storefront.models import Branding
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GROUPS = ["Orders", "Catalogue", "Customers", "Payments", "Support", "Settings"]


def test_the_admin_site_is_unfolds() -> None:
    assert isinstance(admin.site, UnfoldAdminSite)


def test_every_registered_admin_and_inline_is_on_unfolds_classes() -> None:
    """No page half-styled: the shop's admins, the user and group admins, periodic tasks and login attempts alike."""
    left_out = [
        f"{model._meta.label}: {type(model_admin).__name__}"
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, ModelAdmin)
    ]
    assert left_out == []
    inlines: list[type[InlineModelAdmin]] = [inline for model_admin in admin.site._registry.values() for inline in model_admin.inlines]
    assert inlines  # the wallet's ledger lines, the schedules' tasks
    assert [inline.__name__ for inline in inlines if not issubclass(inline, (TabularInline, StackedInline))] == []
    labels = {model._meta.label_lower for model in admin.site._registry}
    assert {"auth.group", "django_celery_beat.periodictask", "django_celery_beat.crontabschedule", "axes.accessattempt"} <= labels


def test_every_list_and_add_page_renders_in_the_theme(admin_client) -> None:
    for model, model_admin in admin.site._registry.items():
        info = f"{model._meta.app_label}_{model._meta.model_name}"
        response = admin_client.get(reverse(f"admin:{info}_changelist"))
        assert response.status_code == 200, info
        html = response.content.decode()
        assert "unfold/css/styles.css" in html and "backoffice/backoffice.css" in html, info
        if model_admin.has_add_permission(response.wsgi_request):
            assert admin_client.get(reverse(f"admin:{info}_add")).status_code == 200, info


def test_pages_carry_the_shops_name_and_accent(admin_client) -> None:
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "<title>" in html and "| SMM Shop</title>" in html.replace("\n", "")
    assert "Django administration" not in html and "Django site admin" not in html
    assert "--color-primary-600: oklch(52.3% 0.196 267.7)" in html  # #3a5bd9, the storefront's accent


def test_the_title_follows_the_branding(admin_client) -> None:
    branding = Branding(pk=1, name="Boost Corner")
    branding_save(branding=branding, logo=None, remove_logo=False)
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "Boost Corner" in html


def test_the_sidebar_groups_lists_by_domain(admin_client) -> None:
    html = admin_client.get(reverse("admin:index")).content.decode()
    headings = re.findall(r"<h2[^>]*>\s*([A-Z][a-z]+)\s*<", html)
    assert [heading for heading in headings if heading in GROUPS] == GROUPS
    assert f'href="{reverse("admin:shop_order_changelist")}?status__exact=needs_attention"' in html
    assert f'href="{reverse("admin:auth_user_changelist")}"' in html


def test_the_sidebar_lists_only_what_the_staff_member_may_see(client) -> None:
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_category"))
    client.force_login(clerk)
    html = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:shop_category_changelist") in html
    for hidden in ("admin:shop_order_changelist", "admin:shop_topup_changelist", "admin:auth_user_changelist"):
        assert reverse(hidden) not in html, hidden


def test_the_admin_login_is_the_shops_login_and_leads_back_to_the_admin(client) -> None:
    """allauth's login (``secure_admin_login``): the same lockout and, for staff, the second factor."""
    page = client.get(reverse("admin:login"))
    assert page.status_code == 302 and page["Location"] == f"{reverse('login')}?next=%2Fadmin%2Flogin%2F"


def test_staff_who_log_in_to_the_admin_land_in_the_admin(client, django_user_model) -> None:
    boss = django_user_model.objects.create_user("boss", "boss@example.com", "pw-for-tests", is_staff=True)
    EmailAddress.objects.create(user=boss, email="boss@example.com", verified=True, primary=True)
    start = client.get(reverse("admin:index"), follow=True)
    login_url = start.redirect_chain[-1][0]
    done = client.post(login_url, {"login": "boss", "password": "pw-for-tests"}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("admin:index") and "SMM Shop" in done.content.decode()


def test_no_template_comment_shows_on_the_shops_pages(admin_client, customer) -> None:
    """Django's {# #} comments are one line only: a longer one would print as text."""
    from shop.models import OrderStatus
    from tests.helpers import order_row

    order = order_row(customer, status=OrderStatus.NEEDS_ATTENTION)
    for url in [
        reverse("admin:index"),
        reverse("admin:auth_user_overview", args=[customer.pk]),
        reverse("admin:auth_user_balance", args=[customer.pk]),
        reverse("admin:shop_order_change", args=[order.pk]),
    ]:
        html = admin_client.get(url).content.decode()
        assert "{#" not in html and "{% comment" not in html, url
