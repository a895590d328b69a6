"""The order form's one-time token: a form sent twice (double click, Back and resend) places one order and charges once."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse

from shop.models import LedgerEntry, Order, Wallet
from shop.orders.models import OrderEvent
from shop.wallet.selectors import ledger_differences
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory

LINK = "https://instagram.com/p/abc"
CHARGE = Decimal("1.1700")  # service 1: 1000 x 0.90 x 1.30 / 1000
TOKEN_INPUT = re.compile(r'<input type="hidden" name="form_token" value="([^"]*)"')


def form_token(html: str) -> str:
    (token,) = TOKEN_INPUT.findall(html)
    return token


def rendered_token(web, service) -> str:
    """The token of the order form as the page renders it."""
    response = web.get(reverse("order-new"), {"service": service.pk})
    assert response.status_code == 200
    return form_token(response.content.decode())


def order_form(service, token: str | None) -> dict[str, object]:
    data: dict[str, object] = {"service": service.pk, "link": LINK, "quantity": "1000"}
    if token is not None:
        data["form_token"] = token
    return data


def charges(user) -> int:
    return LedgerEntry.objects.filter(wallet__user=user, kind=LedgerEntry.Kind.ORDER_CHARGE).count()


def balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


@pytest.mark.django_db
def test_each_rendering_of_the_form_has_its_own_token(web, catalogue) -> None:
    first, second = rendered_token(web, catalogue["1"]), rendered_token(web, catalogue["1"])
    assert len(first) == 36 and first != second


@pytest.mark.django_db
def test_the_same_form_sent_twice_places_one_order_and_the_second_lands_on_it(web, catalogue, customer) -> None:
    token = rendered_token(web, catalogue["1"])

    first = web.post(reverse("order-new"), order_form(catalogue["1"], token), follow=True)  # its page shows its message
    order = Order.objects.get(user=customer)
    assert first.redirect_chain == [(reverse("order-detail", args=[order.pk]), 302)]

    second = web.post(reverse("order-new"), order_form(catalogue["1"], token))
    assert (second.status_code, second["Location"]) == (302, reverse("order-detail", args=[order.pk]))
    said = [str(message) for message in get_messages(second.wsgi_request)]
    assert said == [f"This form was already sent: it placed order #{order.pk}. Nothing more was charged."]

    assert Order.objects.filter(user=customer).count() == 1
    assert str(order.form_token) == token
    assert charges(customer) == 1 and balance(customer) == Decimal("100") - CHARGE
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.PLACED).count() == 1
    assert ledger_differences() == []


@pytest.mark.django_db
def test_the_message_of_a_resent_form_is_shown_on_the_first_orders_page(web, catalogue, customer) -> None:
    token = rendered_token(web, catalogue["1"])
    web.post(reverse("order-new"), order_form(catalogue["1"], token), follow=True)
    response = web.post(reverse("order-new"), order_form(catalogue["1"], token), follow=True)
    order = Order.objects.get(user=customer)
    assert response.redirect_chain == [(reverse("order-detail", args=[order.pk]), 302)]
    assert f"This form was already sent: it placed order #{order.pk}." in response.content.decode()


@pytest.mark.django_db
def test_another_customers_use_of_the_same_token_is_their_own_order(web, client, catalogue, customer) -> None:
    token = rendered_token(web, catalogue["1"])
    web.post(reverse("order-new"), order_form(catalogue["1"], token))
    other = UserFactory()
    wallet_credit(user=other, amount=Decimal("10"), kind=LedgerEntry.Kind.DEPOSIT)
    other_client = Client()
    other_client.force_login(other)

    other_client.post(reverse("order-new"), order_form(catalogue["1"], token))

    assert Order.objects.filter(user=customer).count() == Order.objects.filter(user=other).count() == 1


def click_at_once(browsers: list[Client], data: dict[str, object]) -> list[tuple[int, str]]:
    """Each browser posts ``data`` to the order form at the same moment, from its own thread; where each landed."""
    start = threading.Barrier(len(browsers))
    landed: list[tuple[int, str]] = []
    failures: list[BaseException] = []

    def click(browser: Client) -> None:
        start.wait()
        try:
            response = browser.post(reverse("order-new"), data)
            landed.append((response.status_code, response.get("Location", "")))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(browser,)) for browser in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return landed


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_click_posting_the_same_form_at_once_places_one_order(catalogue, customer, monkeypatch) -> None:
    import shop.orders.placement as placement

    queued: list[int] = []
    monkeypatch.setattr(placement, "_enqueue_submit", queued.append)
    browsers = [Client(), Client()]
    for browser in browsers:
        browser.force_login(customer)
    rounds = 5  # fresh tokens: each round is its own race

    for _ in range(rounds):
        token = rendered_token(browsers[0], catalogue["1"])
        landed = click_at_once(browsers, order_form(catalogue["1"], token))
        order = Order.objects.get(user=customer, form_token=token)
        assert landed == [(302, reverse("order-detail", args=[order.pk]))] * len(browsers)

    assert Order.objects.filter(user=customer).count() == rounds
    assert charges(customer) == rounds
    assert balance(customer) == Decimal("100") - rounds * CHARGE
    assert OrderEvent.objects.filter(order__user=customer, kind=OrderEvent.Kind.PLACED).count() == rounds
    assert sorted(queued) == sorted(Order.objects.filter(user=customer).values_list("pk", flat=True))  # each queued once
    assert ledger_differences() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    [
        None,  # an old page, or a client that sends no token
        "",
        "not-a-token",
        "12345678-1234-1234-1234-12345678",  # cut short
        pytest.param("x" * 65, id="65x"),  # longer than any token
        pytest.param("x" * 5000, id="5000x"),
        pytest.param("bad\x00token", id="NUL"),  # a NUL, which no text field takes
    ],
)
def test_a_form_without_a_usable_token_still_places_an_order_each_time(web, catalogue, customer, token: str | None) -> None:
    responses = [web.post(reverse("order-new"), order_form(catalogue["1"], token)) for _ in range(2)]

    orders = list(Order.objects.filter(user=customer).order_by("pk"))
    assert [(r.status_code, r["Location"]) for r in responses] == [(302, reverse("order-detail", args=[o.pk])) for o in orders]
    assert len(orders) == 2 and {order.form_token for order in orders} == {None}
    assert charges(customer) == 2 and balance(customer) == Decimal("100") - 2 * CHARGE


@pytest.mark.django_db
def test_a_form_refused_for_lack_of_funds_keeps_its_token_for_the_corrected_resubmission(client, catalogue) -> None:
    poor = UserFactory()
    wallet_credit(user=poor, amount=Decimal("1"), kind=LedgerEntry.Kind.DEPOSIT)
    client.force_login(poor)
    token = rendered_token(client, catalogue["1"])

    refused = client.post(reverse("order-new"), order_form(catalogue["1"], token))
    assert refused.status_code == 400 and "Not enough funds on balance" in refused.content.decode()
    assert form_token(refused.content.decode()) == token  # the page shown again is the same form
    assert not Order.objects.filter(user=poor).exists()

    wallet_credit(user=poor, amount=Decimal("5"), kind=LedgerEntry.Kind.DEPOSIT)
    placed = client.post(reverse("order-new"), order_form(catalogue["1"], token))
    order = Order.objects.get(user=poor)
    assert (placed.status_code, placed["Location"]) == (302, reverse("order-detail", args=[order.pk]))
    assert str(order.form_token) == token
    assert charges(poor) == 1 and balance(poor) == Decimal("6") - CHARGE


@pytest.mark.django_db
def test_a_form_refused_for_its_quantity_keeps_its_token_for_the_corrected_resubmission(web, catalogue, customer) -> None:
    token = rendered_token(web, catalogue["1"])

    refused = web.post(reverse("order-new"), {**order_form(catalogue["1"], token), "quantity": "10"})
    assert refused.status_code == 400 and "Quantity less than minimal 50" in refused.content.decode()
    assert form_token(refused.content.decode()) == token

    placed = web.post(reverse("order-new"), order_form(catalogue["1"], token))
    assert placed.status_code == 302
    assert Order.objects.get(user=customer).form_token is not None and charges(customer) == 1
