"""Placing orders: validation per service type, pricing, one transaction for money and order, and the order form's one-time token."""

from __future__ import annotations

import re
import threading
from decimal import Decimal
from uuid import uuid4

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse

from shop.models import LedgerEntry, Order, OrderStatus, ProviderService, Service, Wallet
from shop.orders.models import OrderEvent
from shop.orders.placement import AlreadyPlaced, OrderRejected, order_place, order_prepare
from shop.orders.types import TYPES, TypeSpec
from shop.wallet.selectors import ledger_differences
from shop.wallet.services import wallet_credit
from tests.factories import ProviderFactory, UserFactory
from tests.helpers import race, typed_service

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
    assert refused.status_code == 400 and "This costs 1.17 and your balance is 1.00." in refused.content.decode()
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
    assert refused.status_code == 400 and "The minimum for this service is 50." in refused.content.decode()
    assert form_token(refused.content.decode()) == token

    placed = web.post(reverse("order-new"), order_form(catalogue["1"], token))
    assert placed.status_code == 302
    assert Order.objects.get(user=customer).form_token is not None and charges(customer) == 1


pytestmark = pytest.mark.django_db


def test_default_order_debits_the_wallet_and_queues_submission_after_commit(
    catalogue, customer, django_capture_on_commit_callbacks
) -> None:
    service = catalogue["1"]  # 0.90 per 1000 upstream, 30% default markup
    with django_capture_on_commit_callbacks() as callbacks:
        order = order_place(user=customer, service=service, link=LINK, quantity=1500)

    assert order.status == OrderStatus.AWAITING
    assert (order.rate, order.charge, order.total_quantity) == (Decimal("1.17"), Decimal("1.7550"), 1500)
    assert balance(customer) == Decimal("98.2450")
    entry = LedgerEntry.objects.get(order=order)
    assert (entry.kind, entry.amount) == (LedgerEntry.Kind.ORDER_CHARGE, Decimal("-1.7550"))
    assert len(callbacks) == 1
    assert ledger_differences() == []


@pytest.mark.parametrize(
    ("type_", "fields", "quantity", "charge"),
    [
        ("Package", {}, 1, "2.0000"),
        ("Custom Comments", {"comments": "great\r\nnice\n\nwow"}, 3, "0.0060"),
        ("Custom Comments Package", {"comments": "a\nb"}, 1, "2.0000"),
        ("Mentions", {"quantity": 100, "usernames": "alice\nbob"}, 100, "0.2000"),
        ("Mentions with Hashtags", {"quantity": 100, "usernames": "alice", "hashtags": "#one\n#two"}, 100, "0.2000"),
        ("Mentions Custom List", {"usernames": "a1\na2\na3\na4\na5\na6\na7\na8\na9\na10"}, 10, "0.0200"),
        ("Mentions Hashtag", {"quantity": 100, "hashtag": "#sale"}, 100, "0.2000"),
        ("Mentions User Followers", {"quantity": 100, "username": "star"}, 100, "0.2000"),
        ("Mentions Media Likers", {"quantity": 100, "media": "https://instagram.com/p/media"}, 100, "0.2000"),
        ("Comment Likes", {"quantity": 100, "username": "commenter"}, 100, "0.2000"),
        ("Poll", {"quantity": 100, "answer_number": "2"}, 100, "0.2000"),
        ("Invites from Groups", {"quantity": 100, "groups": "https://t.me/a\nhttps://t.me/b"}, 100, "0.2000"),
        ("SEO", {"quantity": 100, "keywords": "best shoes\ncheap shoes"}, 100, "0.2000"),
    ],
)
def test_every_service_type_takes_its_own_fields(provider, customer, type_, fields, quantity, charge) -> None:
    low = 1 if type_ in {"Custom Comments", "Mentions Custom List"} else 10
    service = typed_service(provider, type_, low=low)
    order = order_place(user=customer, service=service, link=LINK, **fields)
    assert (order.quantity, order.charge) == (quantity, Decimal(charge))
    assert set(order.extra) == set(fields) - {"quantity"}


