"""Mass order: reading the lines, the preview (reads only), and placing every valid line in one transaction, once."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.models import CustomerPrice, LedgerEntry, Order, Service, ShopSettings, Wallet
from shop.orders import mass
from shop.orders.flow import order_cancel_unsent
from shop.orders.mass import (
    BAD_SERVICE_ID,
    LAYOUT,
    LINE_TOO_LONG,
    MAX_LINE,
    MAX_ORDERS,
    NO_LINK,
    NOT_SIMPLE,
    PACKAGE_QUANTITY,
    TWO_LINKS,
    BatchPlaced,
    MassLine,
    NothingToPlace,
    PreviewChanged,
    TooManyLines,
    batch_tokens,
    mass_parse,
    mass_place,
    mass_preview,
    simple_type,
)
from shop.orders.models import OrderEvent, OrderStatus
from shop.orders.placement import LINK_BUSY, NOT_ORDERABLE, order_prepare
from shop.orders.types import TYPES, Refusal
from shop.wallet.services import InsufficientFunds, WalletOnHold, wallet_credit, wallet_hold
from tests.factories import UserFactory
from tests.helpers import assert_ledger_holds, race, typed_service

LINK = "https://instagram.com/p/abc"


def line_of(service, quantity: int | str = 1000, link: str = LINK) -> str:
    return f"{service.pk} | {link} | {quantity}"


def confirmed(user, text: str) -> str:
    """The digest of the preview the customer sees now, as the Place form sends it back."""
    return mass_preview(user=user, text=text).digest


def errors(preview) -> dict[int, str]:
    """Each refused line's number and its refusal's message."""
    return {result.line.number: result.rejected.message for result in preview.lines if result.rejected is not None}


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Ids of orders queued for submission (after the commit), in order."""
    sent: list[int] = []
    monkeypatch.setattr(mass, "_enqueue_submit", sent.append)
    return sent


# Reading the text


def test_the_link_is_recognised_in_either_field_order_with_spaces_around_fields() -> None:
    text = f"12|{LINK}|1000\n  12 |  1000 |{LINK}  \n"
    assert mass_parse(text) == [MassLine(1, 12, LINK, "1000"), MassLine(2, 12, LINK, "1000")]


def test_blank_lines_are_skipped_and_lines_keep_their_number_in_the_text() -> None:
    text = f"\n7|{LINK}|10\r\n   \r\n\n8|20|{LINK}\r\n"
    assert [(line.number, line.service_id) for line in mass_parse(text)] == [(2, 7), (5, 8)]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (f"{LINK} | 1000", BAD_SERVICE_ID),  # no service id
        (f"12 {LINK} 1000", LAYOUT),
        (f"12|{LINK}|1000|5", LAYOUT),
        (f"abc|{LINK}|1000", BAD_SERVICE_ID),
        (f"١٢|{LINK}|1000", BAD_SERVICE_ID),  # Arabic-Indic digits are not an id
        ("12|100|200", NO_LINK),
        ("12|instagram|followers", TWO_LINKS),
        (f"12|{LINK}|{'9' * MAX_LINE}", LINE_TOO_LONG),
    ],
)
def test_a_line_that_cannot_be_read_says_why(line: str, problem: str) -> None:
    (parsed,) = mass_parse(line)
    assert parsed.problem == problem


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("12|100|200", MassLine(3, 12, problem=NO_LINK)),
        ("12|instagram|followers", MassLine(3, 12, problem=TWO_LINKS)),
        ("12|1000", MassLine(3, 12, "", "1000")),  # no link: refused on the link, as the New order page does
        (f"12|{LINK}", MassLine(3, 12, LINK, "")),  # a package's line
        ("12||1000", MassLine(3, 12, "", "1000")),
    ],
)
def test_a_line_read_in_part_keeps_its_number_and_its_service(line: str, parsed: MassLine) -> None:
    """The preview names the service of a line it refuses, and the line's number in the text."""
    assert mass_parse(f"\n\n{line}") == [parsed]


