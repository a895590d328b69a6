"""Ids and page numbers as people type them: only ASCII digits name a number, and odd digits never give an error page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from shop.core import forms as core_forms
from shop.core.numbers import DIGITS_ONLY, id_number, other_digits
from shop.models import Order
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


# Issue 17: the same rule for every number a customer types, not only ids.
OTHER_SCRIPTS = ["\u0665\u0660", "\uff15\uff10", "5\u0660", "\u00b9\u2070\u2070"]  # Arabic-Indic 50, fullwidth 50, mixed, superscript 100


@pytest.mark.parametrize("text", OTHER_SCRIPTS)
def test_other_scripts_digits_are_noticed(text) -> None:
    assert other_digits(text)


@pytest.mark.parametrize("text", ["50", "-5", "1.5", "", "abc", 50])
def test_ascii_numbers_and_words_hold_no_other_digits(text) -> None:
    assert not other_digits(text)


@pytest.mark.parametrize("text", OTHER_SCRIPTS)
def test_form_number_fields_refuse_other_digits_with_a_message(text) -> None:
    for field in (core_forms.IntegerField(), core_forms.DecimalField(max_digits=10, decimal_places=2)):
        with pytest.raises(ValidationError) as refused:
            field.clean(text)
        assert refused.value.messages == [DIGITS_ONLY]
    assert core_forms.IntegerField().clean(" 50 ") == 50
    assert core_forms.DecimalField(max_digits=10, decimal_places=2).clean("1.50") == Decimal("1.50")


@pytest.mark.django_db
@pytest.mark.parametrize("text", OTHER_SCRIPTS[:2])
def test_order_quantity_in_other_digits_is_refused_on_the_web_and_in_the_api(web, call, catalogue, customer, text) -> None:
    service = catalogue["1"]
    page = web.post("/order/", {"service": service.pk, "link": "https://instagram.com/p/x", "quantity": text})
    assert page.status_code == 400 and "digits 0 to 9" in page.content.decode()
    assert call(action="add", service=str(service.pk), link="https://instagram.com/p/x", quantity=text) == {
        "error": "Quantity: write numbers with the digits 0 to 9."
    }
    assert not Order.objects.filter(user=customer).exists()


@pytest.mark.django_db
def test_the_order_forms_service_in_other_digits_is_refused(web, catalogue) -> None:
    page = web.post("/order/", {"service": "\u0661", "link": "https://instagram.com/p/x", "quantity": "100"})
    assert page.status_code == 400 and not Order.objects.exists()
