"""Admin for the retail catalogue and for orders, including the needs-attention queue."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from panelapi.sandbox import Fault
from shop.models import LedgerEntry, Order, OrderStatus, ProviderService, Service
from shop.orders.placement import order_place
from shop.orders.submission import order_submit
from tests.helpers import messages_of, order_row

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/abc"


@pytest.fixture
def attention_order(catalogue, customer, sandbox) -> Order:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    sandbox.panel.add_fault(Fault(kind="drop", action="add", process=True))
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.NEEDS_ATTENTION
    return order


def test_service_list_shows_provider_and_retail_rates(admin_client, catalogue) -> None:
    html = admin_client.get(reverse("admin:shop_service_changelist")).content.decode()
    assert "0.9 USD" in html  # provider rate of service 1
    assert "1.170000" in html  # x 1.30 default markup


def test_service_form_refuses_to_widen_the_providers_limits(admin_client, catalogue) -> None:
    service = catalogue["1"]
    form = {
        "provider_service": service.provider_service_id,
        "category": service.category_id,
        "name": service.name,
        "position": 0,
        "is_enabled": "on",
        "min_quantity": "10",
        "max_quantity": "20000",
    }
    response = admin_client.post(reverse("admin:shop_service_change", args=[service.pk]), form)
    html = response.content.decode()
    assert "Can only narrow the provider&#x27;s min of 50." in html
    assert "Can only narrow the provider&#x27;s max of 10000." in html
    service.refresh_from_db()
    assert service.min_quantity is None


def test_offer_in_shop_action_creates_retail_services_once(admin_client, provider) -> None:
    from shop.catalogue.sync import catalogue_sync

    catalogue_sync(provider=provider)
    ids = list(ProviderService.objects.values_list("pk", flat=True)[:3])
    url = reverse("admin:shop_providerservice_changelist")
    admin_client.post(url, {"action": "offer_in_shop", "_selected_action": ids})
    admin_client.post(url, {"action": "offer_in_shop", "_selected_action": ids})
    assert Service.objects.count() == 3


def test_needs_attention_order_can_be_given_its_upstream_id(admin_client, attention_order) -> None:
    url = reverse("admin:shop_order_change", args=[attention_order.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="record_upstream_id"' in page
    admin_client.post(url, {"record_upstream_id": "10001"})
    attention_order.refresh_from_db()
    assert (attention_order.status, attention_order.upstream_order_id) == (OrderStatus.PENDING, "10001")
    assert 'name="record_upstream_id"' not in admin_client.get(url).content.decode()


def test_declare_not_placed_action_refunds_once(admin_client, attention_order) -> None:
    url = reverse("admin:shop_order_changelist")
    for _ in range(2):
        admin_client.post(url, {"action": "declare_not_placed", "_selected_action": [attention_order.pk]})
    attention_order.refresh_from_db()
    assert attention_order.status == OrderStatus.FAILED
    refunds = LedgerEntry.objects.filter(order=attention_order, kind=LedgerEntry.Kind.REFUND)
    assert list(refunds.values_list("amount", flat=True)) == [attention_order.charge]


def test_order_list_filters_by_status_and_searches_by_link(admin_client, attention_order) -> None:
    url = reverse("admin:shop_order_changelist")
    assert f">{attention_order.pk}<" in admin_client.get(url, {"status__exact": "needs_attention"}).content.decode()
    assert "0 orders" in admin_client.get(url, {"status__exact": "completed"}).content.decode()
    assert LINK in admin_client.get(url, {"q": LINK}).content.decode()


def test_provider_below_its_threshold_is_flagged(admin_client, provider) -> None:
    provider.balance = Decimal("10")
    provider.balance_threshold = Decimal("50")
    provider.save()
    assert "LOW: new orders wait" in admin_client.get(reverse("admin:shop_provider_changelist")).content.decode()


@pytest.mark.parametrize(
    ("query", "said"),
    [
        # Issue 17: a 500 on PostgreSQL; on SQLite the list found nothing and said nothing.
        ({"status__exact": "a\x00b"}, "the filter status__exact='a\\x00b' contains a NUL character."),
        # Issue 17: a 500 on both databases (a year Python's dates cannot hold).
        (
            {"created_at__year": "99999999999"},
            "the filter created_at__year='99999999999' could not be applied. A value is out of range, or not of the kind the field holds.",
        ),
        ({"created_at__year": "2024", "created_at__month": "12", "created_at__day": str(2**64)}, "could not be applied."),
        ({"user__id__exact": "abc"}, "the filter user__id__exact='abc' could not be applied. Not a customer id: 'abc'."),
    ],
    ids=["nul", "year", "day", "customer"],
)
def test_order_list_with_a_bad_filter_shows_every_order_and_says_why(admin_client, customer, query, said) -> None:
    order = order_row(customer)
    url = reverse("admin:shop_order_changelist")
    response = admin_client.get(url, query, follow=True)
    assert response.redirect_chain == [(f"{url}?e=1", 302)]
    assert list(response.context["cl"].result_list) == [order]
    (message,) = messages_of(response)
    assert message.startswith("The whole list is shown: ") and said in message, message


def test_order_search_sends_at_most_ten_words_to_the_database(admin_client, customer) -> None:
    """Issue 17: a search of 500 words took 37 s on 300,000 orders; each word is an OR over every search field."""
    order = order_row(customer, link="https://instagram.com/p/zq001")
    words = [f"zq{number:03d}" for number in range(1, 501)]  # none is part of another
    url = reverse("admin:shop_order_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url, {"q": " ".join(words)})
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert [word for word in words if word in sql] == words[:10]
    assert messages_of(response) == ["The search used its first 10 words; the other 490 were ignored."]
    assert response.context["cl"].query == " ".join(words[:10])  # what the search box shows
    assert list(response.context["cl"].result_list) == []  # every word must match: zq002 does not
    single = admin_client.get(url, {"q": "zq001"})
    assert list(single.context["cl"].result_list) == [order] and messages_of(single) == []
