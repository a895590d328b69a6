"""Crediting top-ups: only verified reports or staff credit, once; mismatches go to staff; reversals come back out."""

from __future__ import annotations

import logging
import types
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from shop.models import LedgerEntry, Order, TopUp, TopUpEvent, TopUpState, Wallet
from shop.orders.placement import OrderRejected, order_place
from shop.payments import crediting, gateway
from shop.payments.crediting import CHECK, Outcome, TopUpRefused, topup_report_apply
from shop.payments.interface import Checkout, GatewayError, Report, ReportState, Urls
from shop.payments.models import PaymentMethod
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory
from tests.helpers import assert_ledger_holds, race

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
PAID = ReportState.PAID


def urls(topup: TopUp) -> Urls:
    return Urls(notify="http://shop.test/payments/notify/fake/", back=f"http://shop.test/funds/{topup.public_id}/")


@pytest.fixture
def fake_gateway(monkeypatch):
    """A gateway module of our own for the ``sandbox`` kind: it starts payments as told and reports what the test says."""
    fake = types.SimpleNamespace(started=[], fetched=None, start_error=None)

    def start(*, method, topup, urls):
        if fake.start_error:
            raise fake.start_error
        fake.started.append((topup.pk, urls))
        return Checkout(gateway_id=f"pay_{topup.pk}", pay_url=f"https://gateway.test/pay/{topup.pk}")

    fake.start = start
    fake.verify = lambda **kwargs: []
    fake.fetch = lambda *, method, topup: fake.fetched
    monkeypatch.setitem(gateway.MODULES, PaymentMethod.Kind.SANDBOX, "tests.payments.test_crediting_fake")
    import sys

    monkeypatch.setitem(sys.modules, "tests.payments.test_crediting_fake", fake)
    return fake


@pytest.fixture
def method() -> PaymentMethod:
    return PaymentMethod.objects.create(
        code="fake",
        kind=PaymentMethod.Kind.SANDBOX,
        name="Fake card",
        is_enabled=True,
        currency="USD",
        min_amount=Decimal("5"),
        max_amount=Decimal("1000"),
        fee_percent=Decimal("3"),
        bonus_percent=Decimal("5"),
        bonus_threshold=Decimal("100"),
        merchant_id="shop-1",
    )


@pytest.fixture
def customer():
    return UserFactory()


def started(customer, method, fake_gateway, amount: str = "100.00") -> TopUp:
    return crediting.topup_create(user=customer, method=method, amount=amount, urls=urls)


def paid(topup: TopUp, **changes) -> Report:
    fields = {
        "state": PAID,
        "gateway_id": topup.gateway_id,
        "reference": str(topup.public_id),
        "amount": topup.amount,
        "currency": "USD",
        "merchant": "shop-1",
        "event_id": "evt_1",
    }
    return Report(**{**fields, **changes})


def entries(topup: TopUp) -> list[tuple[str, Decimal]]:
    return list(LedgerEntry.objects.filter(topup=topup).order_by("id").values_list("kind", "amount"))


def balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


# Starting a top-up ------------------------------------------------------------


def test_starting_a_top_up_records_it_pending_with_the_gateways_id_and_page(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway, "100")
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.state, stored.amount, stored.fee, stored.bonus, stored.currency) == (
        TopUpState.PENDING,
        Decimal("100.00"),
        Decimal("3.00"),
        Decimal("5.00"),
        "USD",
    )
    assert (stored.gateway_id, stored.pay_url) == (f"pay_{topup.pk}", f"https://gateway.test/pay/{topup.pk}")
    assert fake_gateway.started == [(topup.pk, urls(stored))]
    assert list(stored.events.values_list("kind", "actor", "actor_user_id")) == [("created", "customer", customer.pk)]
    assert not LedgerEntry.objects.exists()  # starting never credits


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("4.99", "The minimum for Fake card is 5.00 USD."),
        ("1000.01", "The maximum for Fake card is 1000.00 USD."),
        ("10.001", "Enter an amount with at most 2 decimal places, such as 25.50."),
        ("ten", "Enter an amount such as 25 or 25.50."),
        ("NaN", "Enter an amount with at most 2 decimal places, such as 25.50."),
    ],
)
def test_an_amount_outside_the_methods_rules_is_refused_and_nothing_is_written(customer, method, fake_gateway, amount, message) -> None:
    with pytest.raises(TopUpRefused) as refused:
        started(customer, method, fake_gateway, amount)
    assert str(refused.value) == message
    assert not TopUp.objects.exists()
    assert fake_gateway.started == []


def test_a_disabled_method_or_one_in_another_currency_is_refused(customer, method, fake_gateway) -> None:
    method.is_enabled = False
    with pytest.raises(TopUpRefused, match="not available"):
        started(customer, method, fake_gateway)
    method.is_enabled, method.currency = True, "EUR"
    with pytest.raises(TopUpRefused, match="not available"):
        started(customer, method, fake_gateway)
    assert not TopUp.objects.exists()


def test_no_top_up_before_the_email_address_is_confirmed(method, fake_gateway) -> None:
    from allauth.account.models import EmailAddress

    UserFactory()  # someone else's confirmed address does not count
    newcomer = UserFactory(verified_email=False)
    EmailAddress.objects.create(user=newcomer, email=newcomer.email, verified=False, primary=True)
    with pytest.raises(TopUpRefused) as refused:
        started(newcomer, method, fake_gateway)
    assert str(refused.value) == crediting.UNVERIFIED
    assert not TopUp.objects.exists() and fake_gateway.started == []
    EmailAddress.objects.filter(user=newcomer).update(verified=True)
    assert started(newcomer, method, fake_gateway).state == TopUpState.PENDING


def test_a_gateway_that_fails_to_start_leaves_the_top_up_failed_and_says_so(customer, method, fake_gateway) -> None:
    fake_gateway.start_error = GatewayError("The gateway refused the payment.")
    with pytest.raises(GatewayError):
        started(customer, method, fake_gateway)
    topup = TopUp.objects.get()
    assert topup.state == TopUpState.FAILED
    assert list(topup.events.values_list("kind", flat=True)) == ["created", "failed"]
    assert not LedgerEntry.objects.exists()


