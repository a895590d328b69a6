# ruff: noqa: F811  (test parameters take the names of the fixtures imported from test_crediting)
"""Refunds and disputes of top-ups (shop/payments/reversals.py): the balance gives back what the top-up gave, in the same
share, once; what it cannot cover is owed, holds the balance, and is collected or written off by staff."""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from shop.models import LedgerEntry, TopUp, TopUpEvent, TopUpState, Wallet
from shop.payments import reversals
from shop.payments.crediting import CHECK, GATEWAY, Outcome, TopUpRefused, topup_owed_collect, topup_owed_write_off, topup_report_apply
from shop.payments.interface import Report, ReportState
from shop.payments.reversals import reversal_settle
from shop.wallet.services import wallet_adjust, wallet_credit
from tests.factories import UserFactory
from tests.payments.test_crediting import (  # noqa: F401 (fixtures, used as test parameters)
    balance,
    customer,
    fake_gateway,
    held_after_reversal,
    method,
    paid,
    reversed_report,
    started,
)

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
WRITE_OFF_REFUSED = "A write-off needs a reason of 1 to 500 characters of plain text."


def hold_reason(topup: TopUp) -> str:
    return f"Top-up #{topup.pk} was reversed and the balance could not cover it."


def credited(customer, method, fake_gateway) -> TopUp:
    """A top-up of 100.00 paid: the balance got 102.00 (a fee of 3, a bonus of 5)."""
    topup = started(customer, method, fake_gateway)
    assert topup_report_apply(method=method, report=paid(topup)) is Outcome.CREDITED
    return TopUp.objects.get(pk=topup.pk)


def spend(customer, amount: str) -> None:
    wallet_adjust(user=customer, amount=Decimal(amount), direction="debit", reason="spent", admin=UserFactory(is_staff=True))


def deposit(customer, amount: str) -> None:
    wallet_credit(user=customer, amount=Decimal(amount), kind=Kind.DEPOSIT)


def report_facts(event_id: str) -> dict:
    """What ``topup_report_apply`` records of a reversal report with no note and no gateway detail."""
    return {"report": "reversed", "event_id": event_id, "note": "", "gateway": {}}


def dispute(topup: TopUp, total: str) -> Report:
    return Report(
        state=ReportState.REVERSED, gateway_id=topup.gateway_id, reversed_total=Decimal(total), reversal="dispute", event_id=f"dp_{total}"
    )


def last_event(topup: TopUp) -> tuple:
    event = TopUpEvent.objects.filter(topup=topup).order_by("id").last()
    return event.kind, event.actor, event.actor_user_id, event.state, event.detail


def reversal_lines(topup: TopUp) -> list[tuple[Decimal, str]]:
    return list(LedgerEntry.objects.filter(topup=topup, kind=Kind.REVERSAL).order_by("id").values_list("amount", "reason"))


def warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "shop.payments.reversals"]


# Recording a gateway's running totals -----------------------------------------


def test_a_reversal_before_the_payment_is_kept_with_an_event_saying_it_applies_when_paid(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    before = TopUp.objects.get(pk=topup.pk).updated_at
    assert topup_report_apply(method=method, report=reversed_report(topup, "100")) is Outcome.REVERSED
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.state, stored.refunded_total, stored.disputed_total, stored.reversed_amount, stored.reversal_owed) == (
        TopUpState.PENDING,
        Decimal("100"),
        0,
        0,
        0,
    )
    assert stored.updated_at > before
    assert last_event(topup) == (
        "reversed",
        "gateway",
        None,
        "pending",
        {**report_facts("rev_100"), "refund": "100", "applied": "when the top-up is paid"},
    )
    assert not LedgerEntry.objects.exists()