@pytest.mark.django_db
def test_a_line_with_a_quantity_and_no_link_is_refused_on_its_link(catalogue, customer) -> None:
    service = catalogue["1"]
    (result,) = mass_preview(user=customer, text=f"{service.pk}|1000").lines
    assert result.service == service and result.order is None
    assert list(result.rejected.errors) == ["link"]


def test_a_quantity_written_wrong_still_leaves_the_link_recognised() -> None:
    assert mass_parse(f"12|ten|{LINK}") == [MassLine(1, 12, LINK, "ten")]


def test_more_than_500_lines_are_refused_whole_and_500_are_read() -> None:
    assert len(mass_parse(f"1|{LINK}|10\n" * MAX_ORDERS)) == MAX_ORDERS
    with pytest.raises(TooManyLines, match="At most 500 orders at a time: this text has 501 lines"):
        mass_parse(f"1|{LINK}|10\n" * (MAX_ORDERS + 1))


def test_simple_types_are_those_a_link_and_a_quantity_describe() -> None:
    simple = {name for name, spec in TYPES.items() if simple_type(spec)}
    assert simple == {"Default", "Package"}


# Preview


@pytest.mark.django_db
def test_preview_prices_each_line_as_a_single_order_and_names_each_refusal(catalogue, customer) -> None:
    followers, package, comments = catalogue["1"], catalogue["6"], catalogue["8"]
    text = "\n".join(
        [
            line_of(followers, 1000),  # 1
            f"{followers.pk}|2000|{LINK}",  # 2
            line_of(followers, 5),  # 3: below the minimum of 50
            "999999 | https://x.com/a | 100",  # 4: no such service
            line_of(comments, 1),  # 5: needs its comments
            f"{package.pk} | {LINK}",  # 6: a package, no quantity
            line_of(package, 3),  # 7
            line_of(followers, 1000, "instagram.com/p/abc"),  # 8: no scheme
            "nonsense",  # 9
        ]
    )
    preview = mass_preview(user=customer, text=text)

    single = order_prepare(user=customer, service=followers.pk, link=LINK, quantity=1000)
    charges = {result.line.number: result.order.charge for result in preview.valid}
    assert charges == {1: single.charge, 2: 2 * single.charge, 6: order_prepare(user=customer, service=package.pk, link=LINK).charge}
    assert preview.total == sum(charges.values())
    refused = {result.line.number: result.rejected for result in preview.refused}
    assert (refused[3].code, refused[3].params) == (Refusal.BELOW_MIN, {"min": 50})
    assert refused[4].code == Refusal.NOT_ORDERABLE
    assert refused[5].message == NOT_SIMPLE
    assert refused[7].message == PACKAGE_QUANTITY
    assert refused[8].code == Refusal.BAD_LINK
    assert refused[9].message == LAYOUT
    assert set(refused) == {3, 4, 5, 7, 8, 9}


@pytest.mark.django_db
@pytest.mark.parametrize("type_", sorted(name for name, spec in TYPES.items() if not simple_type(spec)))
def test_every_type_that_needs_more_than_a_link_and_a_quantity_is_refused(provider, customer, type_: str) -> None:
    service = typed_service(provider, type_)
    preview = mass_preview(user=customer, text=f"\n{line_of(service, 100)}")
    assert errors(preview) == {2: NOT_SIMPLE}


@pytest.mark.django_db
def test_preview_writes_nothing_and_reads_a_few_statements_for_many_lines(catalogue, customer) -> None:
    text = "\n".join(line_of(catalogue[key], 100 + n) for n in range(100) for key in ("1", "2", "4"))
    before = (Order.objects.count(), LedgerEntry.objects.count(), Wallet.objects.get(user=customer).balance)
    with CaptureQueriesContext(connection) as queries:
        preview = mass_preview(user=customer, text=text)
    assert len(preview.valid) == 300
    assert len(queries) <= 3  # the services, the customer's prices (and the shop's settings at most)
    assert all(query["sql"].lstrip().upper().startswith("SELECT") for query in queries.captured_queries)
    assert (Order.objects.count(), LedgerEntry.objects.count(), Wallet.objects.get(user=customer).balance) == before