def test_drip_feed_charges_quantity_times_runs(provider, customer) -> None:
    service = typed_service(provider, "Default", dripfeed=True)
    order = order_place(user=customer, service=service, link=LINK, quantity=100, runs=5, interval=30)
    assert (order.total_quantity, order.charge, order.runs, order.interval) == (500, Decimal("1.0000"), 5, 30)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"quantity": 49}, "quantity", "Quantity less than minimal 50"),
        ({"quantity": 10001}, "quantity", "Quantity more than maximum 10000"),
        ({"quantity": -5}, "quantity", "Quantity less than minimal 50"),
        # Any negative number gets the minimum's message, however large: no other bound speaks first.
        ({"quantity": "-" + "9" * 18}, "quantity", "Quantity less than minimal 50"),
        ({"quantity": "12abc"}, "quantity", "Quantity must be a whole number."),
        ({"quantity": ""}, "quantity", "Quantity is required."),
        ({"quantity": 100, "link": "javascript:alert(1)"}, "link", "Bad link"),
        ({"quantity": 100, "link": "ftp://example.com/x"}, "link", "Bad link"),
        ({"quantity": 100, "link": "https://exa mple.com"}, "link", "Bad link"),
        ({"quantity": 100, "link": "https://example.com/\x00"}, "link", "Bad link"),
        ({"quantity": 100, "link": ""}, "link", "Link is required."),
        ({"quantity": 100, "runs": 3, "interval": 10}, "runs", "Drip-feed is not available for this service."),
        # Drip-feed figures are read, and bounded, before the service is asked whether it drip-feeds.
        ({"quantity": 100, "runs": 1, "interval": 10}, "runs", "Runs must be at least 2."),
        ({"quantity": 100, "runs": 1001, "interval": 10}, "runs", "Runs must be at most 1000."),
        ({"quantity": 100, "runs": 3, "interval": 0}, "interval", "Interval must be at least 1."),
        ({"quantity": 100, "runs": 3, "interval": 1441}, "interval", "Interval must be at most 1440."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_writes_nothing(catalogue, customer, fields, field, message) -> None:
    data = {"link": LINK, **fields}
    with pytest.raises(OrderRejected) as caught:
        order_place(user=customer, service=catalogue["1"], **data)
    assert caught.value.errors == {field: message}
    assert not Order.objects.exists()
    assert balance(customer) == Decimal("100")


@pytest.mark.parametrize(
    ("type_", "fields", "field"),
    [
        ("Custom Comments", {"comments": "\n \n"}, "comments"),
        ("Mentions", {"quantity": 100}, "usernames"),
        ("Mentions", {"quantity": 100, "usernames": "not a username!"}, "usernames"),
        ("Poll", {"quantity": 100, "answer_number": "0"}, "answer_number"),
        ("Poll", {"quantity": 100}, "answer_number"),
        ("Comment Likes", {"quantity": 100, "username": ""}, "username"),
        ("Default", {"quantity": 100, "runs": 3}, "interval"),
    ],
)
def test_type_fields_are_required_and_well_formed(provider, customer, type_, fields, field) -> None:
    service = typed_service(provider, type_, dripfeed=type_ == "Default", low=1)
    with pytest.raises(OrderRejected) as caught:
        order_place(user=customer, service=service, link=LINK, **fields)
    assert set(caught.value.errors) == {field}
    assert not Order.objects.exists()


def test_not_enough_funds_writes_nothing(catalogue) -> None:
    poor = UserFactory()
    wallet_credit(user=poor, amount=Decimal("0.01"), kind=LedgerEntry.Kind.DEPOSIT)
    with pytest.raises(OrderRejected) as refused:
        order_place(user=poor, service=catalogue["1"], link=LINK, quantity=1000)
    assert refused.value.errors == {"__all__": "Not enough funds on balance"}  # a form-wide error, not a field's
    # What the order form needs to word it for people: the charge and the balance the debit was refused on.
    assert (refused.value.code, refused.value.params) == ("short_of_funds", {"charge": Decimal("1.1700"), "balance": Decimal("0.0100")})
    assert not Order.objects.exists()
    assert LedgerEntry.objects.filter(wallet__user=poor).count() == 1
    assert balance(poor) == Decimal("0.01")


def test_unavailable_disabled_or_unknown_services_cannot_be_ordered(catalogue, customer) -> None:
    gone, disabled = catalogue["1"], catalogue["2"]
    ProviderService.objects.filter(pk=gone.provider_service_id).update(is_available=False)
    Service.objects.filter(pk=disabled.pk).update(is_enabled=False)
    for service in (gone, disabled, 999_999):
        with pytest.raises(OrderRejected, match="Incorrect service ID"):
            order_place(user=customer, service=service, link=LINK, quantity=100)
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("fields", "code", "params"),
    [
        ({"quantity": 49}, "below_min", {"min": 50}),
        ({"quantity": -5}, "below_min", {"min": 50}),
        ({"quantity": 10001}, "above_max", {"max": 10000}),
        ({"quantity": 100, "link": "javascript:alert(1)"}, "bad_link", {}),
        # Messages already written for people carry no code: pages show them as they are.
        ({"quantity": ""}, "", {}),
        ({"quantity": "12abc"}, "", {}),
        ({"quantity": 100, "runs": 3, "interval": 10}, "", {}),
    ],
)
def test_a_refusal_names_its_rule_and_figures_beside_the_api_wording(catalogue, customer, fields, code, params) -> None:
    """The API answers with ``message`` (api-v2 wording, unchanged); the order form words ``code`` and ``params`` for people."""
    with pytest.raises(OrderRejected) as caught:
        order_place(user=customer, service=catalogue["1"], **{"link": LINK, **fields})
    assert (caught.value.code, caught.value.params) == (code, params)