def test_a_manual_transfer_needs_a_reference_and_waits_for_staff(customer) -> None:
    manual = PaymentMethod.objects.create(code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank", is_enabled=True, currency="USD")
    with pytest.raises(TopUpRefused, match="reference"):
        crediting.topup_create(user=customer, method=manual, amount="20", reference="  ", urls=urls)
    with pytest.raises(TopUpRefused, match="plain text"):
        crediting.topup_create(user=customer, method=manual, amount="20", reference="a\x00b", urls=urls)
    topup = crediting.topup_create(user=customer, method=manual, amount="20", reference=" TR-991 ", urls=urls)
    assert (topup.state, topup.reference, topup.gateway_id, topup.pay_url) == (TopUpState.REVIEW, "TR-991", "", "")
    assert "TR-991" in topup.attention_reason
    assert not LedgerEntry.objects.exists()


# Crediting --------------------------------------------------------------------


def test_a_verified_paid_report_credits_the_amount_less_the_fee_plus_the_bonus_as_three_lines(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway, "100")
    assert topup_report_apply(method=method, report=paid(topup)) is Outcome.CREDITED
    assert entries(topup) == [
        (Kind.TOPUP, Decimal("100.0000")),
        (Kind.TOPUP_FEE, Decimal("-3.0000")),
        (Kind.TOPUP_BONUS, Decimal("5.0000")),
    ]
    assert balance(customer) == Decimal("102.0000")
    stored = TopUp.objects.get(pk=topup.pk)
    assert stored.state == TopUpState.PAID and stored.paid_at is not None
    assert stored.events.last().kind == TopUpEvent.Kind.PAID and stored.events.last().actor == "gateway"
    assert_ledger_holds(customer)


def test_no_fee_and_no_bonus_below_the_threshold_means_one_line(customer, method, fake_gateway) -> None:
    method.fee_percent = Decimal("0")
    topup = started(customer, method, fake_gateway, "99.99")
    assert topup.bonus == 0
    topup_report_apply(method=method, report=paid(topup))
    assert entries(topup) == [(Kind.TOPUP, Decimal("99.9900"))]


def test_the_same_paid_report_twice_credits_once_and_the_repeat_is_recorded(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    assert topup_report_apply(method=method, report=paid(topup)) is Outcome.CREDITED
    assert topup_report_apply(method=method, report=paid(topup, event_id="evt_2")) is Outcome.UNCHANGED
    assert topup_report_apply(method=method, report=paid(topup), actor=CHECK) is Outcome.UNCHANGED
    assert len(entries(topup)) == 3
    assert balance(customer) == Decimal("102.0000")
    assert list(TopUp.objects.get(pk=topup.pk).events.values_list("kind", flat=True)) == ["created", "paid", "ignored", "ignored"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_threads_delivering_the_same_notification_make_one_credit(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    report = paid(topup)
    outcomes = race(20, lambda: topup_report_apply(method=PaymentMethod.objects.get(pk=method.pk), report=report))
    assert sorted(map(str, outcomes)) == sorted([str(Outcome.CREDITED)] + [str(Outcome.UNCHANGED)] * 19)
    assert len(entries(topup)) == 3
    assert balance(customer) == Decimal("102.0000")
    assert_ledger_holds(customer)


def test_a_report_is_found_by_gateway_id_by_second_id_or_by_the_public_id_we_sent(customer, method, fake_gateway) -> None:
    first, second, third = (started(customer, method, fake_gateway, "10") for _ in range(3))
    TopUp.objects.filter(pk=second.pk).update(gateway_payment="pi_2")
    assert crediting.topup_find(method=method, report=Report(state=PAID, gateway_id=first.gateway_id)) == first
    assert crediting.topup_find(method=method, report=Report(state=PAID, gateway_payment="pi_2")) == second
    assert crediting.topup_find(method=method, report=Report(state=PAID, reference=str(third.public_id))) == third
    assert crediting.topup_find(method=method, report=Report(state=PAID, reference="not-a-uuid")) is None
    assert crediting.topup_find(method=method, report=Report(state=PAID)) is None


def test_a_report_through_another_method_never_touches_this_methods_top_up(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    other = PaymentMethod.objects.create(code="other", kind=PaymentMethod.Kind.SANDBOX, name="Other", currency="USD", merchant_id="shop-1")
    assert topup_report_apply(method=other, report=paid(topup)) is Outcome.UNKNOWN
    assert TopUp.objects.get(pk=topup.pk).state == TopUpState.PENDING
    assert not LedgerEntry.objects.exists()
    assert TopUpEvent.objects.filter(topup=topup).count() == 1  # only "created"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"amount": Decimal("99.99")}, "Paid 99.99 USD, but the top-up asked for 100.00 USD."),
        ({"amount": None}, "Paid None USD, but the top-up asked for 100.00 USD."),
        ({"currency": "EUR"}, "Paid in EUR, but the top-up asked for USD."),
        ({"merchant": "someone-else"}, "The payment was made to another merchant account."),
        ({"gateway_id": "pay_999"}, "The gateway's payment id 'pay_999' is not this top-up's"),
    ],
)
def test_a_paid_report_that_does_not_match_credits_nothing_and_goes_to_staff_with_the_reason(
    customer, method, fake_gateway, changes, reason
) -> None:
    topup = started(customer, method, fake_gateway)
    report = paid(topup, **changes)
    if "gateway_id" in changes:  # found by the public id, but the gateway names another payment
        report = paid(topup, gateway_id="pay_999")
    assert topup_report_apply(method=method, report=report) is Outcome.REVIEW
    stored = TopUp.objects.get(pk=topup.pk)
    assert stored.state == TopUpState.REVIEW
    assert stored.attention_reason.startswith(reason)
    assert not LedgerEntry.objects.exists()
    assert stored.events.last().kind == TopUpEvent.Kind.REVIEW


def test_a_matching_report_without_a_merchant_is_credited(customer, method, fake_gateway) -> None:
    """Gateways whose signature proves the account (Stripe) name no merchant: that is not a mismatch."""
    topup = started(customer, method, fake_gateway)
    assert topup_report_apply(method=method, report=paid(topup, merchant=None, currency="usd")) is Outcome.CREDITED


def test_a_late_failed_or_expired_after_paid_changes_nothing_and_is_recorded(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup))
    for state in (ReportState.FAILED, ReportState.EXPIRED):
        assert topup_report_apply(method=method, report=paid(topup, state=state)) is Outcome.UNCHANGED
    stored = TopUp.objects.get(pk=topup.pk)
    assert stored.state == TopUpState.PAID
    assert len(entries(topup)) == 3
    assert list(stored.events.values_list("kind", flat=True))[-2:] == ["ignored", "ignored"]


def test_failed_and_expired_close_a_pending_top_up_and_a_later_verified_payment_still_credits(customer, method, fake_gateway) -> None:
    failed, expired = started(customer, method, fake_gateway), started(customer, method, fake_gateway)
    assert topup_report_apply(method=method, report=paid(failed, state=ReportState.FAILED)) is Outcome.CLOSED
    assert topup_report_apply(method=method, report=paid(expired, state=ReportState.EXPIRED)) is Outcome.CLOSED
    assert TopUp.objects.get(pk=failed.pk).state == TopUpState.FAILED
    assert TopUp.objects.get(pk=expired.pk).state == TopUpState.EXPIRED
    # The gateway holds the money after all (a payer who paid at the last second): it is credited.
    assert topup_report_apply(method=method, report=paid(expired)) is Outcome.CREDITED
    assert topup_report_apply(method=method, report=paid(failed)) is Outcome.CREDITED
    assert balance(customer) == Decimal("204.0000")


def test_a_pending_notification_is_recorded_and_a_pending_status_poll_is_not(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    assert topup_report_apply(method=method, report=paid(topup, state=ReportState.PENDING)) is Outcome.UNCHANGED
    assert topup_report_apply(method=method, report=paid(topup, state=ReportState.PENDING), actor=CHECK) is Outcome.UNCHANGED
    assert list(TopUp.objects.get(pk=topup.pk).events.values_list("kind", "actor")) == [("created", "customer"), ("notified", "gateway")]


def test_a_reported_mismatch_goes_to_staff(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    outcome = topup_report_apply(method=method, report=paid(topup, state=ReportState.MISMATCH, note="wrong_amount: paid 90"))
    assert outcome is Outcome.REVIEW
    assert TopUp.objects.get(pk=topup.pk).attention_reason == "wrong_amount: paid 90"


def test_a_check_fetches_the_state_from_the_gateway_and_applies_it_as_a_check(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    fake_gateway.fetched = paid(topup)
    assert crediting.topup_check(topup=topup) is Outcome.CREDITED
    stored = TopUp.objects.get(pk=topup.pk)
    assert stored.checked_at is not None
    assert stored.events.last().actor == "check"
    fake_gateway.fetched = None
    assert crediting.topup_check(topup=stored) is Outcome.UNCHANGED


# Staff ------------------------------------------------------------------------


def test_staff_credit_a_top_up_under_review_once_and_reject_with_a_reason(customer, method, fake_gateway) -> None:
    staff = UserFactory(is_staff=True)
    reviewed = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(reviewed, amount=Decimal("1")))
    assert crediting.topup_staff_credit(topup=reviewed, staff=staff) is Outcome.CREDITED
    assert crediting.topup_staff_credit(topup=reviewed, staff=staff) is Outcome.UNCHANGED
    assert len(entries(reviewed)) == 3
    event = TopUp.objects.get(pk=reviewed.pk).events.filter(kind="paid").get()
    assert (event.actor, event.actor_user_id) == ("staff", staff.pk)
    assert TopUp.objects.get(pk=reviewed.pk).attention_reason == ""

    rejected = started(customer, method, fake_gateway)
    with pytest.raises(TopUpRefused, match="reason"):
        crediting.topup_staff_reject(topup=rejected, staff=staff, reason="  ")
    assert crediting.topup_staff_reject(topup=rejected, staff=staff, reason="No such transfer arrived.") is Outcome.CLOSED
    stored = TopUp.objects.get(pk=rejected.pk)
    assert (stored.state, stored.attention_reason) == (TopUpState.REJECTED, "No such transfer arrived.")
    with pytest.raises(TopUpRefused, match="only a pending one or one under review"):
        crediting.topup_staff_reject(topup=reviewed, staff=staff, reason="too late")
    assert TopUp.objects.get(pk=reviewed.pk).state == TopUpState.PAID


def test_a_gateway_report_cannot_credit_a_top_up_under_review_only_staff_can(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup, currency="EUR"))
    assert topup_report_apply(method=method, report=paid(topup)) is Outcome.UNCHANGED
    assert not LedgerEntry.objects.exists()


# Reversals --------------------------------------------------------------------


def reversed_report(topup: TopUp, total: str) -> Report:
    return Report(state=ReportState.REVERSED, gateway_id=topup.gateway_id, reversed_total=Decimal(total), event_id=f"rev_{total}")


def test_a_full_refund_takes_back_what_the_top_up_gave(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup))
    assert topup_report_apply(method=method, report=reversed_report(topup, "100")) is Outcome.REVERSED
    assert balance(customer) == 0
    assert entries(topup)[-1] == (Kind.REVERSAL, Decimal("-102.0000"))
    assert TopUp.objects.get(pk=topup.pk).reversed_amount == Decimal("102.0000")
    assert_ledger_holds(customer)


def test_partial_refunds_move_only_the_difference_and_a_repeat_moves_nothing(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup))
    topup_report_apply(method=method, report=reversed_report(topup, "25"))  # a quarter of 102.00
    assert balance(customer) == Decimal("76.5000")
    assert topup_report_apply(method=method, report=reversed_report(topup, "25")) is Outcome.UNCHANGED
    topup_report_apply(method=method, report=reversed_report(topup, "50"))
    assert balance(customer) == Decimal("51.0000")
    topup_report_apply(method=method, report=reversed_report(topup, "500"))  # never more than the top-up gave
    assert balance(customer) == 0
    assert [amount for kind, amount in entries(topup) if kind == Kind.REVERSAL] == [Decimal("-25.5"), Decimal("-25.5"), Decimal("-51")]


def test_a_reversal_the_balance_cannot_cover_puts_it_on_hold_and_new_orders_are_refused(customer, method, fake_gateway, catalogue) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup))
    order_place(user=customer, service=catalogue["1"], link="https://instagram.com/p/x", quantity=1000)  # spends some
    left = balance(customer)
    assert topup_report_apply(method=method, report=reversed_report(topup, "100")) is Outcome.REVERSED
    assert balance(customer) == left  # never negative: nothing taken
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.reversed_amount, stored.reversal_owed) == (0, Decimal("102.0000"))
    assert "not covered" in stored.attention_reason
    assert Wallet.objects.get(user=customer).hold_reason == f"Top-up #{topup.pk} was reversed and the balance could not cover it."
    with pytest.raises(OrderRejected) as refused:
        order_place(user=customer, service=catalogue["1"], link="https://instagram.com/p/x", quantity=1000)
    assert refused.value.errors == {
        "__all__": f"New orders are paused: Top-up #{topup.pk} was reversed and the balance could not cover it. Please contact support."
    }
    assert Order.objects.filter(user=customer).count() == 1
    assert topup_report_apply(method=method, report=reversed_report(topup, "100")) is Outcome.UNCHANGED  # owed counts as applied
    assert_ledger_holds(customer)


