"""The authorisation matrix: customer B can neither see nor act on anything of customer A's, and customers stay out of admin.

Proves, for every shop URL that takes an object id (found by walking the
URLconf, so a new one fails the check until it is covered) and for every API
action that takes an id, in its single and multiple forms: B gets 404 or
"Incorrect order ID" / "Refill not found", nothing of A's changes and no
upstream call is made. A non-staff customer gets a redirect to the admin login
from every admin URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from shop.reseller_api.keys import api_key_issue
from tests.security.conftest import database_snapshot, site_routes

pytestmark = pytest.mark.django_db
INCORRECT_ORDER = {"error": "Incorrect order ID"}
REFILL_NOT_FOUND = {"error": "Refill not found"}
# Shop routes with an id, and why B cannot use A's: the reset and activation links' tokens prove the user (their own tests cover them).
ID_ROUTES = {"order-detail", "order-refill", "order-cancel"}
TOPUP_ROUTES = {"topup-detail", "topup-status"}
TICKET_ROUTES = {"ticket-detail", "ticket-close"}
# Not a customer's object: a signed link from a mail, a gateway's notification (verified by its signature), a public referral link.
NOT_OWNED = {
    "password_reset_confirm",
    "account_reset_password_from_key",
    "account_confirm_email",
    "payment-notify",
    "referral-landing",
}


@pytest.fixture
def web_b(client, shopper_b):
    client.force_login(shopper_b)
    return client


@pytest.fixture
def api_b(client, shopper_b):
    key = api_key_issue(user=shopper_b)

    def call(**params: str) -> object:
        response = client.post("/api/v2", {"key": key, **params})
        assert response.status_code == 200
        return response.json()

    return call


def test_every_shop_route_with_an_id_is_in_the_matrix() -> None:
    with_ids = {route.name for route in site_routes() if route.params and not route.is_admin}
    assert with_ids == ID_ROUTES | TOPUP_ROUTES | TICKET_ROUTES | NOT_OWNED


def test_b_gets_404_on_every_page_and_button_of_a_s_tickets_and_does_not_see_them_listed(web_b, customer, orders_of_a) -> None:
    from shop.support.services import ticket_open, ticket_reply

    ticket = ticket_open(user=customer, subject="A-SECRET-SUBJECT", category="order", body="A's words", order_ids=[orders_of_a.running.pk])
    ticket_reply(ticket=ticket, author=customer, body="More of A's words", by_staff=False)
    before = database_snapshot()
    for route in (route for route in site_routes() if route.name in TICKET_ROUTES):
        url = route.url(pk=ticket.pk)
        answers = {web_b.get(url).status_code, web_b.post(url, {"message": "B was here"}).status_code}
        assert 404 in answers and answers <= {404, 405}, (url, answers)
    assert "A-SECRET-SUBJECT" not in web_b.get(reverse("tickets")).content.decode()
    # B cannot name A's order in a ticket of their own either: refused, nothing written.
    refused = web_b.post(
        reverse("ticket-new"), {"subject": "s", "category": "order", "orders": str(orders_of_a.running.pk), "message": "m"}
    )
    assert refused.status_code == 200 and "Not one of your orders" in refused.content.decode()
    assert database_snapshot() == before


def test_b_gets_404_on_a_s_top_ups_and_does_not_see_them_in_the_history(web_b, customer) -> None:
    from shop.models import PaymentMethod, TopUp

    method = PaymentMethod.objects.create(code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank", is_enabled=True, currency="USD")
    topup = TopUp.objects.create(user=customer, method=method, amount=25, currency="USD", state="review", reference="A-REF-77")
    before = database_snapshot()
    for route in (route for route in site_routes() if route.name in TOPUP_ROUTES):
        url = route.url(public_id=topup.public_id)
        answers = {web_b.get(url).status_code, web_b.post(url).status_code}
        assert 404 in answers and answers <= {404, 405}, (url, answers)
    history = web_b.get(reverse("topups")).content.decode()
    assert str(topup.public_id) not in history and "A-REF-77" not in history
    assert database_snapshot() == before


def test_b_gets_404_on_every_page_and_button_of_a_s_orders(web_b, orders_of_a, upstream_calls) -> None:
    before, calls = database_snapshot(), upstream_calls()
    routes = [route for route in site_routes() if route.name in ID_ROUTES]
    for order in orders_of_a.all:
        for route in routes:
            url = route.url(pk=order.pk)
            answers = {web_b.get(url).status_code, web_b.post(url).status_code}
            # A method a route does not take is a 405 that reads nothing; each one it takes (GET, POST or both) is a 404.
            assert 404 in answers and answers <= {404, 405}, (url, answers)
    assert database_snapshot() == before
    assert upstream_calls() == calls


def test_b_does_not_see_a_s_orders_in_lists_searches_and_live_status(web_b, orders_of_a) -> None:
    ids = [order.pk for order in orders_of_a.all]
    status = web_b.get(reverse("orders-status"), {"ids": ",".join(map(str, ids))})
    assert status.json() == {"orders": {}}
    for query in [{}, *({"q": f"#{pk}"} for pk in ids), *({"q": str(pk)} for pk in ids), {"q": "instagram.com"}]:
        html = web_b.get(reverse("orders"), query).content.decode()
        assert not any(f"#{pk}<" in html or reverse("order-detail", args=[pk]) in html for pk in ids), query
    balance = web_b.get(reverse("balance")).content.decode()
    assert not any(f"order #{pk}" in balance for pk in ids)


def test_b_gets_incorrect_order_id_from_every_api_action_on_a_s_orders(api_b, orders_of_a, upstream_calls) -> None:
    assert api_b(action="balance") == {"balance": "50.0000", "currency": "USD"}  # B's key is in use from here on
    before, calls = database_snapshot(), upstream_calls()
    for order in orders_of_a.all:
        pk = str(order.pk)
        assert api_b(action="status", order=pk) == INCORRECT_ORDER
        assert api_b(action="refill", order=pk) == INCORRECT_ORDER
        assert api_b(action="cancel", order=pk) == INCORRECT_ORDER
    ids = [str(order.pk) for order in orders_of_a.all]
    joined = ",".join(ids)
    assert api_b(action="status", orders=joined) == dict.fromkeys(ids, INCORRECT_ORDER)
    assert api_b(action="refill", orders=joined) == [{"order": int(pk), "refill": INCORRECT_ORDER} for pk in ids]
    assert api_b(action="cancel", orders=joined) == [{"order": int(pk), "cancel": INCORRECT_ORDER} for pk in ids]
    refill = str(orders_of_a.refill.pk)
    assert api_b(action="refill_status", refill=refill) == REFILL_NOT_FOUND
    assert api_b(action="refill_status", refills=refill) == [{"refill": int(refill), "status": REFILL_NOT_FOUND}]
    assert database_snapshot() == before
    assert upstream_calls() == calls


def test_a_still_reaches_the_same_orders(client, customer, orders_of_a) -> None:
    """The control: the ids B was refused are real and A's own."""
    client.force_login(customer)
    for order in orders_of_a.all:
        assert client.get(reverse("order-detail", args=[order.pk])).status_code == 200
    key = api_key_issue(user=customer)
    reply = client.post("/api/v2", {"key": key, "action": "status", "order": orders_of_a.running.pk}).json()
    assert reply["status"] == "Pending"
    reply = client.post("/api/v2", {"key": key, "action": "refill_status", "refill": orders_of_a.refill.pk}).json()
    assert "error" not in reply


def test_customers_are_sent_to_the_admin_login_from_every_admin_url(web_b, customer, orders_of_a) -> None:
    login, before = reverse("admin:login"), database_snapshot()
    for route in site_routes():
        if not route.is_admin or route.name in {"login", "logout"}:
            continue
        url = route.url(object_id=customer.pk, id=customer.pk, content_type_id=1)
        for response in (web_b.get(url), web_b.post(url, {"amount": "10", "direction": "credit", "reason": "x"})):
            assert response.status_code == 302, (url, response.status_code)
            assert urlsplit(response["Location"]).path == login, url
    assert database_snapshot() == before
