# ruff: noqa: F811  (test parameters take the names of the fixtures imported from test_crediting)
"""A top-up's history (shop/payments/history.py): each event records what happened, who did it, the state after it, and
its facts, with amounts kept as exact text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.models import TopUp, TopUpEvent, TopUpState
from shop.payments.history import CHECK, GATEWAY, SYSTEM, Actor, Kind, event_record
from tests.factories import UserFactory
from tests.payments.test_crediting import customer, fake_gateway, method, started  # noqa: F401 (fixtures, used as test parameters)

pytestmark = pytest.mark.django_db


def test_an_event_records_its_kind_who_did_it_and_the_state_the_top_up_is_in(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    staff = UserFactory(is_staff=True)
    TopUp.objects.filter(pk=topup.pk).update(state=TopUpState.REVIEW)
    topup.refresh_from_db()
    event_record(topup, Kind.REVIEW, Actor.staff(staff), {})
    topup.state = TopUpState.REJECTED  # the state after the change, as the caller has it
    event_record(topup, Kind.REJECTED, Actor.customer(customer), {})
    for actor in (GATEWAY, CHECK, SYSTEM):
        event_record(topup, Kind.NOTIFIED, actor, {})
    rows = TopUpEvent.objects.filter(topup=topup).order_by("id").values_list("kind", "actor", "actor_user_id", "state")
    assert list(rows)[1:] == [
        ("review", "staff", staff.pk, "review"),
        ("rejected", "customer", customer.pk, "rejected"),
        ("notified", "gateway", None, "rejected"),
        ("notified", "check", None, "rejected"),
        ("notified", "system", None, "rejected"),
    ]


def test_amounts_in_an_events_facts_are_kept_as_exact_text_and_every_other_value_as_it_is(customer, method, fake_gateway) -> None:
    topup = started(customer, method, fake_gateway)
    detail = {
        "amount": Decimal("102.0000"),
        "share": Decimal("0.5"),
        "covered": True,
        "late": False,
        "count": 3,
        "note": "",
        "missing": None,
        "gateway": {"stripe": "charge.refunded", "ids": ["ch_1", "ch_2"]},
    }
    returned = event_record(topup, Kind.REVERSED, GATEWAY, detail)
    expected = {**detail, "amount": "102.0000", "share": "0.5"}
    assert returned.detail == expected
    assert TopUpEvent.objects.get(pk=returned.pk).detail == expected
    assert detail["amount"] == Decimal("102.0000")  # the caller's facts are left as they were