def test_a_refund_delivered_before_the_payment_is_kept_and_taken_when_the_payment_credits(customer, method, fake_gateway) -> None:
    """Gateways deliver at least once and in any order: the refund first, then the payment it refunds."""
    topup = started(customer, method, fake_gateway)
    assert topup_report_apply(method=method, report=reversed_report(topup, "100")) is Outcome.REVERSED
    assert not LedgerEntry.objects.exists()  # nothing to take back yet
    assert TopUp.objects.get(pk=topup.pk).refunded_total == Decimal("100")
    assert topup_report_apply(method=method, report=paid(topup)) is Outcome.CREDITED
    assert balance(customer) == 0  # credited and reversed in the same transaction
    assert entries(topup)[-1] == (Kind.REVERSAL, Decimal("-102.0000"))
    assert topup_report_apply(method=method, report=reversed_report(topup, "100")) is Outcome.UNCHANGED
    assert_ledger_holds(customer)


def dispute(topup: TopUp, total: str) -> Report:
    return Report(
        state=ReportState.REVERSED, gateway_id=topup.gateway_id, reversed_total=Decimal(total), reversal="dispute", event_id=f"dp_{total}"
    )


def test_a_refund_then_a_dispute_of_the_rest_take_back_the_whole_top_up(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup))
    topup_report_apply(method=method, report=reversed_report(topup, "40"))
    assert balance(customer) == Decimal("61.2000")  # 102 x 60%
    assert topup_report_apply(method=method, report=dispute(topup, "60")) is Outcome.REVERSED
    assert balance(customer) == 0
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.refunded_total, stored.disputed_total, stored.reversed_amount) == (Decimal("40"), Decimal("60"), Decimal("102"))
    assert topup_report_apply(method=method, report=dispute(topup, "60")) is Outcome.UNCHANGED  # the same dispute again
    assert topup_report_apply(method=method, report=reversed_report(topup, "30")) is Outcome.UNCHANGED  # an older running total