def test_a_repeated_or_older_running_total_changes_nothing_and_the_event_says_why(customer, method, fake_gateway) -> None:
    topup = credited(customer, method, fake_gateway)
    topup_report_apply(method=method, report=reversed_report(topup, "100"))
    changed = TopUp.objects.get(pk=topup.pk).updated_at
    for total in ("100", "30", "-5"):  # the same total, an older one, a nonsense one (counted as 0)
        assert topup_report_apply(method=method, report=reversed_report(topup, total)) is Outcome.UNCHANGED
        assert last_event(topup) == (
            "ignored",
            "gateway",
            None,
            "paid",
            {**report_facts(f"rev_{total}"), "why": f"refund of {max(Decimal(total), 0)} already recorded"},
        )
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.refunded_total, stored.reversed_amount, stored.updated_at) == (Decimal("100"), Decimal("102"), changed)
    assert balance(customer) == 0


def test_a_reversal_of_a_kind_the_shop_does_not_know_counts_as_a_refund(customer, method, fake_gateway) -> None:
    topup = credited(customer, method, fake_gateway)
    report = Report(state=ReportState.REVERSED, gateway_id=topup.gateway_id, reversed_total=Decimal("50"), reversal="chargeback")
    assert topup_report_apply(method=method, report=report) is Outcome.REVERSED
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.refunded_total, stored.disputed_total, stored.reversed_amount) == (Decimal("50"), 0, Decimal("51"))
    assert balance(customer) == Decimal("51")
    assert last_event(topup)[4] == {**report_facts(""), "chargeback": "50", "amount": "51.0000", "covered": True}


# Settling a paid top-up -------------------------------------------------------


def test_a_reversal_the_balance_covers_is_one_ledger_line_naming_the_top_up_an_event_and_a_warning(
    customer, method, fake_gateway, caplog
) -> None:
    topup = credited(customer, method, fake_gateway)
    before = topup.updated_at
    caplog.set_level(logging.WARNING, logger="shop.payments.reversals")
    assert topup_report_apply(method=method, report=reversed_report(topup, "100")) is Outcome.REVERSED
    assert reversal_lines(topup) == [(Decimal("-102"), f"Top-up #{topup.pk} reversed")]
    assert balance(customer) == 0
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.reversed_amount, stored.reversal_owed, stored.attention_reason) == (Decimal("102"), 0, "")
    assert stored.updated_at > before
    assert last_event(topup) == (
        "reversed",
        "gateway",
        None,
        "paid",
        {**report_facts("rev_100"), "refund": "100", "amount": "102.0000", "covered": True},
    )
    assert warnings(caplog) == [f"top-up {topup.pk} reversed by 102.0000 (covered: True)"]
    assert Wallet.objects.get(user=customer).hold_reason == ""


def test_a_reversal_the_balance_cannot_cover_is_owed_with_an_event_a_reason_for_staff_and_a_warning(
    customer, method, fake_gateway, caplog
) -> None:
    topup = credited(customer, method, fake_gateway)
    spend(customer, "50")
    caplog.set_level(logging.WARNING, logger="shop.payments.reversals")
    assert topup_report_apply(method=method, report=reversed_report(topup, "100"), actor=CHECK) is Outcome.REVERSED
    assert reversal_lines(topup) == []
    assert balance(customer) == Decimal("52")
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.reversed_amount, stored.reversal_owed) == (0, Decimal("102"))
    assert stored.attention_reason == "Reversed by the gateway: 102.0000 USD not covered by the balance."
    assert last_event(topup) == (
        "reversed",
        "check",
        None,
        "paid",
        {**report_facts("rev_100"), "refund": "100", "amount": "102.0000", "covered": False},
    )
    assert warnings(caplog) == [f"top-up {topup.pk} reversed by 102.0000 (covered: False)"]
    assert Wallet.objects.get(user=customer).hold_reason == hold_reason(topup)


