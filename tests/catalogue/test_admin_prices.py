"""Admin for customers' own prices (``shop.catalogue.admin_prices``): what the constraints refuse is said plainly, never a 500."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils.html import escape

from shop.models import CustomerPrice, ShopSettings
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db

ADD = "admin:shop_customerprice_add"


@pytest.fixture
def service():
    return ServiceFactory()


def post(client, **fields: object):
    data = {"user": "", "service": "", "discount_percent": "", "fixed_rate": "", **{k: str(v) for k, v in fields.items()}}
    return client.post(reverse(ADD), data)


def errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.status_code  # the form again, with its errors
    return dict(response.context["adminform"].form.errors)


def test_a_discount_and_a_fixed_rate_are_added(admin_client, customer, service) -> None:
    assert post(admin_client, user=customer.pk, discount_percent="12.5").status_code == 302
    assert post(admin_client, user=customer.pk, service=service.pk, fixed_rate="0.75").status_code == 302
    rows = set(CustomerPrice.objects.values_list("user", "service", "discount_percent", "fixed_rate"))
    assert rows == {(customer.pk, None, Decimal("12.50"), None), (customer.pk, service.pk, None, Decimal("0.750000"))}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"discount_percent": "0"}, "discount_percent", "A discount is more than 0 % and less than 100 %."),
        ({"discount_percent": "100"}, "discount_percent", "A discount is more than 0 % and less than 100 %."),
        ({"discount_percent": "-5"}, "discount_percent", "A discount is more than 0 % and less than 100 %."),
        ({"service": "S", "fixed_rate": "0"}, "fixed_rate", "A fixed rate is more than zero."),
        ({"service": "S", "fixed_rate": "-1"}, "fixed_rate", "A fixed rate is more than zero."),
        ({}, "discount_percent", "Give the discount on every service, or choose a service and its fixed rate."),
        ({"fixed_rate": "1"}, "fixed_rate", "A fixed rate is for one service: choose the service, or give a discount instead."),
        ({"service": "S"}, "fixed_rate", "Give this service's fixed rate per 1000."),
        (
            {"service": "S", "discount_percent": "10", "fixed_rate": "1"},
            "discount_percent",
            "A discount is on every service: leave the service blank, or give a fixed rate.",
        ),
    ],
)
def test_a_price_the_constraints_refuse_is_explained(admin_client, customer, service, fields, field, message) -> None:
    fields = {name: service.pk if value == "S" else value for name, value in fields.items()}
    said = errors(post(admin_client, user=customer.pk, **fields))
    assert said[field] == [message]
    assert not CustomerPrice.objects.exists()


def test_one_discount_per_customer(admin_client, customer) -> None:
    CustomerPrice.objects.create(user=customer, discount_percent=Decimal("10"))
    said = errors(post(admin_client, user=customer.pk, discount_percent="20"))
    assert said == {"user": ["This customer already has a discount: change that one instead."]}
    assert post(admin_client, user=UserFactory().pk, discount_percent="20").status_code == 302  # another customer may


def test_one_fixed_rate_per_service_and_customer(admin_client, customer, service) -> None:
    CustomerPrice.objects.create(user=customer, service=service, fixed_rate=Decimal("1"))
    said = errors(post(admin_client, user=customer.pk, service=service.pk, fixed_rate="2"))
    assert said == {"service": ["This customer already has a fixed rate for this service: change that one instead."]}
    assert post(admin_client, user=customer.pk, service=ServiceFactory().pk, fixed_rate="2").status_code == 302


def test_a_price_is_changed_in_place(admin_client, customer) -> None:
    price = CustomerPrice.objects.create(user=customer, discount_percent=Decimal("10"))
    url = reverse("admin:shop_customerprice_change", args=[price.pk])
    response = admin_client.post(url, {"user": customer.pk, "service": "", "discount_percent": "30", "fixed_rate": ""})
    assert response.status_code == 302
    price.refresh_from_db()
    assert price.discount_percent == Decimal("30")


def test_the_list_and_the_customers_overview_show_the_prices(admin_client, customer, service) -> None:
    CustomerPrice.objects.create(user=customer, discount_percent=Decimal("12.5"))
    CustomerPrice.objects.create(user=customer, service=service, fixed_rate=Decimal("0.75"))
    listed = admin_client.get(reverse("admin:shop_customerprice_changelist")).content.decode()
    assert "12.5 % off" in listed and "0.75 per 1000" in listed and escape(f"#{service.pk} {service.name}") in listed
    overview = admin_client.get(reverse("admin:auth_user_overview", args=[customer.pk])).content.decode()
    section = overview[overview.index('id="customer-prices"') :]
    assert "Every service" in section and "12.5 % off" in section and "0.75 per 1000" in section
    assert f"{reverse(ADD)}?user={customer.pk}" in section
    assert admin_client.get(f"{reverse(ADD)}?user={customer.pk}").context["adminform"].form.initial["user"] == str(customer.pk)


def test_the_user_and_service_are_chosen_by_autocomplete(admin_client, customer, service) -> None:
    url = reverse("admin:autocomplete")
    found = admin_client.get(url, {"app_label": "shop", "model_name": "customerprice", "field_name": "user", "term": customer.username})
    assert [item["id"] for item in found.json()["results"]] == [str(customer.pk)]
    found = admin_client.get(url, {"app_label": "shop", "model_name": "customerprice", "field_name": "service", "term": service.name})
    assert [item["id"] for item in found.json()["results"]] == [str(service.pk)]


def test_the_link_rule_is_a_shop_setting_admins_switch(admin_client) -> None:
    ShopSettings.load()
    page = admin_client.get(reverse("admin:shop_shopsettings_change", args=[1]))
    assert 'name="one_order_per_link"' in page.content.decode()
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields if form.initial.get(name) is not None}
    data["one_order_per_link"] = "on"
    assert admin_client.post(reverse("admin:shop_shopsettings_change", args=[1]), data).status_code == 302
    assert ShopSettings.load().one_order_per_link is True