def test_a_written_off_reversal_is_not_asked_for_again_when_the_gateway_reports_it_again(customer, method, fake_gateway) -> None:
    staff = UserFactory(is_staff=True)
    topup = held_after_reversal(customer, method, fake_gateway, Decimal("102"))
    crediting.topup_owed_write_off(topup=topup, staff=staff, reason="Settled outside the shop.")
    wallet_credit(user=customer, amount=Decimal("150"), kind=Kind.DEPOSIT)
    for total in ("100", "100", "50"):
        assert topup_report_apply(method=method, report=reversed_report(topup, total)) is Outcome.UNCHANGED
    assert balance(customer) == Decimal("150")
    assert Wallet.objects.get(user=customer).hold_reason == ""
    assert TopUp.objects.get(pk=topup.pk).reversal_written_off == Decimal("102")


@override_settings(SHOP_CURRENCY="USD")
def test_topup_kinds_are_refused_by_the_ledger_without_a_top_up(customer) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        wallet_credit(user=customer, amount=Decimal("1"), kind=Kind.TOPUP)


def held_after_reversal(customer, method, fake_gateway, spend: Decimal) -> TopUp:
    """A paid top-up, ``spend`` of the balance gone, then a full refund the balance cannot cover."""
    from shop.wallet.services import wallet_adjust

    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup))
    wallet_adjust(user=customer, amount=spend, direction="debit", reason="spent", admin=UserFactory(is_staff=True))
    topup_report_apply(method=method, report=reversed_report(topup, "100"))
    return TopUp.objects.get(pk=topup.pk)


def test_staff_collect_an_owed_reversal_once_the_balance_covers_it_and_the_hold_lifts(customer, method, fake_gateway) -> None:
    staff = UserFactory(is_staff=True)
    topup = held_after_reversal(customer, method, fake_gateway, Decimal("50"))
    with pytest.raises(TopUpRefused, match=r"The balance \(52.0000\) cannot cover the 102.0000 USD owed yet."):
        crediting.topup_owed_collect(topup=topup, staff=staff)
    assert balance(customer) == Decimal("52")
    wallet_credit(user=customer, amount=Decimal("60"), kind=Kind.DEPOSIT)
    assert crediting.topup_owed_collect(topup=topup, staff=staff) is Outcome.REVERSED
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.reversed_amount, stored.reversal_owed, stored.attention_reason) == (Decimal("102"), 0, "")
    assert balance(customer) == Decimal("10")
    assert Wallet.objects.get(user=customer).hold_reason == ""
    with pytest.raises(TopUpRefused, match="owes nothing"):
        crediting.topup_owed_collect(topup=stored, staff=staff)
    assert_ledger_holds(customer)
    from shop.payments.audit import topup_ledger_differences

    assert topup_ledger_differences() == []


def test_staff_write_off_an_owed_reversal_with_a_reason_and_the_hold_lifts_only_when_nothing_else_is_owed(
    customer, method, fake_gateway
) -> None:
    staff = UserFactory(is_staff=True)
    first = held_after_reversal(customer, method, fake_gateway, Decimal("102"))
    second = held_after_reversal(customer, method, fake_gateway, Decimal("102"))
    with pytest.raises(TopUpRefused, match="reason"):
        crediting.topup_owed_write_off(topup=first, staff=staff, reason=" ")
    assert crediting.topup_owed_write_off(topup=first, staff=staff, reason="Paid back by bank transfer.") is Outcome.CLOSED
    assert TopUp.objects.get(pk=first.pk).reversal_owed == 0
    assert Wallet.objects.get(user=customer).hold_reason != ""  # the second still owes
    crediting.topup_owed_write_off(topup=second, staff=staff, reason="Loss.")
    assert Wallet.objects.get(user=customer).hold_reason == ""
    event = TopUp.objects.get(pk=first.pk).events.last()
    assert (event.kind, event.actor_user_id, event.detail["reason"], event.detail["amount"]) == (
        "written_off",
        staff.pk,
        "Paid back by bank transfer.",
        "102.0000",
    )
    with pytest.raises(TopUpRefused, match="owes nothing"):
        crediting.topup_owed_write_off(topup=first, staff=staff, reason="again")