def test_each_uncovered_part_of_a_growing_refund_adds_to_what_is_owed(customer, method, fake_gateway) -> None:
    topup = credited(customer, method, fake_gateway)
    spend(customer, "72")  # 30 left
    topup_report_apply(method=method, report=reversed_report(topup, "50"))
    assert TopUp.objects.get(pk=topup.pk).reversal_owed == Decimal("51")
    topup_report_apply(method=method, report=reversed_report(topup, "100"))  # the other half: 51 more, not 51 + 51 owed already
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.reversed_amount, stored.reversal_owed) == (0, Decimal("102"))
    assert stored.attention_reason == "Reversed by the gateway: 102.0000 USD not covered by the balance."
    assert last_event(topup)[4] == {**report_facts("rev_100"), "refund": "100", "amount": "51.0000", "covered": False}
    assert balance(customer) == Decimal("30")


def test_what_was_written_off_is_not_asked_for_again_and_write_offs_add_up(customer, method, fake_gateway) -> None:
    staff = UserFactory(is_staff=True)
    topup = credited(customer, method, fake_gateway)
    spend(customer, "102")
    topup_report_apply(method=method, report=reversed_report(topup, "50"))
    assert topup_owed_write_off(topup=topup, staff=staff, reason="Half settled by bank transfer.") is Outcome.CLOSED
    topup_report_apply(method=method, report=reversed_report(topup, "100"))  # only the other half is owed now
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.reversal_owed, stored.reversal_written_off) == (Decimal("51"), Decimal("51"))
    assert topup_owed_write_off(topup=topup, staff=staff, reason="The rest too.") is Outcome.CLOSED
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.reversed_amount, stored.reversal_owed, stored.reversal_written_off) == (0, 0, Decimal("102"))
    deposit(customer, "200")
    topup_report_apply(method=method, report=dispute(topup, "10"))
    assert balance(customer) == Decimal("200")
    assert reversal_lines(topup) == []


def test_what_was_written_off_is_left_out_when_a_later_refund_is_covered(customer, method, fake_gateway) -> None:
    topup = credited(customer, method, fake_gateway)
    spend(customer, "102")
    topup_report_apply(method=method, report=reversed_report(topup, "50"))
    topup_owed_write_off(topup=topup, staff=UserFactory(is_staff=True), reason="Half settled by bank transfer.")
    deposit(customer, "200")
    topup_report_apply(method=method, report=reversed_report(topup, "100"))
    assert reversal_lines(topup) == [(Decimal("-51"), f"Top-up #{topup.pk} reversed")]
    assert balance(customer) == Decimal("149")


def test_a_reversal_already_taken_in_full_changes_nothing_more_and_the_event_says_so(customer, method, fake_gateway) -> None:
    topup = credited(customer, method, fake_gateway)
    topup_report_apply(method=method, report=reversed_report(topup, "100"))
    deposit(customer, "50")
    # A dispute on top of a full refund: recorded, but the share cannot pass the whole top-up.
    assert topup_report_apply(method=method, report=dispute(topup, "10"), actor=CHECK) is Outcome.REVERSED
    assert last_event(topup) == (
        "ignored",
        "check",
        None,
        "paid",
        {**report_facts("dp_10"), "dispute": "10", "why": "reversal already applied"},
    )
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.refunded_total, stored.disputed_total, stored.reversed_amount) == (Decimal("100"), Decimal("10"), Decimal("102"))
    assert balance(customer) == Decimal("50")
    assert len(reversal_lines(topup)) == 1


def test_settling_what_is_already_settled_returns_zero_and_without_facts_records_nothing(customer, method, fake_gateway) -> None:
    topup = credited(customer, method, fake_gateway)
    topup_report_apply(method=method, report=reversed_report(topup, "100"))
    count = TopUpEvent.objects.filter(topup=topup).count()
    assert reversal_settle(TopUp.objects.get(pk=topup.pk), GATEWAY, {}) == Decimal("0")
    assert TopUpEvent.objects.filter(topup=topup).count() == count


