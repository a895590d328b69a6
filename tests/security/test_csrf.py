"""CSRF protection on every form of the site, found by walking the URLconf.

Proves that a POST without a CSRF token is refused with 403 and writes nothing
on every URL pattern (shop pages as a logged-in customer and as a visitor,
admin pages as a superuser), that the only csrf-exempt views are the
key-authenticated API endpoint and the payment gateways' notification endpoint
(each notification is verified by its gateway's signature), and that every POST form a page renders
carries a ``csrfmiddlewaretoken``.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from shop.models import Order, PaymentMethod, TopUp
from shop.payments.views import payment_notify
from shop.reseller_api.views import api_v2
from tests.security.conftest import LINK, Route, database_snapshot, site_routes

pytestmark = pytest.mark.django_db
CSRF_REFUSED = "CSRF verification failed"


def route_values(route: Route, *, customer, orders_of_a) -> dict[str, object]:
    """Real ids for a route's parameters: the customer's own order, or the first row of the admin page's model."""
    values: dict[str, object] = {"pk": orders_of_a.awaiting.pk, "id": customer.pk, "content_type_id": 1}
    if "public_id" in route.params:
        values["public_id"] = customer_topup(customer).public_id
    if route.is_admin and "object_id" in route.params:
        parts = route.route.split("/")
        model = apps.get_model(parts[1], parts[2]) if len(parts) > 3 and parts[1] != "r" else None
        first = model._default_manager.order_by("pk").first() if model is not None else None
        values["object_id"] = first.pk if first is not None else 1
    if "uidb64" in route.params:
        values["uidb64"] = urlsafe_base64_encode(force_bytes(customer.pk))
        values["token"] = default_token_generator.make_token(customer)
    return values


def customer_topup(customer) -> TopUp:
    """The customer's own top-up, a manual transfer waiting for staff (made once per test)."""
    method, _ = PaymentMethod.objects.get_or_create(
        code="bank", defaults={"kind": PaymentMethod.Kind.MANUAL, "name": "Bank", "is_enabled": True, "currency": "USD"}
    )
    topup = TopUp.objects.filter(user=customer).first()
    return topup or TopUp.objects.create(user=customer, method=method, amount=10, currency="USD", state="review", reference="r-1")


def form_body(catalogue) -> dict[str, str]:
    """Fields any form of the site would take, valid where possible, so a missing CSRF check would write."""
    return {
        "service": str(catalogue["1"].pk),
        "link": LINK,
        "quantity": "1000",
        "amount": "10",
        "direction": "credit",
        "reason": "csrf probe",
        "username": "csrf-probe",
        "email": "csrf-probe@example.com",
        "password": "pw-for-tests",
        "password1": "a-new-Passw0rd!",
        "password2": "a-new-Passw0rd!",
        "old_password": "pw-for-tests",
        "new_password1": "a-new-Passw0rd!",
        "new_password2": "a-new-Passw0rd!",
        "name": "csrf probe",
        "post": "yes",
        "action": "delete_selected",
    }


def test_the_only_csrf_exempt_views_are_the_api_and_the_payment_notifications() -> None:
    exempt = {route.route for route in site_routes() if getattr(route.view, "csrf_exempt", False)}
    assert exempt == {"api/v2", "api/v2/", "payments/notify/<slug:code>/"}
    assert {route.view for route in site_routes() if route.route in exempt} == {api_v2, payment_notify}


def test_a_post_without_token_is_refused_everywhere_and_writes_nothing(
    customer, admin_user, orders_of_a, catalogue, upstream_calls
) -> None:
    customer_client = Client(enforce_csrf_checks=True)
    customer_client.force_login(customer)
    admin_client = Client(enforce_csrf_checks=True)
    admin_client.force_login(admin_user)
    visitor = Client(enforce_csrf_checks=True)
    customer_topup(customer)
    before, calls = database_snapshot(), upstream_calls()
    body = form_body(catalogue)
    checked = []
    for route in site_routes():
        if getattr(route.view, "csrf_exempt", False):
            continue
        url = route.url(**route_values(route, customer=customer, orders_of_a=orders_of_a))
        for client in (admin_client,) if route.is_admin else (customer_client, visitor):
            response = client.post(url, body)
            assert response.status_code == 403, f"POST {url} without a CSRF token answered {response.status_code}"
            assert CSRF_REFUSED in response.content.decode(), url
            checked.append(url)
    assert database_snapshot() == before
    assert upstream_calls() == calls
    assert reverse("order-cancel", args=[orders_of_a.awaiting.pk]) in checked
    assert reverse("admin:auth_user_balance", args=[customer.pk]) in checked
    assert len(checked) > 100


def test_the_same_post_with_a_token_goes_through(customer, catalogue) -> None:
    """The control: the 403s above come from the missing token, not from the client."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    client.get(reverse("order-new"))
    token = client.cookies["csrftoken"].value
    response = client.post(reverse("order-new"), {**form_body(catalogue), "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Order.objects.filter(user=customer).count() == 1


def test_the_api_endpoint_needs_no_token(db) -> None:
    response = Client(enforce_csrf_checks=True).post("/api/v2", {"key": "smm_nope", "action": "balance"})
    assert response.status_code == 200 and response.json() == {"error": "Invalid API key"}


class PostForms(HTMLParser):
    """Counts the POST forms of a page and those carrying a csrfmiddlewaretoken input."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[bool] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and (values.get("method") or "get").lower() == "post":
            self.forms.append(False)
            self._open = True
        elif tag == "input" and self._open and values.get("name") == "csrfmiddlewaretoken" and values.get("value"):
            self.forms[-1] = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = False


def test_every_post_form_renders_a_csrf_token(customer, admin_user, orders_of_a) -> None:
    customer_client, admin_client, visitor = Client(), Client(), Client()
    customer_client.force_login(customer)
    admin_client.force_login(admin_user)
    with_forms: set[str] = set()
    for route in site_routes():
        values = route_values(route, customer=customer, orders_of_a=orders_of_a)
        for client in (admin_client,) if route.is_admin else (customer_client, visitor):
            for pk in (orders_of_a.awaiting.pk, orders_of_a.completed.pk) if "pk" in route.params else (None,):
                url = route.url(**{**values, "pk": pk})
                response = client.get(url, follow=True)
                if response.status_code != 200 or "text/html" not in response["Content-Type"]:
                    continue
                parser = PostForms()
                parser.feed(response.content.decode())
                assert all(parser.forms), f"a POST form on {url} has no csrfmiddlewaretoken"
                if parser.forms:
                    with_forms.add(route.name or route.route)
    expected = {
        "order-new",
        "order-detail",
        "orders",
        "api-page",
        "signup",
        "login",
        "password_change",
        "password_reset",
        "password_reset_confirm",
        "auth_user_balance",
        "shop_provider_change",
        "shop_provider_add",
        "auth_user_change",
        "shop_order_changelist",
    }
    assert expected <= with_forms, expected - with_forms