def test_a_balance_on_hold_is_refused_in_words_already_for_people(catalogue, customer) -> None:
    from shop.wallet.services import wallet_hold

    wallet_hold(user=customer, reason="Top-up #7 was reversed.")
    with pytest.raises(OrderRejected) as caught:
        order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert caught.value.errors == {"__all__": "New orders are paused: Top-up #7 was reversed. Please contact support."}
    assert (caught.value.code, caught.value.params) == ("", {})
    assert not Order.objects.exists()


def test_min_max_narrow_but_never_widen_the_providers(catalogue, customer) -> None:
    service = catalogue["1"]  # provider: 50..10000
    Service.objects.filter(pk=service.pk).update(min_quantity=10, max_quantity=20000)
    with pytest.raises(OrderRejected, match="minimal 50"):
        order_place(user=customer, service=service, link=LINK, quantity=20)
    with pytest.raises(OrderRejected, match="maximum 10000"):
        order_place(user=customer, service=service, link=LINK, quantity=15000)
    Service.objects.filter(pk=service.pk).update(min_quantity=100, max_quantity=500)
    with pytest.raises(OrderRejected, match="minimal 100"):
        order_place(user=customer, service=service, link=LINK, quantity=60)
    with pytest.raises(OrderRejected, match="maximum 500"):
        order_place(user=customer, service=service, link=LINK, quantity=600)


def test_a_tiny_charge_is_at_least_one_ten_thousandth(provider, customer) -> None:
    service = typed_service(provider, "Default", rate="0.001", low=10)
    assert order_place(user=customer, service=service, link=LINK, quantity=10).charge == Decimal("0.0001")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_threads_ordering_one_dollar_on_ten_dollars(provider) -> None:
    service = typed_service(provider, "Package", rate="1.00")
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("10.00"), kind=LedgerEntry.Kind.DEPOSIT)
    outcomes = race(50, lambda: order_place(user=user, service=service.pk, link=LINK))

    assert sum(isinstance(outcome, Order) for outcome in outcomes) == 10
    assert [str(outcome) for outcome in outcomes if not isinstance(outcome, Order)] == ["Not enough funds on balance"] * 40
    assert balance(user) == Decimal("0")
    assert Order.objects.filter(user=user).count() == 10
    assert LedgerEntry.objects.filter(wallet__user=user, kind=LedgerEntry.Kind.ORDER_CHARGE).count() == 10
    assert ledger_differences() == []


