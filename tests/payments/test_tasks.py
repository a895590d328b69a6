"""The payment tasks: a check a customer's page asked for, and the periodic check of pending top-ups that also expires them."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from shop import tasks as shop_tasks
from shop.core.schedule import periodic_tasks_ensure
from shop.models import LedgerEntry, TopUp, TopUpEvent, TopUpState
from shop.payments import tasks
from shop.payments.crediting import Outcome, topup_report_apply
from shop.payments.interface import GatewayError, GatewayUnavailable, Report, ReportState
from shop.payments.models import PaymentMethod
from shop.payments.tasks import topup_check_task, topups_check_pending
from shop.wallet.selectors import balance_of
from tests.factories import UserFactory
from tests.payments import fake_gateway
from tests.payments.fake_gateway import paid

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(monkeypatch) -> fake_gateway.Script:
    return fake_gateway.install(monkeypatch)


@pytest.fixture
def card(fake) -> PaymentMethod:
    return fake_gateway.method(fee_percent=Decimal("2"))


@pytest.fixture
def user(db):
    return UserFactory()


def topup(method: PaymentMethod, user, *, age: timedelta = timedelta(minutes=5), checked: timedelta | None = None, **fields) -> TopUp:
    """A pending top-up started ``age`` ago (and last checked ``checked`` ago, if ever), as the gateway knows it."""
    row = TopUp.objects.create(user=user, method=method, amount=Decimal("50"), currency="USD", **fields)
    now = timezone.now()
    TopUp.objects.filter(pk=row.pk).update(
        created_at=now - age, checked_at=None if checked is None else now - checked, gateway_id=f"fake-{row.public_id}"
    )
    row.refresh_from_db()
    return row


def still_pending() -> Report:
    """What the gateway says about any top-up it has not been paid for yet."""
    return Report(state=ReportState.PENDING)


# The check a page asked for ----------------------------------------------------------------------------------------------


def test_the_check_task_credits_what_the_gateway_reports_paid(fake, card, user) -> None:
    pending = topup(card, user)
    fake.fetched = paid(pending)
    assert topup_check_task(pending.pk) == "credited"
    pending.refresh_from_db()
    assert pending.state == TopUpState.PAID and pending.checked_at is not None
    assert balance_of(user=user) == Decimal("50.0000")
    assert TopUpEvent.objects.filter(topup=pending, kind=TopUpEvent.Kind.PAID, actor=TopUpEvent.Actor.CHECK).exists()


def test_the_check_task_leaves_an_unreachable_gateway_to_the_periodic_run(fake, card, user, caplog) -> None:
    pending = topup(card, user)
    fake.fetch_error = GatewayUnavailable("read timeout")
    with caplog.at_level(logging.WARNING):
        assert topup_check_task(pending.pk) == "unavailable"
    pending.refresh_from_db()
    assert pending.state == TopUpState.PENDING
    assert "gateway fake unavailable" in caplog.text and fake_gateway.SECRET not in caplog.text


def test_the_check_task_logs_a_gateway_refusal_and_changes_nothing(fake, card, user) -> None:
    pending = topup(card, user)
    fake.fetch_error = GatewayError("unknown invoice")
    assert topup_check_task(pending.pk) == "error"
    pending.refresh_from_db()
    assert pending.state == TopUpState.PENDING


def test_the_check_task_does_not_ask_about_a_top_up_that_is_no_longer_pending(fake, card, user) -> None:
    done = topup(card, user)
    topup_report_apply(method=card, report=paid(done))
    assert topup_check_task(done.pk) == "not pending"
    assert topup_check_task(999_999) == "not pending"
    assert fake.called("fetch") == []


def test_a_check_claim_is_won_once_per_interval(card, user) -> None:
    pending = topup(card, user)
    every = timedelta(seconds=15)
    assert [tasks.topup_check_claim(topup_id=pending.pk, every=every) for _ in range(3)] == [True, False, False]
    TopUp.objects.filter(pk=pending.pk).update(checked_at=timezone.now() - timedelta(seconds=16))
    assert tasks.topup_check_claim(topup_id=pending.pk, every=every) is True
    TopUp.objects.filter(pk=pending.pk).update(state=TopUpState.FAILED, checked_at=None)
    assert tasks.topup_check_claim(topup_id=pending.pk, every=every) is False


# The periodic check -----------------------------------------------------------------------------------------------------


def test_the_periodic_check_asks_about_pending_top_ups_due_and_credits_them(fake, card, user) -> None:
    due = topup(card, user)
    stale = topup(card, user, checked=timedelta(seconds=61))
    fresh = topup(card, user, age=timedelta(seconds=90))  # the payer is likely still at the gateway
    recent = topup(card, user, checked=timedelta(seconds=30))
    done = topup(card, user)
    topup_report_apply(method=card, report=paid(done))
    fake.fetched = still_pending()
    assert topups_check_pending() == "2 unchanged"
    assert sorted(fake.called("fetch")) == sorted([due.pk, stale.pk])
    for row in (fresh, recent):
        row.refresh_from_db()
        assert row.state == TopUpState.PENDING


def test_the_periodic_check_takes_at_most_a_batch_least_recently_checked_first(fake, card, user, monkeypatch) -> None:
    monkeypatch.setattr(tasks, "PERIODIC_BATCH", 3)
    rows = [topup(card, user, checked=timedelta(minutes=minutes)) for minutes in (2, 9, 5, 7)]
    never = topup(card, user)
    fake.fetched = still_pending()
    topups_check_pending()
    assert fake.called("fetch") == [never.pk, rows[1].pk, rows[3].pk]
    assert topups_check_pending() == "2 unchanged"  # the rest, on the next run
    assert fake.called("fetch")[3:] == [rows[2].pk, rows[0].pk]


def test_a_top_up_still_pending_after_its_lifetime_expires_and_a_late_payment_still_credits(fake, card, user, settings) -> None:
    settings.TOPUP_LIFETIME = 3600
    old = topup(card, user, age=timedelta(seconds=3601))
    young = topup(card, user, age=timedelta(seconds=3500))
    fake.fetched = still_pending()
    assert topups_check_pending() == "1 closed, 1 unchanged"
    old.refresh_from_db()
    young.refresh_from_db()
    assert (old.state, young.state) == (TopUpState.EXPIRED, TopUpState.PENDING)
    event = TopUpEvent.objects.get(topup=old, kind=TopUpEvent.Kind.EXPIRED)
    assert event.actor == TopUpEvent.Actor.SYSTEM
    assert not LedgerEntry.objects.filter(topup=old).exists()
    # The gateway's money arrives after all: a verified report still credits an expired top-up.
    assert topup_report_apply(method=card, report=paid(old)) == Outcome.CREDITED


def test_an_old_top_up_is_not_expired_when_its_gateway_cannot_be_asked(fake, card, user, settings) -> None:
    settings.TOPUP_LIFETIME = 60
    old = topup(card, user, age=timedelta(hours=2))
    fake.fetch_error = GatewayUnavailable("connect timeout")
    assert topups_check_pending() == "1 error"
    old.refresh_from_db()
    assert old.state == TopUpState.PENDING


def test_an_old_top_up_the_gateway_reports_paid_is_credited_not_expired(fake, card, user, settings) -> None:
    settings.TOPUP_LIFETIME = 60
    old = topup(card, user, age=timedelta(hours=2))
    fake.fetched = paid(old)
    assert topups_check_pending() == "1 credited"
    old.refresh_from_db()
    assert old.state == TopUpState.PAID


def test_a_page_s_check_also_expires_a_top_up_past_its_lifetime(fake, card, user, settings) -> None:
    settings.TOPUP_LIFETIME = 60
    old = topup(card, user, age=timedelta(minutes=2))
    fake.fetched = None  # a gateway with nothing to fetch
    assert topup_check_task(old.pk) == "closed"
    old.refresh_from_db()
    assert old.state == TopUpState.EXPIRED


def test_a_gateway_that_is_down_costs_one_call_per_run(fake, card, user) -> None:
    other = fake_gateway.method(code="fake-2", name="Fake two")
    for _ in range(3):
        topup(card, user)
    theirs = topup(other, user)
    fake.fetch_error = GatewayUnavailable("connect timeout")
    topups_check_pending()
    fetched = fake.called("fetch")
    assert len(fetched) == 2 and theirs.pk in fetched  # one for each method: the first failure skips the rest of its method


def test_overlapping_periodic_runs_check_a_top_up_once(fake, card, user, monkeypatch) -> None:
    pending = topup(card, user)
    fake.fetched = still_pending()
    real_check = tasks.topup_check

    def check_during_another_run(*, topup):
        assert topups_check_pending() == "none due"  # the second run finds the claim taken
        return real_check(topup=topup)

    monkeypatch.setattr(tasks, "topup_check", check_during_another_run)
    assert topups_check_pending() == "1 unchanged"
    assert fake.called("fetch") == [pending.pk]


# Registration -----------------------------------------------------------------------------------------------------------


def test_the_tasks_are_registered_under_shop_tasks_and_the_periodic_one_is_scheduled(settings) -> None:
    assert shop_tasks.topup_check_task.name == "shop.tasks.topup_check_task"
    assert shop_tasks.topups_check_pending.name == "shop.tasks.topups_check_pending"
    settings.TOPUP_CHECK_INTERVAL = 45
    assert "Check pending top-ups" in periodic_tasks_ensure()
    task = PeriodicTask.objects.get(task="shop.tasks.topups_check_pending")
    assert (task.interval.every, task.interval.period) == (45, "seconds")
