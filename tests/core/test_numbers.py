"""Ids and page numbers as people type them: only ASCII digits name a number, and odd digits never give an error page."""

from __future__ import annotations

import pytest

from shop.core.numbers import id_number
from tests.factories import UserFactory

# Superscript two passes str.isdigit() but int() refuses it; int() reads Arabic-Indic and fullwidth digits.
ODD_DIGITS = ["\u00b2", "\u0661\u0662", "\uff11\uff12", "12\u00b2"]


@pytest.mark.parametrize(("text", "number"), [("7", 7), ("007", 7), ("9" * 17, int("9" * 17)), (12, 12)])
def test_ascii_digits_name_their_number(text, number) -> None:
    assert id_number(text) == number


@pytest.mark.parametrize("text", ["", " 7", "-7", "7.0", "1e3", "9" * 18, *ODD_DIGITS])
def test_anything_else_names_nothing(text) -> None:
    assert id_number(text) is None


@pytest.mark.django_db
@pytest.mark.parametrize("odd", ODD_DIGITS)
def test_customer_pages_take_odd_digits_as_text(client, odd) -> None:
    client.force_login(UserFactory())
    for url in ["/services/", "/orders/", "/balance/", "/order/"]:
        response = client.get(url, {"q": odd, "page": odd, "service": odd})
        assert response.status_code == 200, url
    assert client.get("/orders/status.json", {"ids": f"{odd},1"}).json() == {"orders": {}}


@pytest.mark.django_db
def test_admin_customer_filter_refuses_odd_digits_without_an_error_page(admin_client) -> None:
    response = admin_client.get("/admin/shop/order/", {"user__id__exact": "²"})
    assert response.status_code == 302 and "e=1" in response["Location"]