@pytest.mark.django_db
def test_with_the_link_rule_on_the_same_link_twice_in_a_batch_is_refused_the_second_time(catalogue, customer) -> None:
    text = f"{line_of(catalogue['1'])}\n{line_of(catalogue['1'])}\n{line_of(catalogue['2'])}"
    assert errors(mass_preview(user=customer, text=text)) == {}  # off: allowed, as for single orders

    ShopSettings.objects.update_or_create(pk=1, defaults={"one_order_per_link": True})
    assert errors(mass_preview(user=customer, text=text)) == {2: LINK_BUSY}  # another service may have the same link


# Placing


@pytest.mark.django_db
def test_place_makes_every_valid_line_with_its_charge_and_event_and_queues_each(
    catalogue, customer, queued, django_capture_on_commit_callbacks
) -> None:
    text = f"{line_of(catalogue['1'])}\nbad line\n{line_of(catalogue['2'], 500)}\n{catalogue['4'].pk}|250|{LINK}"
    preview = mass_preview(user=customer, text=text)
    batch = uuid.uuid4()

    with django_capture_on_commit_callbacks(execute=True):
        orders = mass_place(user=customer, text=text, batch=batch, confirmed=confirmed(customer, text))

    assert [order.pk for order in orders] == sorted(Order.objects.filter(user=customer).values_list("pk", flat=True))
    assert [(o.service_id, o.quantity, o.charge) for o in orders] == [
        (r.order.service_id, r.order.quantity, r.order.charge) for r in preview.valid
    ]
    tokens = batch_tokens(batch, mass_parse(text))
    assert [order.form_token for order in Order.objects.filter(user=customer).order_by("pk")] == [tokens[1], tokens[3], tokens[4]]
    entries = list(LedgerEntry.objects.filter(wallet__user=customer, kind=LedgerEntry.Kind.ORDER_CHARGE).order_by("pk"))
    assert [(e.order_id, -e.amount, e.reason) for e in entries] == [(o.pk, o.charge, f"Order #{o.pk}") for o in orders]
    # The running balance: each entry leaves the balance the one before left, less its charge.
    running = Decimal("100")
    for entry in entries:
        running -= -entry.amount
        assert entry.balance_after == running
    assert Wallet.objects.get(user=customer).balance == running == Decimal("100") - preview.total
    placed = OrderEvent.objects.filter(order__user=customer, kind=OrderEvent.Kind.PLACED)
    assert sorted(placed.values_list("order_id", "actor", "detail")) == [
        (o.pk, OrderEvent.Actor.CUSTOMER, {"charge": str(o.charge)}) for o in orders
    ]
    assert queued == [order.pk for order in orders]
    assert_ledger_holds(customer)


@pytest.mark.django_db
def test_equal_previews_have_equal_digests_and_any_price_or_line_change_gives_another(catalogue, customer) -> None:
    text = f"{line_of(catalogue['1'])}\nbad line\n{line_of(catalogue['2'], 500)}"
    seen = mass_preview(user=customer, text=text)
    assert seen.digest == mass_preview(user=customer, text=text).digest and len(seen.digest) == 64
    assert mass_preview(user=customer, text=f"\n{text}").digest != seen.digest  # the same orders on other lines
    assert mass_preview(user=customer, text=text.replace("| 500", "| 600")).digest != seen.digest
    Service.objects.filter(pk=catalogue["2"].pk).update(markup_percent=Decimal("29.99"))  # a hair cheaper
    assert mass_preview(user=customer, text=text).digest != seen.digest


