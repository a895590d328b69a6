"""The Content-Security-Policy (django-csp): the shop's own scripts and styles only, no inline script anywhere;
the admin's theme gets eval and inline styles on /admin/ only."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.parametrize("name", ["home", "services", "login", "signup", "service-updates"])
def test_customer_pages_allow_only_the_shops_own_scripts_and_styles(client, name) -> None:
    policy = directives(client.get(reverse(name), follow=True))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'self'"]


def test_a_signed_in_customers_page_has_no_inline_script(client, customer) -> None:
    client.force_login(customer)
    response = client.get(reverse("order-new"))
    assert directives(response)["script-src"] == ["'self'"]
    html = response.content.decode()
    # Every script is a file of the shop's (a JSON data block is not run).
    inline = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag and "application/json" not in tag]
    assert inline == [] and " onclick=" not in html and "javascript:" not in html
    assert html.count("<script") >= 2  # the page has scripts, each a file


def test_the_admin_gets_its_themes_two_exceptions_and_no_inline_script(admin_client) -> None:
    policy = directives(admin_client.get(reverse("admin:index")))
    assert policy["script-src"] == ["'self'", "'unsafe-eval'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["default-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]


def test_a_page_that_only_starts_with_admin_gets_the_strict_policy(client) -> None:
    response = client.get("/administrator/")
    assert directives(response)["script-src"] == ["'self'"]