def test_a_broker_that_fails_after_the_charge_does_not_fail_the_order(
    catalogue, customer, monkeypatch, django_capture_on_commit_callbacks, caplog
) -> None:
    """The order is placed and charged once; the sweep queues it again later, so the customer must not see an error."""
    import shop.orders.placement as orders_module

    def broker_down(order_id: int) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(orders_module, "_enqueue_submit", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.AWAITING
    assert LedgerEntry.objects.filter(order=order).count() == 1
    assert "broker unreachable" in caplog.text


def test_a_placed_order_is_queued_for_submission_by_its_id_once_committed(
    catalogue, customer, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from shop.orders.tasks import order_submit_task

    queued: list[int] = []
    monkeypatch.setattr(order_submit_task, "delay", queued.append)
    with django_capture_on_commit_callbacks() as callbacks:
        order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert queued == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued == [order.pk]


def test_placing_with_a_used_form_token_raises_already_placed_naming_the_first_order(catalogue, customer) -> None:
    token = uuid4()
    first = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000, form_token=token)
    with pytest.raises(AlreadyPlaced) as caught:
        order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000, form_token=token)
    assert (str(caught.value), caught.value.order) == (f"This form already placed order #{first.pk}.", first)
    assert charges(customer) == 1


def test_the_services_maximum_itself_is_accepted(catalogue, customer) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=10000)  # min 50, max 10000
    assert order.quantity == 10000


def test_an_unorderable_service_is_refused_on_the_service_field(catalogue, customer) -> None:
    with pytest.raises(OrderRejected) as caught:
        order_place(user=customer, service=999_999, link=LINK, quantity=100)
    assert caught.value.errors == {"service": "Incorrect service ID"}
    assert (caught.value.code, caught.value.params) == ("not_orderable", {})


def test_an_order_placed_without_a_link_is_told_the_link_is_required(catalogue, customer) -> None:
    with pytest.raises(OrderRejected) as caught:
        order_place(user=customer, service=catalogue["1"], quantity=100)
    assert caught.value.errors == {"link": "Link is required."}


def test_a_placed_order_is_due_for_submission_at_once(catalogue, customer) -> None:
    from django.utils import timezone

    before = timezone.now()
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert before <= Order.objects.get(pk=order.pk).next_attempt_at <= timezone.now()


def test_the_placed_event_records_who_placed_it_its_status_and_its_charge(catalogue, customer) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    (placed,) = OrderEvent.objects.filter(order=order)
    assert (placed.kind, placed.actor, placed.actor_user_id, placed.status, placed.detail) == (
        OrderEvent.Kind.PLACED,
        OrderEvent.Actor.CUSTOMER,
        customer.pk,
        OrderStatus.AWAITING,
        {"charge": "1.1700"},
    )


@pytest.mark.postgres  # the one-statement charge is PostgreSQL's; other databases take the steps in a transaction
def test_placing_reads_the_shops_default_markup_with_the_service_and_not_again(catalogue, customer, django_assert_num_queries) -> None:
    service_id = catalogue["1"].pk
    # The service (with the shop's settings and the customer's own prices for it), whether the form was used,
    # then the one charging statement in its savepoint.
    with django_assert_num_queries(5):
        order_place(user=customer, service=service_id, link=LINK, quantity=1000, form_token=uuid4())


def test_a_resent_form_names_its_order_even_when_it_could_no_longer_be_placed(catalogue, customer) -> None:
    token = uuid4()
    first = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000, form_token=token)
    Service.objects.filter(pk=catalogue["1"].pk).update(is_enabled=False)
    with pytest.raises(AlreadyPlaced) as caught:
        order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000, form_token=token)
    assert caught.value.order == first
    assert charges(customer) == 1


def test_a_twin_submission_that_loses_the_race_inside_a_transaction_still_names_the_first_order(catalogue, customer, monkeypatch) -> None:
    """The pre-check misses the twin (it committed meanwhile): the insert clashes in its savepoint and the caller's transaction lives on."""
    import shop.orders.placement as placement

    token = uuid4()
    first = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000, form_token=token)
    real = placement._placed_with
    calls: list[int] = []

    def missed_once(user, form_token):
        calls.append(1)
        return None if len(calls) == 1 else real(user, form_token)

    monkeypatch.setattr(placement, "_placed_with", missed_once)
    with pytest.raises(AlreadyPlaced) as caught:
        order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000, form_token=token)
    assert caught.value.order == first
    assert charges(customer) == 1