def test_staff_cannot_credit_a_gateways_payment_that_is_still_pending_failed_or_expired(customer, method, fake_gateway) -> None:
    staff = UserFactory(is_staff=True)
    pending, failed = started(customer, method, fake_gateway), started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(failed, state=ReportState.FAILED))
    for topup in (pending, failed):
        assert crediting.topup_staff_credit(topup=topup, staff=staff) is Outcome.UNCHANGED
    assert not LedgerEntry.objects.exists()


def test_staff_can_credit_a_manual_transfer_still_pending(customer) -> None:
    manual = PaymentMethod.objects.create(code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank", is_enabled=True, currency="USD")
    topup = TopUp.objects.create(user=customer, method=manual, amount=Decimal("20"), currency="USD", state=TopUpState.PENDING)
    assert crediting.topup_staff_credit(topup=topup, staff=UserFactory(is_staff=True)) is Outcome.CREDITED
    assert balance(customer) == Decimal("20")


def test_amounts_must_match_exactly_not_after_rounding(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway, "25")
    assert topup_report_apply(method=method, report=paid(topup, amount=Decimal("24.995"))) is Outcome.REVIEW
    assert not LedgerEntry.objects.exists()


def test_a_failure_of_another_payment_found_by_the_public_id_changes_nothing(customer, method, fake_gateway) -> None:
    """E.g. another checkout the payer opened with the same reference: its failure must not close this top-up."""
    topup = started(customer, method, fake_gateway)
    for state in (ReportState.FAILED, ReportState.EXPIRED, ReportState.MISMATCH):
        report = Report(state=state, gateway_id="pay_other", reference=str(topup.public_id))
        assert topup_report_apply(method=method, report=report) is Outcome.UNCHANGED
    assert TopUp.objects.get(pk=topup.pk).state == TopUpState.PENDING
    assert topup_report_apply(method=method, report=paid(topup)) is Outcome.CREDITED


def test_a_paid_report_for_another_payment_of_the_same_top_up_goes_to_staff(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    TopUp.objects.filter(pk=topup.pk).update(gateway_payment="pi_1")
    topup.refresh_from_db()
    report = paid(topup, gateway_id="", gateway_payment="pi_2")
    assert topup_report_apply(method=method, report=report) is Outcome.REVIEW
    assert "'pi_2' is not this top-up's" in TopUp.objects.get(pk=topup.pk).attention_reason


def test_a_mismatch_keeps_the_gateways_payment_id_so_a_later_dispute_finds_the_top_up(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup, amount=Decimal("1"), gateway_payment="pi_9"))
    assert TopUp.objects.get(pk=topup.pk).gateway_payment == "pi_9"
    crediting.topup_staff_credit(topup=TopUp.objects.get(pk=topup.pk), staff=UserFactory(is_staff=True))
    report = Report(state=ReportState.REVERSED, gateway_payment="pi_9", reversed_total=Decimal("100"), reversal="dispute")
    assert topup_report_apply(method=method, report=report) is Outcome.REVERSED
    assert balance(customer) == 0


@override_settings(TOPUP_OPEN_LIMIT=2)
def test_a_customer_has_at_most_the_open_limit_of_top_ups_waiting(customer, method, fake_gateway) -> None:
    first = started(customer, method, fake_gateway)
    started(customer, method, fake_gateway)
    with pytest.raises(TopUpRefused, match="You have 2 payments waiting already"):
        started(customer, method, fake_gateway)
    assert TopUp.objects.count() == 2
    topup_report_apply(method=method, report=paid(first))
    assert started(customer, method, fake_gateway).state == TopUpState.PENDING  # a paid one no longer counts


def test_expiry_racing_a_payment_changes_nothing_and_is_recorded(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup))
    assert crediting.topup_expire(topup=topup) is Outcome.UNCHANGED
    stored = TopUp.objects.get(pk=topup.pk)
    assert stored.state == TopUpState.PAID
    assert stored.events.last().detail["why"] == "already paid"


# The exact rules (issue 18: each surviving mutant of crediting.py is killed here or listed in tests/MUTANTS.md) ----


def facts(report: Report) -> dict:
    """What every event about a report records of it: the gateway's facts, under these keys and no others."""
    return {"report": report.state.value, "event_id": report.event_id, "note": report.note, "gateway": dict(report.detail)}


def aged(topup: TopUp) -> datetime:
    """Set the top-up's ``updated_at`` an hour back (as if nothing had touched it since); returns that time."""
    hour_ago = timezone.now() - timedelta(hours=1)
    TopUp.objects.filter(pk=topup.pk).update(updated_at=hour_ago)
    return hour_ago


def bank(**fields) -> PaymentMethod:
    """An enabled manual-transfer method in the shop's currency."""
    return PaymentMethod.objects.create(
        **{"code": "bank", "kind": PaymentMethod.Kind.MANUAL, "name": "Bank", "is_enabled": True, "currency": "USD", **fields}
    )


def last_event(topup: TopUp) -> TopUpEvent:
    return TopUpEvent.objects.filter(topup_id=topup.pk).order_by("id").last()


@pytest.mark.parametrize(
    ("kind", "reference", "message"),
    [
        ("disabled", "", "This payment method is not available."),
        ("manual", "   ", "Enter the reference of your transfer, so staff can find it."),
        ("manual", "R" * 121, "A reference is plain text of at most 120 characters."),
        ("manual", "TR\t991", "A reference is plain text of at most 120 characters."),
        ("card", "R" * 121, "A reference is plain text of at most 120 characters."),
    ],
)
def test_each_refusal_to_start_a_top_up_says_why_in_these_words_and_writes_nothing(
    customer, method, fake_gateway, kind, reference, message
) -> None:
    chosen = bank() if kind == "manual" else method
    if kind == "disabled":
        method.is_enabled = False
    with pytest.raises(TopUpRefused) as refused:
        crediting.topup_create(user=customer, method=chosen, amount="20", reference=reference, urls=urls)
    assert str(refused.value) == message
    assert not TopUp.objects.exists()
    assert fake_gateway.started == []


def test_a_manual_transfer_started_without_a_reference_at_all_is_refused(customer) -> None:
    with pytest.raises(TopUpRefused) as refused:
        crediting.topup_create(user=customer, method=bank(), amount="20", urls=urls)
    assert str(refused.value) == "Enter the reference of your transfer, so staff can find it."
    assert not TopUp.objects.exists()