@pytest.mark.django_db
def test_a_price_raised_since_the_preview_places_nothing_until_the_new_preview_is_confirmed(catalogue, customer, queued) -> None:
    text = line_of(catalogue["1"])
    seen = mass_preview(user=customer, text=text)
    assert seen.total == Decimal("1.17")
    Service.objects.filter(pk=catalogue["1"].pk).update(markup_percent=500)

    with pytest.raises(PreviewChanged):
        mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=seen.digest)

    assert not Order.objects.filter(user=customer).exists() and queued == []
    assert Wallet.objects.get(user=customer).balance == Decimal("100")
    now = mass_preview(user=customer, text=text)
    assert now.total == Decimal("5.4")
    (order,) = mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=now.digest)
    assert order.charge == Decimal("5.4") == Decimal("100") - Wallet.objects.get(user=customer).balance


@pytest.mark.django_db
def test_a_line_no_longer_orderable_since_the_preview_places_nothing(catalogue, customer, queued) -> None:
    text = f"{line_of(catalogue['1'])}\n{line_of(catalogue['2'], 500)}"
    seen = mass_preview(user=customer, text=text)
    assert len(seen.valid) == 2
    Service.objects.filter(pk=catalogue["2"].pk).update(is_enabled=False)

    with pytest.raises(PreviewChanged):  # placing line 1 alone would be another order than the one confirmed
        mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=seen.digest)

    assert not Order.objects.filter(user=customer).exists() and queued == []
    assert LedgerEntry.objects.filter(wallet__user=customer).count() == 1


@pytest.mark.django_db
def test_an_unchanged_preview_places_its_lines_at_the_prices_shown(catalogue, customer, queued) -> None:
    text = f"{line_of(catalogue['1'])}\n{line_of(catalogue['2'], 500)}"
    seen = mass_preview(user=customer, text=text)
    orders = mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=seen.digest)
    assert [order.charge for order in orders] == [result.order.charge for result in seen.valid]
    assert Wallet.objects.get(user=customer).balance == Decimal("100") - seen.total


@pytest.mark.django_db
def test_each_placed_order_is_refunded_on_its_own_as_any_order(catalogue, customer, queued) -> None:
    text = f"{line_of(catalogue['1'])}\n{line_of(catalogue['2'], 500)}"
    first, second = mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=confirmed(customer, text))

    assert order_cancel_unsent(order_id=first.pk)
    assert list(LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).values_list("order_id", "amount")) == [(first.pk, first.charge)]
    assert Wallet.objects.get(user=customer).balance == Decimal("100") - second.charge
    assert_ledger_holds(customer)


@pytest.mark.django_db
def test_place_is_all_or_nothing_when_the_balance_is_short_of_the_total(catalogue, queued) -> None:
    user = UserFactory()
    wallet_credit(user=user, amount=Decimal("3"), kind=LedgerEntry.Kind.DEPOSIT)
    text = f"{line_of(catalogue['1'])}\n{line_of(catalogue['1'])}\n{line_of(catalogue['1'])}"  # 3 x 1.17: each alone fits
    total = mass_preview(user=user, text=text).total
    assert total > Decimal("3")

    with pytest.raises(InsufficientFunds) as refused:
        mass_place(user=user, text=text, batch=uuid.uuid4(), confirmed=confirmed(user, text))

    assert (refused.value.needed, refused.value.available) == (total, Decimal("3"))
    assert not Order.objects.filter(user=user).exists()
    assert LedgerEntry.objects.filter(wallet__user=user).count() == 1
    assert Wallet.objects.get(user=user).balance == Decimal("3")
    assert queued == []


@pytest.mark.django_db
def test_a_balance_on_hold_places_nothing(catalogue, customer, queued) -> None:
    wallet_hold(user=customer, reason="A payment was reversed.")
    with pytest.raises(WalletOnHold, match=r"A payment was reversed\."):
        text = line_of(catalogue["1"])
        mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=confirmed(customer, text))
    assert not Order.objects.filter(user=customer).exists()
    assert Wallet.objects.get(user=customer).balance == Decimal("100")


@pytest.mark.django_db
def test_a_text_with_no_valid_line_places_nothing(catalogue, customer, queued) -> None:
    with pytest.raises(NothingToPlace):
        text = f"bad\n{line_of(catalogue['1'], 1)}"
        mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=confirmed(customer, text))
    assert not Order.objects.filter(user=customer).exists()
    assert LedgerEntry.objects.filter(wallet__user=customer).count() == 1