def test_a_database_clash_without_a_form_token_is_raised_not_taken_for_a_twin(catalogue, customer, monkeypatch) -> None:
    """Only a form token can make a twin: any other integrity error (here, one the insert raises) reaches the caller as it is."""
    from django.db import IntegrityError

    import shop.orders.placement as placement

    earlier = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)  # no token: it must not be named
    assert earlier.form_token is None

    def clash(**kwargs):
        raise IntegrityError("some other constraint")

    monkeypatch.setattr(placement, "order_insert_charged", clash)
    with pytest.raises(IntegrityError, match="some other constraint"):
        order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert charges(customer) == 1


def test_drip_feed_accepts_an_interval_of_one_minute(provider, customer) -> None:
    service = typed_service(provider, "Default", dripfeed=True)
    order = order_place(user=customer, service=service, link=LINK, quantity=100, runs=2, interval=1)
    assert (order.runs, order.interval) == (2, 1)


@pytest.mark.parametrize(("type_", "fields"), [("Package", {}), ("Custom Comments", {"comments": "a\nb"})])
def test_drip_feed_is_refused_for_packages_and_lists_even_when_the_provider_drip_feeds(provider, customer, type_, fields) -> None:
    service = typed_service(provider, type_, dripfeed=True, low=1)
    with pytest.raises(OrderRejected) as caught:
        order_place(user=customer, service=service, link=LINK, runs=3, interval=10, **fields)
    assert caught.value.errors == {"runs": "Drip-feed is not available for this service."}
    assert not Order.objects.exists()


@pytest.mark.parametrize(("fields", "field"), [({"runs": 3}, "interval"), ({"interval": 10}, "runs")])
def test_drip_feed_without_runs_or_interval_names_the_missing_one(provider, customer, fields, field) -> None:
    service = typed_service(provider, "Default", dripfeed=True)
    with pytest.raises(OrderRejected) as caught:
        order_place(user=customer, service=service, link=LINK, quantity=100, **fields)
    assert caught.value.errors == {field: "Drip-feed needs both runs and an interval."}


def test_a_type_that_needs_no_link_takes_none_and_stores_none(customer, monkeypatch) -> None:
    """Every type sold today takes a link (tests/orders/test_types.py): the rule is for the first that will not."""
    monkeypatch.setitem(TYPES, "Link-free", TypeSpec(needs_link=False))
    order = order_place(user=customer, service=typed_service(ProviderFactory(), "Link-free"), quantity=100)
    assert Order.objects.get(pk=order.pk).link == ""


def test_a_providers_minimum_of_zero_still_orders_at_least_one(customer) -> None:
    service = typed_service(ProviderFactory(), "Default", low=0)
    assert order_place(user=customer, service=service, link=LINK, quantity=1).quantity == 1
    with pytest.raises(OrderRejected) as caught:
        order_place(user=customer, service=service, link=LINK, quantity=0)
    assert caught.value.errors == {"quantity": "Quantity less than minimal 1"}


SUBSCRIPTION = {"username": "shop.owner", "min": "100", "max": "200", "posts": "4"}


def test_a_subscription_takes_the_blank_runs_and_interval_a_form_sends(customer) -> None:
    service = typed_service(ProviderFactory(), "Subscriptions", dripfeed=True, low=50, high=5000)
    order = order_place(user=customer, service=service, runs="", interval="", **SUBSCRIPTION)
    assert (order.runs, order.interval, order.quantity, order.total_quantity) == (None, None, 200, 800)


@pytest.mark.parametrize("drip", [{"runs": "2"}, {"interval": "10"}, {"runs": "2", "interval": ""}, {"runs": "", "interval": "10"}])
def test_a_subscription_refuses_runs_or_interval_given_alone(customer, drip) -> None:
    service = typed_service(ProviderFactory(), "Subscriptions", dripfeed=True, low=50, high=5000)
    with pytest.raises(OrderRejected) as caught:
        order_place(user=customer, service=service, **drip, **SUBSCRIPTION)
    assert caught.value.errors == {"runs": "Drip-feed is not available for this service."}
    assert not Order.objects.exists()


def test_preparing_an_order_without_a_link_for_a_service_that_needs_one_says_it_is_required(customer) -> None:
    service = typed_service(ProviderFactory(), "Default")
    with pytest.raises(OrderRejected) as caught:
        order_prepare(user=customer, service=service.pk, quantity=100)
    assert caught.value.errors == {"link": "Link is required."}