def test_a_reference_of_120_characters_after_trimming_is_taken_and_one_of_121_is_not(customer) -> None:
    manual = bank()
    topup = crediting.topup_create(user=customer, method=manual, amount="20", reference=f"  {'R' * 120}  ", urls=urls)
    assert TopUp.objects.get(pk=topup.pk).reference == "R" * 120
    with pytest.raises(TopUpRefused, match="at most 120 characters"):
        crediting.topup_create(user=customer, method=manual, amount="20", reference="R" * 121, urls=urls)
    assert TopUp.objects.count() == 1


def test_a_manual_transfer_tells_staff_exactly_what_to_check(customer) -> None:
    topup = crediting.topup_create(user=customer, method=bank(), amount="20.50", reference=" TR-991 ", urls=urls)
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.state, stored.reference) == (TopUpState.REVIEW, "TR-991")
    assert stored.attention_reason == "Manual transfer: check that 20.50 USD arrived with reference 'TR-991'."


def test_a_gateways_top_up_keeps_no_reference_and_asks_nothing_of_staff(customer, method, fake_gateway) -> None:
    topup = crediting.topup_create(user=customer, method=method, amount="20", reference="TR-991", urls=urls)
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.state, stored.reference, stored.attention_reason) == (TopUpState.PENDING, "", "")


def test_the_created_event_records_the_customer_the_state_and_the_quote(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway, "100.00")
    event = TopUpEvent.objects.get(topup=topup)
    assert (event.kind, event.actor, event.actor_user_id, event.state) == ("created", "customer", customer.pk, "pending")
    assert event.detail == {"amount": "100.00", "fee": "3.00", "bonus": "5.00"}


def test_the_gateway_is_asked_to_start_this_top_up_through_the_chosen_method(customer, method, fake_gateway) -> None:
    asked = []
    start = fake_gateway.start

    def recording_start(*, method, topup, urls):
        asked.append((method, topup.pk))
        return start(method=method, topup=topup, urls=urls)

    fake_gateway.start = recording_start
    topup = started(customer, method, fake_gateway)
    assert asked == [(method, topup.pk)]


def test_storing_the_gateways_id_and_page_moves_updated_at(customer, method, fake_gateway) -> None:
    before = []
    start = fake_gateway.start

    def slow_start(*, method, topup, urls):  # the gateway answers an hour later, as far as the row can tell
        before.append(aged(topup))
        return start(method=method, topup=topup, urls=urls)

    fake_gateway.start = slow_start
    topup = started(customer, method, fake_gateway)
    stored = TopUp.objects.get(pk=topup.pk)
    assert stored.gateway_id == f"pay_{topup.pk}"
    assert stored.updated_at > before[0]


def test_a_gateway_that_fails_to_start_marks_only_this_top_up_failed_and_records_the_error(customer, method, fake_gateway) -> None:
    waiting = started(customer, method, fake_gateway)
    before = []
    start = fake_gateway.start

    def failing_start(*, method, topup, urls):
        before.append(aged(topup))
        fake_gateway.start_error = GatewayError("The gateway refused the payment.")
        return start(method=method, topup=topup, urls=urls)

    fake_gateway.start = failing_start
    with pytest.raises(GatewayError):
        crediting.topup_create(user=customer, method=method, amount="100.00", urls=urls)
    failed = TopUp.objects.exclude(pk=waiting.pk).get()
    assert failed.state == TopUpState.FAILED
    assert failed.updated_at > before[0]
    event = last_event(failed)
    assert (event.kind, event.actor, event.actor_user_id, event.state) == ("failed", "system", None, "failed")
    assert event.detail == {"error": "The gateway refused the payment."}
    assert TopUp.objects.get(pk=waiting.pk).state == TopUpState.PENDING  # another customer's (or their own) waiting one


def test_a_top_up_reported_paid_before_its_gateway_start_failed_stays_paid(customer, method, fake_gateway) -> None:
    """The gateway's start timed out, but the payment it made was reported (by the public id the shop sent) meanwhile."""

    def start_then_time_out(*, method, topup, urls):
        report = Report(state=PAID, reference=str(topup.public_id), amount=topup.amount, currency="USD", merchant="shop-1")
        assert topup_report_apply(method=method, report=report) is Outcome.CREDITED
        raise GatewayError("The gateway did not answer in time.")

    fake_gateway.start = start_then_time_out
    with pytest.raises(GatewayError):
        started(customer, method, fake_gateway)
    topup = TopUp.objects.get()
    assert (topup.state, topup.paid_at is not None) == (TopUpState.PAID, True)
    assert balance(customer) == Decimal("102.0000")


@override_settings(TOPUP_OPEN_LIMIT=1)
def test_the_open_top_up_limit_counts_only_this_customers_top_ups(customer, method, fake_gateway) -> None:
    started(UserFactory(), method, fake_gateway)
    assert started(customer, method, fake_gateway).state == TopUpState.PENDING
    with pytest.raises(TopUpRefused) as refused:
        started(customer, method, fake_gateway)
    assert str(refused.value) == "You have 1 payments waiting already: finish one of them, or wait until they expire."


@override_settings(TOPUP_OPEN_LIMIT=1, TOPUP_LIFETIME=3600)
def test_the_open_top_up_limit_counts_only_top_ups_started_within_the_lifetime(customer, method, fake_gateway) -> None:
    old = started(customer, method, fake_gateway)
    TopUp.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(seconds=3601))
    assert TopUp.objects.get(pk=old.pk).state == TopUpState.PENDING  # not yet expired by the task, but past its lifetime
    assert started(customer, method, fake_gateway).state == TopUpState.PENDING
    with pytest.raises(TopUpRefused, match="You have 1 payments waiting already"):
        started(customer, method, fake_gateway)


# Reports: the exact facts recorded -------------------------------------------------------------------------------


def test_a_report_for_no_known_top_up_is_logged_with_the_method_the_gateways_id_and_the_state(method, caplog) -> None:
    caplog.set_level(logging.INFO, logger="shop.payments.crediting")
    assert topup_report_apply(method=method, report=Report(state=ReportState.FAILED, gateway_id="pay_404")) is Outcome.UNKNOWN
    assert [record.getMessage() for record in caplog.records if record.name == "shop.payments.crediting"] == [
        "payment report for no known top-up: method=fake gateway_id=pay_404 state=failed"
    ]