@pytest.mark.django_db
def test_a_replayed_batch_places_nothing_more(catalogue, customer, queued, django_capture_on_commit_callbacks) -> None:
    text = f"{line_of(catalogue['1'])}\n{line_of(catalogue['2'], 500)}"
    batch = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        mass_place(user=customer, text=text, batch=batch, confirmed=confirmed(customer, text))
    balance = Wallet.objects.get(user=customer).balance

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(BatchPlaced) as replay:
        mass_place(user=customer, text=text, batch=batch, confirmed=confirmed(customer, text))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(BatchPlaced):  # a changed text, the same batch
        more = f"{text}\n{line_of(catalogue['4'])}"
        mass_place(user=customer, text=more, batch=batch, confirmed=confirmed(customer, more))

    assert replay.value.orders == 2
    assert Order.objects.filter(user=customer).count() == 2
    assert Wallet.objects.get(user=customer).balance == balance
    assert queued == list(Order.objects.filter(user=customer).order_by("pk").values_list("pk", flat=True))


@pytest.mark.django_db
def test_another_customer_may_use_the_same_batch_token(catalogue, customer, queued) -> None:
    other = UserFactory()
    wallet_credit(user=other, amount=Decimal("10"), kind=LedgerEntry.Kind.DEPOSIT)
    batch = uuid.uuid4()
    mass_place(user=customer, text=line_of(catalogue["1"]), batch=batch, confirmed=confirmed(customer, line_of(catalogue["1"])))
    assert len(mass_place(user=other, text=line_of(catalogue["1"]), batch=batch, confirmed=confirmed(other, line_of(catalogue["1"])))) == 1


@pytest.mark.django_db
def test_500_lines_are_placed_in_one_go(catalogue, customer, queued) -> None:
    text = "\n".join(line_of(catalogue["4"], 10 + n) for n in range(MAX_ORDERS))  # 0.0125 per 1000 x 1.3: a cent each
    preview = mass_preview(user=customer, text=text)
    orders = mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=confirmed(customer, text))
    assert len(orders) == MAX_ORDERS == LedgerEntry.objects.filter(order__in=orders).count()
    assert Wallet.objects.get(user=customer).balance == Decimal("100") - preview.total
    assert_ledger_holds(customer)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_places_of_the_same_batch_at_once_make_one_set(catalogue, customer, queued) -> None:
    text = "\n".join(line_of(catalogue["1"], 100 + n) for n in range(20))
    total, digest = mass_preview(user=customer, text=text).total, confirmed(customer, text)
    for _ in range(3):  # each round its own batch and its own race
        batch = uuid.uuid4()
        outcomes = race(2, lambda batch=batch: mass_place(user=customer, text=text, batch=batch, confirmed=digest))
        assert sorted(type(outcome).__name__ for outcome in outcomes) == ["BatchPlaced", "list"], outcomes

    assert Order.objects.filter(user=customer).count() == 60
    assert LedgerEntry.objects.filter(wallet__user=customer, kind=LedgerEntry.Kind.ORDER_CHARGE).count() == 60
    assert Wallet.objects.get(user=customer).balance == Decimal("100") - 3 * total
    assert sorted(queued) == sorted(Order.objects.filter(user=customer).values_list("pk", flat=True))
    assert_ledger_holds(customer)


# Rules the mutation run showed untested


def test_old_mac_line_endings_split_lines_too() -> None:
    text = f"\r7|{LINK}|10\r8|20|{LINK}"
    assert mass_parse(text) == [MassLine(2, 7, LINK, "10"), MassLine(3, 8, LINK, "20")]


def test_a_line_of_exactly_the_longest_length_is_read_and_one_more_character_is_refused() -> None:
    head = f"12|{LINK}|"
    longest = head + "9" * (MAX_LINE - len(head))
    assert len(longest) == MAX_LINE
    (parsed,) = mass_parse(longest)
    assert parsed.problem == "" and parsed.link == LINK
    (parsed,) = mass_parse(longest + "9")
    assert parsed.problem == LINE_TOO_LONG