def test_a_refund_worth_less_than_one_is_taken_too(customer, method, fake_gateway) -> None:
    topup = credited(customer, method, fake_gateway)
    topup_report_apply(method=method, report=reversed_report(topup, "0.50"))  # 0.5% of 102.00, rounded to the cent
    assert reversal_lines(topup) == [(Decimal("-0.51"), f"Top-up #{topup.pk} reversed")]
    assert balance(customer) == Decimal("101.49")
    assert last_event(topup)[4] == {**report_facts("rev_0.50"), "refund": "0.50", "amount": "0.5100", "covered": True}


# Staff: collecting or writing off what is owed ---------------------------------


def test_collecting_takes_all_that_is_owed_adds_it_to_what_was_taken_and_records_who(customer, method, fake_gateway) -> None:
    staff = UserFactory(is_staff=True)
    topup = credited(customer, method, fake_gateway)
    topup_report_apply(method=method, report=reversed_report(topup, "25"))  # 25.50 taken
    spend(customer, "76.5")
    topup_report_apply(method=method, report=reversed_report(topup, "50"))  # 25.50 more, owed
    deposit(customer, "30")
    before = TopUp.objects.get(pk=topup.pk).updated_at
    assert topup_owed_collect(topup=topup, staff=staff) is Outcome.REVERSED
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.reversed_amount, stored.reversal_owed, stored.attention_reason) == (Decimal("51"), 0, "")
    assert stored.updated_at > before
    assert reversal_lines(topup) == [(Decimal("-25.5"), f"Top-up #{topup.pk} reversed")] * 2
    assert balance(customer) == Decimal("4.5")
    assert last_event(topup) == ("reversed", "staff", staff.pk, "paid", {"amount": "25.5000", "covered": True, "collected": "owed"})
    assert Wallet.objects.get(user=customer).hold_reason == ""


@pytest.mark.parametrize("action", ["collect", "write off"])
def test_an_owed_amount_under_one_can_be_collected_or_written_off(customer, method, fake_gateway, action) -> None:
    staff = UserFactory(is_staff=True)
    topup = credited(customer, method, fake_gateway)
    spend(customer, "102")
    topup_report_apply(method=method, report=reversed_report(topup, "0.50"))
    assert TopUp.objects.get(pk=topup.pk).reversal_owed == Decimal("0.51")
    if action == "collect":
        deposit(customer, "1")
        assert topup_owed_collect(topup=topup, staff=staff) is Outcome.REVERSED
        assert balance(customer) == Decimal("0.49")
    else:
        assert topup_owed_write_off(topup=topup, staff=staff, reason="Too small to chase.") is Outcome.CLOSED
        assert TopUp.objects.get(pk=topup.pk).reversal_written_off == Decimal("0.51")
    assert TopUp.objects.get(pk=topup.pk).reversal_owed == 0
    assert Wallet.objects.get(user=customer).hold_reason == ""


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501, "a\x00b", "two\nlines"])
def test_a_write_off_without_a_reason_of_1_to_500_characters_of_plain_text_is_refused_and_nothing_changes(
    customer, method, fake_gateway, reason
) -> None:
    topup = held_after_reversal(customer, method, fake_gateway, Decimal("102"))
    with pytest.raises(TopUpRefused) as refused:
        topup_owed_write_off(topup=topup, staff=UserFactory(is_staff=True), reason=reason)
    assert str(refused.value) == WRITE_OFF_REFUSED
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.reversal_owed, stored.reversal_written_off) == (Decimal("102"), 0)
    assert not TopUpEvent.objects.filter(topup=topup, kind="written_off").exists()
    assert Wallet.objects.get(user=customer).hold_reason == hold_reason(topup)