def test_every_event_about_a_report_keeps_the_gateways_facts_under_fixed_keys(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    report = paid(topup, state=ReportState.PENDING, event_id="evt_7", note="on its way", detail={"status": "waiting", "tries": 2})
    assert topup_report_apply(method=method, report=report) is Outcome.UNCHANGED
    event = last_event(topup)
    assert (event.kind, event.actor, event.state) == ("notified", "gateway", "pending")
    assert event.detail == {"report": "pending", "event_id": "evt_7", "note": "on its way", "gateway": {"status": "waiting", "tries": 2}}


def test_a_report_about_another_payment_is_ignored_and_the_event_says_which(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    report = Report(state=ReportState.FAILED, gateway_id="pay_other", reference=str(topup.public_id), event_id="evt_9")
    assert topup_report_apply(method=method, report=report) is Outcome.UNCHANGED
    event = last_event(topup)
    assert (event.kind, event.actor, event.state) == ("ignored", "gateway", "pending")
    assert event.detail == {**facts(report), "why": f"The gateway's payment id 'pay_other' is not this top-up's ('pay_{topup.pk}')."}


def test_a_paid_report_keeps_the_gateways_second_id_so_a_later_dispute_of_it_finds_the_top_up(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    assert topup_report_apply(method=method, report=paid(topup, gateway_payment="pi_7")) is Outcome.CREDITED
    assert TopUp.objects.get(pk=topup.pk).gateway_payment == "pi_7"
    report = Report(state=ReportState.REVERSED, gateway_payment="pi_7", reversed_total=Decimal("100"), reversal="dispute")
    assert topup_report_apply(method=method, report=report) is Outcome.REVERSED
    assert balance(customer) == 0


def test_a_reported_mismatch_without_a_note_goes_to_staff_with_a_general_reason_and_keeps_the_second_id(
    customer, method, fake_gateway
) -> None:
    topup = started(customer, method, fake_gateway)
    report = paid(topup, state=ReportState.MISMATCH, gateway_payment="pi_3")
    assert topup_report_apply(method=method, report=report) is Outcome.REVIEW
    stored = TopUp.objects.get(pk=topup.pk)
    reason = "The gateway reports a payment that does not match."
    assert (stored.state, stored.attention_reason, stored.gateway_payment) == (TopUpState.REVIEW, reason, "pi_3")
    event = last_event(topup)
    assert (event.kind, event.actor, event.state) == ("review", "gateway", "review")
    assert event.detail == {**facts(report), "reason": reason}


def test_a_paid_report_in_no_currency_goes_to_staff_saying_so(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    assert topup_report_apply(method=method, report=paid(topup, currency="")) is Outcome.REVIEW
    assert TopUp.objects.get(pk=topup.pk).attention_reason == "Paid in no currency, but the top-up asked for USD."


def test_a_reversal_report_without_a_total_takes_nothing(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup))
    report = Report(state=ReportState.REVERSED, gateway_id=topup.gateway_id, event_id="rev_0")
    assert topup_report_apply(method=method, report=report) is Outcome.UNCHANGED
    assert balance(customer) == Decimal("102.0000")
    assert last_event(topup).detail == {**facts(report), "why": "refund of 0 already recorded"}


# Crediting: the entries, the events and the log ------------------------------------------------------------------


def test_a_credit_writes_entries_that_name_the_top_up_and_the_method(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup))
    assert list(LedgerEntry.objects.filter(topup=topup).order_by("id").values_list("kind", "reason")) == [
        (Kind.TOPUP, f"Top-up #{topup.pk} via Fake card"),
        (Kind.TOPUP_FEE, f"Fee for top-up #{topup.pk}"),
        (Kind.TOPUP_BONUS, f"Bonus for top-up #{topup.pk}"),
    ]


def test_the_paid_event_records_the_reports_facts_and_what_was_credited_and_a_repeat_says_why_it_changed_nothing(
    customer, method, fake_gateway
) -> None:
    topup = started(customer, method, fake_gateway)
    first, repeat = paid(topup), paid(topup, event_id="evt_2")
    topup_report_apply(method=method, report=first)
    event = last_event(topup)
    assert (event.kind, event.actor, event.state) == ("paid", "gateway", "paid")
    assert event.detail == {**facts(first), "credited": "102.0000"}
    topup_report_apply(method=method, report=repeat)
    event = last_event(topup)
    assert (event.kind, event.actor, event.state) == ("ignored", "gateway", "paid")
    assert event.detail == {**facts(repeat), "why": "already paid"}


def test_a_credit_is_logged_with_the_top_up_the_amount_and_the_currency(customer, method, fake_gateway, caplog) -> None:
    topup = started(customer, method, fake_gateway)
    caplog.set_level(logging.INFO, logger="shop.payments.crediting")
    topup_report_apply(method=method, report=paid(topup))
    assert [record.getMessage() for record in caplog.records if record.name == "shop.payments.crediting"] == [
        f"top-up {topup.pk} credited: 102.0000 USD"
    ]


def test_a_refund_recorded_before_the_payment_is_taken_with_an_event_that_says_so(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=reversed_report(topup, "100"))
    topup_report_apply(method=method, report=paid(topup))
    kinds = list(TopUpEvent.objects.filter(topup=topup).order_by("id").values_list("kind", flat=True))
    assert kinds == ["created", "reversed", "paid", "reversed"]
    event = last_event(topup)
    assert (event.actor, event.state) == ("gateway", "paid")
    assert event.detail == {"reversal": "recorded before the payment", "amount": "102.0000", "covered": True}


def test_staff_credit_records_who_did_it_and_never_writes_the_gateways_second_id(customer, method, fake_gateway) -> None:
    staff = UserFactory(is_staff=True)
    topup = started(customer, method, fake_gateway)  # as loaded before the gateway's mismatch arrived
    topup_report_apply(method=method, report=paid(topup, amount=Decimal("1"), gateway_payment="pi_9"))
    assert crediting.topup_staff_credit(topup=topup, staff=staff) is Outcome.CREDITED
    assert TopUp.objects.get(pk=topup.pk).gateway_payment == "pi_9"
    event = last_event(topup)
    assert (event.kind, event.actor, event.actor_user_id, event.state) == ("paid", "staff", staff.pk, "paid")
    assert event.detail == {"by": "staff", "credited": "102.0000"}

    transfer = crediting.topup_create(user=customer, method=bank(), amount="20", reference="TR-5", urls=urls)
    assert crediting.topup_staff_credit(topup=transfer, staff=staff) is Outcome.CREDITED
    assert TopUp.objects.get(pk=transfer.pk).gateway_payment == ""


# Review ------------------------------------------------------------------------------------------------------------


def test_a_mismatch_after_the_top_up_is_paid_changes_nothing_and_the_event_keeps_the_mismatch(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup))
    report = paid(topup, state=ReportState.MISMATCH, note="wrong_amount: paid 90", event_id="evt_3")
    assert topup_report_apply(method=method, report=report) is Outcome.UNCHANGED
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.state, stored.attention_reason) == (TopUpState.PAID, "")
    event = last_event(topup)
    assert (event.kind, event.actor, event.state) == ("ignored", "gateway", "paid")
    assert event.detail == {**facts(report), "why": "already paid", "mismatch": "wrong_amount: paid 90"}