@pytest.mark.parametrize("line", [f"12|{LINK}|{'9' * MAX_LINE}", f"abc|{LINK}|1000", f"12 {LINK} 1000"])
def test_a_line_that_cannot_be_read_keeps_its_number_in_the_text(line: str) -> None:
    (parsed,) = mass_parse(f"\n\n{line}")
    assert parsed.number == 3 and parsed.problem


def test_the_service_id_may_be_written_with_a_leading_hash_but_not_a_trailing_one() -> None:
    assert mass_parse(f"#12|{LINK}|1000") == [MassLine(1, 12, LINK, "1000")]
    (parsed,) = mass_parse(f"12#|{LINK}|1000")
    assert parsed.problem == BAD_SERVICE_ID


def test_preview_changed_and_batch_placed_say_what_happened() -> None:
    assert str(PreviewChanged()) == "Prices or services changed since your preview: nothing was placed."
    assert str(BatchPlaced(3)) == "This batch was already placed: 3 orders. Nothing more was charged."


@pytest.mark.django_db
def test_preview_prices_each_line_at_the_customers_own_prices(catalogue, customer) -> None:
    CustomerPrice.objects.create(user=customer, discount_percent=Decimal("15"))
    CustomerPrice.objects.create(user=customer, service=catalogue["2"], fixed_rate=Decimal("0.4"))
    text = f"{line_of(catalogue['1'])}\n{line_of(catalogue['2'], 500)}"
    preview = mass_preview(user=customer, text=text)

    lines = (("1", 1000), ("2", 500))
    own = [order_prepare(user=customer, service=catalogue[key].pk, link=LINK, quantity=q).charge for key, q in lines]
    retail = [order_prepare(user=UserFactory(), service=catalogue[key].pk, link=LINK, quantity=q).charge for key, q in lines]
    assert [result.order.charge for result in preview.valid] == own
    assert own[0] < retail[0] and own[1] == Decimal("0.2") != retail[1]


@pytest.mark.django_db
def test_each_previewed_line_names_its_service_whether_valid_or_refused(catalogue, customer) -> None:
    followers, comments = catalogue["1"], catalogue["8"]
    text = f"{line_of(followers)}\n{line_of(followers, 5)}\n{line_of(comments, 1)}\n999999|{LINK}|100\nnonsense"
    preview = mass_preview(user=customer, text=text)
    assert [(r.line.number, r.service, r.order is not None) for r in preview.lines] == [
        (1, followers, True),
        (2, followers, False),  # below the minimum
        (3, comments, False),  # needs its comments
        (4, None, False),  # no such service
        (5, None, False),
    ]


@pytest.mark.django_db
def test_each_refusal_is_filed_under_the_field_at_fault(catalogue, customer) -> None:
    ShopSettings.objects.update_or_create(pk=1, defaults={"one_order_per_link": True})
    package, comments = catalogue["6"], catalogue["8"]
    text = "\n".join(
        [
            "nonsense",  # 1
            f"999999|{LINK}|100",  # 2
            line_of(comments, 1),  # 3
            line_of(package, 3),  # 4
            line_of(catalogue["1"]),  # 5
            line_of(catalogue["1"]),  # 6: the same link again
        ]
    )
    refused = {result.line.number: result.rejected.errors for result in mass_preview(user=customer, text=text).refused}
    assert refused == {
        1: {"line": LAYOUT},
        2: {"service": NOT_ORDERABLE},
        3: {"service": NOT_SIMPLE},
        4: {"quantity": PACKAGE_QUANTITY},
        6: {"link": LINK_BUSY},
    }


@pytest.mark.django_db
def test_a_package_line_may_write_its_quantity_as_1(catalogue, customer) -> None:
    package = catalogue["6"]
    preview = mass_preview(user=customer, text=f"{line_of(package, 1)}\n{package.pk} | {LINK}")
    assert errors(preview) == {}
    assert [result.order.charge for result in preview.valid] == [order_prepare(user=customer, service=package.pk, link=LINK).charge] * 2


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "\n  \n\r\n"])
def test_a_blank_text_places_nothing_and_says_so(customer, queued, text: str) -> None:
    with pytest.raises(NothingToPlace) as refused:
        mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=confirmed(customer, text))
    assert str(refused.value) == "No line can be ordered: nothing was placed."