def test_a_write_off_keeps_its_reason_of_up_to_500_characters_stripped_and_clears_the_reason_for_staff(
    customer, method, fake_gateway
) -> None:
    staff = UserFactory(is_staff=True)
    topup = held_after_reversal(customer, method, fake_gateway, Decimal("102"))
    before = topup.updated_at
    reason = "x" * 500
    assert topup_owed_write_off(topup=topup, staff=staff, reason=f"  {reason}\n") is Outcome.CLOSED
    stored = TopUp.objects.get(pk=topup.pk)
    assert (stored.reversal_owed, stored.reversal_written_off, stored.attention_reason) == (0, Decimal("102"), "")
    assert stored.updated_at > before
    assert last_event(topup) == ("written_off", "staff", staff.pk, "paid", {"amount": "102.0000", "reason": reason})
    assert balance(customer) == 0
    assert reversal_lines(topup) == []


def test_the_hold_lifts_when_this_customer_owes_nothing_whatever_other_customers_owe(customer, method, fake_gateway) -> None:
    staff = UserFactory(is_staff=True)
    other = UserFactory()
    held_after_reversal(other, method, fake_gateway, Decimal("102"))
    topup = held_after_reversal(customer, method, fake_gateway, Decimal("102"))
    topup_owed_write_off(topup=topup, staff=staff, reason="Loss.")
    assert Wallet.objects.get(user=customer).hold_reason == ""
    assert Wallet.objects.get(user=other).hold_reason != ""


def test_the_hold_stays_while_another_top_up_of_the_customer_owes_even_less_than_one(customer, method, fake_gateway) -> None:
    staff = UserFactory(is_staff=True)
    first = held_after_reversal(customer, method, fake_gateway, Decimal("102"))
    second = credited(customer, method, fake_gateway)
    spend(customer, "102")
    topup_report_apply(method=method, report=reversed_report(second, "0.50"))  # 0.51 owed
    topup_owed_write_off(topup=first, staff=staff, reason="Loss.")
    assert Wallet.objects.get(user=customer).hold_reason == hold_reason(first)
    deposit(customer, "1")
    topup_owed_collect(topup=second, staff=staff)
    assert Wallet.objects.get(user=customer).hold_reason == ""


# Concurrency -------------------------------------------------------------------


def _waiting_on_a_lock(pid: int | None) -> bool:
    if pid is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [pid])
        return cursor.fetchone()[0] > 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_off_racing_a_new_uncovered_reversal_of_another_top_up_leaves_the_balance_on_hold(
    customer, method, fake_gateway, monkeypatch
) -> None:
    """The write-off's check "nothing else owed" must see the reversal that is putting the hold back: both lock the wallet first."""
    staff = UserFactory(is_staff=True)
    first = held_after_reversal(customer, method, fake_gateway, Decimal("102"))  # owes 102: on hold
    second = credited(customer, method, fake_gateway)
    spend(customer, "102")
    held, done = threading.Event(), threading.Event()
    write_off_pid: list[int] = []
    failures: list[Exception] = []
    original_hold = reversals.wallet_hold

    def hold_then_wait(**kwargs) -> None:
        # The reversal has just found the balance short; it waits here, in its transaction, until the write-off has
        # finished or is blocked waiting for a lock (it must be: on the wallet this transaction locked).
        original_hold(**kwargs)
        held.set()
        deadline = time.monotonic() + 10
        while not done.is_set() and not _waiting_on_a_lock(write_off_pid[0] if write_off_pid else None):
            assert time.monotonic() < deadline, "the write-off neither finished nor waited for a lock"
            time.sleep(0.01)

    monkeypatch.setattr(reversals, "wallet_hold", hold_then_wait)

    def reverse() -> None:
        try:
            topup_report_apply(method=method, report=reversed_report(second, "100"))
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    def write_off() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            assert held.wait(10)
            write_off_pid.append(pid)
            topup_owed_write_off(topup=first, staff=staff, reason="Loss.")
        except Exception as exc:
            failures.append(exc)
        finally:
            done.set()
            connection.close()

    threads = [threading.Thread(target=reverse), threading.Thread(target=write_off)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert TopUp.objects.get(pk=second.pk).reversal_owed == Decimal("102")
    assert TopUp.objects.get(pk=first.pk).reversal_owed == 0
    assert Wallet.objects.get(user=customer).hold_reason != ""