def test_a_mismatch_puts_only_this_top_up_up_for_review(customer, method, fake_gateway) -> None:
    other, topup = started(customer, method, fake_gateway), started(customer, method, fake_gateway)
    assert topup_report_apply(method=method, report=paid(topup, currency="EUR")) is Outcome.REVIEW
    assert TopUp.objects.get(pk=topup.pk).state == TopUpState.REVIEW
    assert TopUp.objects.get(pk=other.pk).state == TopUpState.PENDING


def test_a_paid_report_for_another_payment_keeps_the_second_id_the_top_up_has(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    TopUp.objects.filter(pk=topup.pk).update(gateway_payment="pi_1")
    report = paid(TopUp.objects.get(pk=topup.pk), gateway_id="", gateway_payment="pi_2")
    assert topup_report_apply(method=method, report=report) is Outcome.REVIEW
    assert TopUp.objects.get(pk=topup.pk).gateway_payment == "pi_1"


def test_a_review_reason_is_cut_to_the_500_characters_of_the_column(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    note = "wrong_amount: " + "9" * 600
    assert topup_report_apply(method=method, report=paid(topup, state=ReportState.MISMATCH, note=note)) is Outcome.REVIEW
    assert TopUp.objects.get(pk=topup.pk).attention_reason == note[:500]
    assert last_event(topup).detail["reason"] == note  # the history keeps it whole


def test_a_review_is_logged_as_a_warning_with_the_top_up_and_the_reason(customer, method, fake_gateway, caplog) -> None:
    topup = started(customer, method, fake_gateway)
    caplog.set_level(logging.INFO, logger="shop.payments.crediting")
    topup_report_apply(method=method, report=paid(topup, currency="EUR"))
    assert [(record.levelname, record.getMessage()) for record in caplog.records if record.name == "shop.payments.crediting"] == [
        ("WARNING", f"top-up {topup.pk} needs review: Paid in EUR, but the top-up asked for USD.")
    ]


# Closing -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "closed"), [(ReportState.FAILED, TopUpState.FAILED), (ReportState.EXPIRED, TopUpState.EXPIRED)])
def test_a_failed_or_expired_report_records_an_event_of_its_own_kind_and_moves_updated_at(
    customer, method, fake_gateway, state, closed
) -> None:
    topup = started(customer, method, fake_gateway)
    hour_ago = aged(topup)
    report = paid(topup, state=state, event_id="evt_5")
    assert topup_report_apply(method=method, report=report) is Outcome.CLOSED
    stored = TopUp.objects.get(pk=topup.pk)
    assert stored.state == closed
    assert stored.updated_at > hour_ago
    event = last_event(topup)
    assert (event.kind, event.actor, event.state) == (str(closed), "gateway", str(closed))
    assert event.detail == facts(report)


@override_settings(TOPUP_LIFETIME=900)
def test_expiry_closes_a_pending_top_up_as_expired_and_says_why(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    hour_ago = aged(topup)
    assert crediting.topup_expire(topup=topup) is Outcome.CLOSED
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.state, stored.updated_at > hour_ago) == (TopUpState.EXPIRED, True)
    event = last_event(topup)
    assert (event.kind, event.actor, event.actor_user_id, event.state) == ("expired", "system", None, "expired")
    assert event.detail == {"expiry": "no payment within 900 s"}


# Staff rejection ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["  ", "R" * 501, "No such\ttransfer.", "No such transfer.\x00"])
def test_a_rejection_needs_a_reason_of_1_to_500_characters_of_plain_text(customer, method, fake_gateway, reason) -> None:
    topup = started(customer, method, fake_gateway)
    with pytest.raises(TopUpRefused) as refused:
        crediting.topup_staff_reject(topup=topup, staff=UserFactory(is_staff=True), reason=reason)
    assert str(refused.value) == "A rejection needs a reason of 1 to 500 characters of plain text."
    assert TopUp.objects.get(pk=topup.pk).state == TopUpState.PENDING


def test_rejecting_records_the_staff_member_and_the_reason_moves_updated_at_and_touches_only_this_top_up(
    customer, method, fake_gateway
) -> None:
    staff = UserFactory(is_staff=True)
    other, topup = started(customer, method, fake_gateway), started(customer, method, fake_gateway)
    hour_ago = aged(topup)
    reason = "R" * 500
    assert crediting.topup_staff_reject(topup=topup, staff=staff, reason=f" {reason} ") is Outcome.CLOSED
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.state, stored.attention_reason, stored.updated_at > hour_ago) == (TopUpState.REJECTED, reason, True)
    event = last_event(topup)
    assert (event.kind, event.actor, event.actor_user_id, event.state) == ("rejected", "staff", staff.pk, "rejected")
    assert event.detail == {"reason": reason}
    assert TopUp.objects.get(pk=other.pk).state == TopUpState.PENDING


def test_a_top_up_that_can_no_longer_be_rejected_is_refused_naming_its_state(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    topup_report_apply(method=method, report=paid(topup, state=ReportState.EXPIRED))
    with pytest.raises(TopUpRefused) as refused:
        crediting.topup_staff_reject(topup=topup, staff=UserFactory(is_staff=True), reason="No such transfer.")
    assert str(refused.value) == f"Top-up #{topup.pk} is expired: only a pending one or one under review can be rejected."
    assert TopUp.objects.get(pk=topup.pk).state == TopUpState.EXPIRED


# Checks ------------------------------------------------------------------------------------------------------------


def test_a_check_asks_the_gateway_about_this_top_up_through_its_method(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    asked = []
    fake_gateway.fetch = lambda *, method, topup: asked.append((method, topup)) or None
    assert crediting.topup_check(topup=topup) is Outcome.UNCHANGED
    assert asked == [(method, topup)]