@pytest.mark.django_db
def test_nothing_to_place_says_nothing_was_placed(catalogue, customer, queued) -> None:
    text = f"bad\n{line_of(catalogue['1'], 1)}"
    with pytest.raises(NothingToPlace, match=r"^No line can be ordered: nothing was placed\.$"):
        mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=confirmed(customer, text))


@pytest.mark.django_db
def test_a_replayed_batch_is_told_it_was_placed_even_when_prices_changed_since(catalogue, customer, queued) -> None:
    text = f"{line_of(catalogue['1'])}\n{line_of(catalogue['2'], 500)}"
    batch, seen = uuid.uuid4(), confirmed(customer, text)
    mass_place(user=customer, text=text, batch=batch, confirmed=seen)
    Service.objects.filter(pk=catalogue["1"].pk).update(markup_percent=500)

    with CaptureQueriesContext(connection) as queries, pytest.raises(BatchPlaced) as replay:
        mass_place(user=customer, text=text, batch=batch, confirmed=seen)  # a reload of the Place form

    assert replay.value.orders == 2
    assert len(queries) == 1  # the batch's orders counted, nothing previewed
    assert Order.objects.filter(user=customer).count() == 2


@pytest.mark.django_db
def test_a_twin_placed_between_the_check_and_the_insert_is_named_with_its_orders(
    catalogue, customer, queued, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    text = f"{line_of(catalogue['1'])}\n{line_of(catalogue['2'], 500)}"
    batch, seen = uuid.uuid4(), confirmed(customer, text)
    preview, twin = mass.mass_preview, []

    def preview_while_the_twin_places(**kwargs):
        if not twin:  # the other submission of the batch commits while this one previews
            twin.append(1)
            mass_place(user=customer, text=text, batch=batch, confirmed=seen)
        return preview(**kwargs)

    monkeypatch.setattr(mass, "mass_preview", preview_while_the_twin_places)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(BatchPlaced) as late:
        mass_place(user=customer, text=text, batch=batch, confirmed=seen)

    assert late.value.orders == 2
    assert str(late.value) == "This batch was already placed: 2 orders. Nothing more was charged."
    assert Order.objects.filter(user=customer).count() == 2
    assert Wallet.objects.get(user=customer).balance == Decimal("100") - preview(user=customer, text=text).total
    assert queued == list(Order.objects.filter(user=customer).order_by("pk").values_list("pk", flat=True))  # the twin's, once


@pytest.mark.django_db
def test_a_broker_failing_on_one_order_does_not_keep_the_others_from_being_queued(
    catalogue, customer, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    sent: list[int] = []

    def enqueue(order_id: int) -> None:
        if not sent:
            sent.append(-order_id)
            raise ConnectionError("broker down")
        sent.append(order_id)

    monkeypatch.setattr(mass, "_enqueue_submit", enqueue)
    text = "\n".join(line_of(catalogue["1"], 100 + n) for n in range(3))
    with django_capture_on_commit_callbacks(execute=True):
        orders = mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=confirmed(customer, text))
    assert sent == [-orders[0].pk, orders[1].pk, orders[2].pk]


@pytest.mark.django_db
def test_each_placed_event_records_the_order_awaiting_submission(catalogue, customer, queued) -> None:
    text = f"{line_of(catalogue['1'])}\n{line_of(catalogue['2'], 500)}"
    orders = mass_place(user=customer, text=text, batch=uuid.uuid4(), confirmed=confirmed(customer, text))
    placed = OrderEvent.objects.filter(order__in=orders, kind=OrderEvent.Kind.PLACED)
    assert sorted(placed.values_list("order_id", "status")) == [(order.pk, OrderStatus.AWAITING) for order in orders]
