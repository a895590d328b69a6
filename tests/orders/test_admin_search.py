"""The admin's order search: by number, provider order id, any part of the link or of the customer's name (issue 16)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from shop.models import Order
from shop.orders import selectors
from shop.orders.selectors import orders_matching
from tests.factories import UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders():
    alice, bob = UserFactory(username="alice_smm"), UserFactory(username="bobreseller")
    return {
        "a": order_row(alice, link="https://www.instagram.com/p/CxYz123/", upstream_order_id="90001"),
        "b": order_row(bob, link="https://www.tiktok.com/@dancer/video/7301", upstream_order_id="90002"),
        "c": order_row(bob, link="https://youtube.com/watch?v=Q1w2E3", upstream_order_id=None),
    }


def found(*words: str) -> set[int]:
    return set(orders_matching(orders=Order.objects.all(), words=words).values_list("pk", flat=True))


def test_by_number_with_or_without_a_hash(orders) -> None:
    assert found(str(orders["b"].pk)) >= {orders["b"].pk}
    assert found(f"#{orders['c'].pk}") == {orders["c"].pk}


def test_by_the_providers_order_id(orders) -> None:
    assert found("90002") == {orders["b"].pk}


def test_by_any_part_of_the_link_in_any_case(orders) -> None:
    assert found("cxyz12") == {orders["a"].pk}
    assert found("TIKTOK.COM/@dan") == {orders["b"].pk}
    assert found("https://youtube.com/watch?v=Q1w2E3") == {orders["c"].pk}


def test_by_any_part_of_the_customers_username(orders) -> None:
    assert found("RESELL") == {orders["b"].pk, orders["c"].pk}
    assert found("alice") == {orders["a"].pk}


def test_a_whole_link_matches_the_links_that_begin_with_it_in_any_case(orders) -> None:
    alice = orders["a"].user
    longer = order_row(alice, link="https://www.instagram.com/p/CxYz123/?igsh=abc")
    inside = order_row(alice, link="https://t.co/r?u=https://www.instagram.com/p/CxYz123/")
    assert found("HTTPS://www.instagram.com/p/cxyz123/") == {orders["a"].pk, longer.pk}
    assert inside.pk in found("instagram.com/p/CxYz123")  # a part of a link still matches anywhere in it
    assert found("https://www.instagram.com/p/Other/") == set()


def test_every_word_must_match(orders) -> None:
    assert found("bobreseller", "youtube") == {orders["c"].pk}
    assert found("alice", "youtube") == set()


def test_nothing_matches_nothing(orders) -> None:
    assert found("no-such-thing") == set()
    assert found("99999999999999999999") == set()  # past any id: not a number, and no link holds it


def test_a_word_matching_many_customers_is_matched_in_sql(orders, monkeypatch) -> None:
    monkeypatch.setattr(selectors, "SEARCH_CUSTOMERS_LISTED", 1)
    UserFactory(username="bob2")
    assert found("bob") == {orders["b"].pk, orders["c"].pk}


def test_the_admin_list_searches_this_way(admin_client, orders) -> None:
    response = admin_client.get(reverse("admin:shop_order_changelist"), {"q": "dancer"})
    assert [order.pk for order in response.context["cl"].result_list] == [orders["b"].pk]
    response = admin_client.get(reverse("admin:shop_order_changelist"), {"q": '"alice_smm"'})
    assert [order.pk for order in response.context["cl"].result_list] == [orders["a"].pk]


@pytest.mark.postgres
def test_each_way_of_matching_has_an_index_postgresql_can_use(orders) -> None:
    query = orders_matching(orders=Order.objects.order_by(), words=["tiktok"])
    with connection.cursor() as cursor:  # on a table this small the planner would rather read it all
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = query.explain()
    assert "order_link_trgm" in plan
    assert "order_upstream_id" in plan
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = orders_matching(orders=Order.objects.order_by(), words=["https://www.tiktok.com/@dancer"]).explain()
    assert "order_link_prefix" in plan
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT id FROM auth_user WHERE UPPER(username::text) LIKE UPPER('%bob%')")
        assert "user_username_trgm" in "\n".join(row[0] for row in cursor.fetchall())
