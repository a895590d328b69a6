"""The reseller API's hand-written SQL: the status reply PostgreSQL writes is the one Python builds, for every kind of order and id."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop.models import LedgerEntry, Order, OrderStatus
from shop.orders.placement import order_place
from shop.reseller_api.handlers import EncodedReply, _ids, do_status_many, status_many_reply
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/abc"


def ordered(reply: object) -> object:
    """A reply as nested lists of (name, value) pairs: equal only with the same members in the same order."""
    text = reply if isinstance(reply, str) else json.dumps(reply)
    return json.loads(text, object_pairs_hook=list)


@pytest.fixture
def orders(catalogue, customer) -> list[Order]:
    """The customer's orders in every status and with every kind of figure, and another customer's order."""
    shapes = []
    for n, status in enumerate(OrderStatus.CUSTOMER_LABELS):
        shapes.append(
            {
                "status": status,
                "remains": [None, -5, 0, 250, 1000, 2000][n % 6],
                "start_count": [None, 0, 123][n % 3],
                "refunded": [Decimal("0"), Decimal("0.5000"), Decimal("1.1700")][n % 3],
                "posts_done": None,
            }
        )
    shapes += [{"status": "active", "posts_done": 0}, {"status": "completed", "posts_done": 7, "refunded": Decimal("0.0001")}]
    made = []
    for shape in shapes:
        order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
        Order.objects.filter(pk=order.pk).update(**shape)
        made.append(order)
    someone = UserFactory()
    wallet_credit(user=someone, amount=Decimal("10"), kind=LedgerEntry.Kind.DEPOSIT)
    made.append(order_place(user=someone, service=catalogue["1"], link=LINK, quantity=1000))
    return made


def texts(orders: list[Order]) -> st.SearchStrategy[str]:
    """Ids as resellers send them: their own, with leading zeros, another customer's, and text that names no order."""
    own = [str(order.pk) for order in orders]
    return st.sampled_from(
        [*own, f"00{own[0]}", "0", "abc", "١٢", "²", "12a", "99999999999999999", "123456789012345678", "-1", "1.0", '\u02bc"\\']
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the reply is written by PostgreSQL")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_status_reply_written_by_postgresql_is_the_one_python_builds(data, orders, customer) -> None:
    listed = ",".join(data.draw(st.lists(texts(orders), min_size=1, max_size=100)))
    encoded = do_status_many(customer, {"orders": listed})
    assert isinstance(encoded, EncodedReply)
    assert ordered(encoded) == ordered(status_many_reply(customer, _ids(listed)))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the reply is written by PostgreSQL")
def test_every_kind_of_order_is_in_the_compared_replies(orders, customer) -> None:
    """The comparison above is worth something only if both replies show every branch: each status, subscriptions, errors."""
    reply = json.loads(do_status_many(customer, {"orders": ",".join(str(order.pk) for order in orders)}))
    shown = list(reply.values())
    assert {answer.get("status") for answer in shown} >= set(OrderStatus.CUSTOMER_LABELS.values())
    assert {answer["remains"] for answer in shown if "remains" in answer} == {"0", "250", "1000"}
    assert {answer["posts"] for answer in shown if "posts" in answer} == {"0", "7"}
    assert {answer["charge"] for answer in shown[:-1]} == {"1.1700", "0.6700", "0.0000", "1.1699"}
    assert shown[-1] == {"error": "Incorrect order ID"}  # the other customer's


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the reply is written by PostgreSQL")
def test_ids_that_name_no_order_are_named_in_json_as_sent(orders, customer) -> None:
    sent = [str(orders[0].pk), "1\x002", 'say "hi"\\', "\u0661", str(orders[0].pk)]
    reply = json.loads(do_status_many(customer, {"orders": ",".join(sent)}))
    assert list(reply) == sent[:4]  # the repeat answered once, where it first came
    assert reply[str(orders[0].pk)]["status"] == "Pending"
    assert all(reply[text] == {"error": "Incorrect order ID"} for text in sent[1:4])


# The key read with what the call needs (one round trip) ------------------------------------------


def key_hash_of(user) -> str:
    from shop.reseller_api.keys import _digest, api_key_issue

    return _digest(api_key_issue(user=user))


@pytest.mark.postgres
def test_the_orders_read_with_the_key_are_the_ones_status_texts_reads(orders, customer, django_assert_num_queries) -> None:
    from shop.reseller_api.queries import key_owner, key_owner_with_status_texts, status_texts

    digest = key_hash_of(customer)
    ids = {order.pk for order in orders} | {0, 99999999999}
    labels = OrderStatus.CUSTOMER_LABELS
    with django_assert_num_queries(1):
        owner, read = key_owner_with_status_texts(key_hash=digest, order_ids=ids, labels=labels, currency="USD")
    assert owner == key_owner(key_hash=digest) and owner[3] == customer.pk
    assert read == status_texts(user_id=customer.pk, order_ids=ids, labels=labels, currency="USD")
    assert len(read) == len(orders) - 1  # not the other customer's
    # No order among the ids (or none at all): the owner still comes, with nothing read.
    assert key_owner_with_status_texts(key_hash=digest, order_ids={orders[-1].pk}, labels=labels, currency="USD") == (owner, {})
    assert key_owner_with_status_texts(key_hash=digest, order_ids=set(), labels=labels, currency="USD") == (owner, {})
    # No such key: nothing at all.
    assert key_owner_with_status_texts(key_hash="0" * 64, order_ids=ids, labels=labels, currency="USD") == (None, {})


@pytest.mark.postgres
def test_a_single_status_read_with_the_key_is_the_reply_python_builds(orders, customer) -> None:
    from shop.reseller_api.handlers import do_status, read_status

    key_hash = key_hash_of(customer)
    for order in orders[:-1]:
        params = {"order": str(order.pk)}
        owner, read = read_status(params)(key_hash)
        assert owner[3] == customer.pk
        encoded = do_status(customer, params, read)
        assert isinstance(encoded, EncodedReply)
        assert ordered(encoded) == ordered(do_status(customer.__class__.objects.get(pk=customer.pk), {"order": f" {order.pk}"}))
    assert read_status({"order": str(orders[-1].pk)})(key_hash)[1] == {}  # another customer's order


def service_facts(service) -> tuple:
    """What placing an order reads of a service, as ``service_for_order`` hangs it on the instance."""
    upstream = service.provider_service
    return (
        service.pk,
        *(getattr(service, name) for name in ("name", "is_enabled", "markup_percent", "fixed_rate", "min_quantity", "max_quantity")),
        service.category.is_visible,
        service.category.markup_percent,
        *(getattr(upstream, name) for name in ("provider_id", "type", "rate", "min_quantity", "max_quantity", "dripfeed", "is_available")),
        upstream.provider.is_active,
        upstream.provider.exchange_rate,
        service.default_markup,
        service.one_order_per_link,
        service.prices,
    )


@pytest.mark.postgres
def test_the_service_read_with_the_key_is_the_one_service_for_order_reads_with_the_customers_prices(
    catalogue, customer, django_assert_num_queries
) -> None:
    from shop.models import CustomerPrice
    from shop.orders.queries import service_for_order
    from shop.reseller_api.queries import key_owner, key_owner_with_service

    service, other = catalogue["1"], catalogue["2"]
    digest = key_hash_of(customer)
    someone = UserFactory()

    def read() -> tuple:
        with django_assert_num_queries(1):
            owner, found = key_owner_with_service(key_hash=digest, service_id=service.pk)
        assert owner == key_owner(key_hash=digest)
        assert [service_facts(loaded) for loaded in found] == [service_facts(service_for_order(service_id=service.pk, user_id=customer.pk))]
        return found[0].prices

    assert read().discount_percent is None
    CustomerPrice.objects.create(user=someone, discount_percent=Decimal("50"))  # another customer's
    CustomerPrice.objects.create(user=customer, service=other, fixed_rate=Decimal("0.5"))  # another service's
    assert read().discount_percent is None and not read().fixed_rates
    CustomerPrice.objects.create(user=customer, discount_percent=Decimal("12.5"))
    CustomerPrice.objects.create(user=customer, service=service, fixed_rate=Decimal("0.123456"))
    assert read().fixed_rates == {service.pk: Decimal("0.123456")} and read().discount_percent == Decimal("12.50")
    assert key_owner_with_service(key_hash=digest, service_id=999999) == (key_owner(key_hash=digest), [])
    assert key_owner_with_service(key_hash="0" * 64, service_id=service.pk) == (None, [])
