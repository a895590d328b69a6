"""Referrals: attributing sign-ups (never oneself, never in a circle), earning a share of paid top-ups once, and paying
earnings out to the balance through the ledger, once, from the minimum."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from shop.affiliates.models import Referral, ReferralEarning, ReferralPayout
from shop.affiliates.selectors import affiliate_summary, masked
from shop.affiliates.services import (
    PayoutRefused,
    ReferralRefused,
    affiliate_link_of,
    referral_attach,
    referral_click,
    referral_earn,
    referral_payout,
    referral_reverse,
    unpaid_total,
)
from shop.catalogue.models import ShopSettings
from shop.payments.crediting import topup_create, topup_staff_credit
from shop.payments.history import Actor, ActorKind
from shop.payments.interface import DISPUTE, REFUND
from shop.payments.models import PaymentMethod
from shop.payments.reversals import reversal_record
from shop.wallet.models import LedgerEntry
from shop.wallet.selectors import balance_of
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory
from tests.helpers import assert_ledger_holds

pytestmark = pytest.mark.django_db


@pytest.fixture
def manual():
    return PaymentMethod.objects.create(
        code="bank",
        kind=PaymentMethod.Kind.MANUAL,
        name="Bank",
        is_enabled=True,
        currency=settings.SHOP_CURRENCY,
        bonus_percent=Decimal("10"),
        bonus_threshold=Decimal("1"),
        fee_percent=Decimal("2"),
    )


@pytest.fixture
def staff():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def pair():
    """A referrer and the customer they referred."""
    referrer, referee = UserFactory(username="alice"), UserFactory(username="bob")
    referral_attach(referee=referee, code=affiliate_link_of(user=referrer).code)
    return referrer, referee


def pay(user, method, staff, amount: str):
    topup = topup_create(user=user, method=method, amount=amount, reference="TRX", urls=lambda topup: None)
    topup_staff_credit(topup=topup, staff=staff)
    topup.refresh_from_db()
    return topup


def test_each_customer_has_one_link_made_when_first_asked() -> None:
    user = UserFactory()
    link = affiliate_link_of(user=user)
    assert affiliate_link_of(user=user) == link and len(link.code) == 8
    assert affiliate_link_of(user=UserFactory()).code != link.code


def test_a_click_counts_on_the_link_and_an_unknown_code_finds_nothing() -> None:
    link = affiliate_link_of(user=UserFactory())
    assert referral_click(code=link.code) == link
    referral_click(code=link.code)
    link.refresh_from_db()
    assert link.clicks == 2
    assert referral_click(code="nope") is None and referral_click(code="x" * 17) is None and referral_click(code="") is None


def test_a_sign_up_is_attributed_once_and_never_to_oneself_or_in_a_circle() -> None:
    alice, bob, carol = UserFactory(username="alice"), UserFactory(username="bob"), UserFactory(username="carol")
    with pytest.raises(ReferralRefused, match="cannot refer themselves"):
        referral_attach(referee=alice, code=affiliate_link_of(user=alice).code)
    twin = UserFactory(username="alice2", email=alice.email.upper())
    with pytest.raises(ReferralRefused, match="cannot refer themselves"):
        referral_attach(referee=twin, code=affiliate_link_of(user=alice).code)
    referral_attach(referee=bob, code=affiliate_link_of(user=alice).code)
    referral_attach(referee=carol, code=affiliate_link_of(user=bob).code)
    with pytest.raises(ReferralRefused, match="circle"):
        referral_attach(referee=alice, code=affiliate_link_of(user=carol).code)  # alice -> bob -> carol -> alice
    with pytest.raises(ReferralRefused, match="referred already"):
        referral_attach(referee=bob, code=affiliate_link_of(user=UserFactory(username="dave")).code)
    with pytest.raises(ReferralRefused, match="No such referral link"):
        referral_attach(referee=UserFactory(), code="missing")
    assert sorted(Referral.objects.values_list("referee__username", "referrer__username")) == [("bob", "alice"), ("carol", "bob")]


def test_the_database_refuses_a_self_referral() -> None:
    alice = UserFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(referee=alice, referrer=alice)


def test_a_paid_top_up_earns_its_share_of_what_was_paid_not_of_the_bonus_once(pair, manual, staff) -> None:
    referrer, referee = pair
    topup = pay(referee, manual, staff, "200")
    assert topup.bonus > 0  # the bonus is not earned on
    (earning,) = ReferralEarning.objects.all()
    assert (earning.referrer, earning.topup, earning.percent, earning.amount) == (referrer, topup, Decimal("5.00"), Decimal("10.0000"))
    assert referral_earn(topup=topup) == earning  # a second credit of the same top-up earns nothing more
    topup_staff_credit(topup=topup, staff=staff)
    assert ReferralEarning.objects.count() == 1


def test_admin_credits_and_customers_without_a_referrer_earn_nothing(pair, manual, staff) -> None:
    _, referee = pair
    wallet_credit(user=referee, amount=Decimal("500"), kind=LedgerEntry.Kind.ADJUSTMENT, reason="goodwill", created_by=staff)
    pay(UserFactory(), manual, staff, "100")  # no referrer
    assert not ReferralEarning.objects.exists()


def test_a_share_of_zero_earns_nothing_and_the_share_is_the_one_in_force_when_paid(pair, manual, staff) -> None:
    _, referee = pair
    ShopSettings.objects.update_or_create(pk=1, defaults={"referral_percent": Decimal("0")})
    pay(referee, manual, staff, "100")
    assert not ReferralEarning.objects.exists()
    ShopSettings.objects.filter(pk=1).update(referral_percent=Decimal("12.5"))
    pay(referee, manual, staff, "100")
    assert ReferralEarning.objects.get().amount == Decimal("12.5000")


def test_earnings_are_paid_out_to_the_balance_once_from_the_minimum(pair, manual, staff) -> None:
    referrer, referee = pair
    pay(referee, manual, staff, "100")  # earns 5
    with pytest.raises(PayoutRefused, match=r"^Earnings are paid out from 10.00: you have 5.00 so far.$"):
        referral_payout(referrer=referrer)
    pay(referee, manual, staff, "120")  # earns 6
    before = balance_of(user=referrer)
    payout = referral_payout(referrer=referrer)
    assert payout.amount == Decimal("11.0000") and balance_of(user=referrer) == before + Decimal("11")
    assert payout.entry.kind == LedgerEntry.Kind.REFERRAL and payout.entry.amount == Decimal("11.0000")
    assert set(ReferralEarning.objects.values_list("payout", flat=True)) == {payout.pk}
    with pytest.raises(PayoutRefused, match=r"^You have no earnings to pay out yet\.$"):
        referral_payout(referrer=referrer)
    assert ReferralPayout.objects.count() == 1 and unpaid_total(referrer=referrer) == 0
    assert_ledger_holds(referrer)


def test_a_payout_below_the_minimum_writes_nothing(pair, manual, staff) -> None:
    referrer, referee = pair
    pay(referee, manual, staff, "20")
    entries = LedgerEntry.objects.count()
    with pytest.raises(PayoutRefused):
        referral_payout(referrer=referrer)
    assert LedgerEntry.objects.count() == entries and not ReferralPayout.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_payouts_at_once_pay_each_earning_once() -> None:
    from tests.helpers import race

    manual = PaymentMethod.objects.create(
        code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank", is_enabled=True, currency=settings.SHOP_CURRENCY
    )
    staff = UserFactory(is_staff=True, is_superuser=True)
    referrer, referee = UserFactory(username="alice"), UserFactory(username="bob")
    referral_attach(referee=referee, code=affiliate_link_of(user=referrer).code)
    for _ in range(3):
        pay(referee, manual, staff, "100")

    def attempt() -> str:
        try:
            referral_payout(referrer=referrer)
        except PayoutRefused:
            return "refused"
        return "paid"

    assert sorted(race(2, attempt)) == ["paid", "refused"]
    assert ReferralPayout.objects.get().amount == Decimal("15.0000")
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).count() == 1
    assert_ledger_holds(referrer)


def test_the_summary_counts_sign_ups_earnings_and_what_is_unpaid(pair, manual, staff, django_assert_max_num_queries) -> None:
    referrer, referee = pair
    referral_attach(referee=UserFactory(username="dave"), code=affiliate_link_of(user=referrer).code)
    pay(referee, manual, staff, "100")
    link = affiliate_link_of(user=referrer)
    with django_assert_max_num_queries(5):
        summary = affiliate_summary(link=link)
        [earning.topup.amount for earning in summary.earnings]
    assert (summary.signups, summary.paying, summary.earned, summary.unpaid) == (2, 1, Decimal("5.0000"), Decimal("5.0000"))
    assert masked(referee) == "bo•••"


def reverse(topup, kind: str, total: str) -> None:
    reversal_record(topup=topup, kind=kind, total=Decimal(total), actor=Actor(ActorKind.GATEWAY), facts={"test": True})


def test_a_refund_before_the_payout_takes_back_the_same_share_of_the_earning_once(pair, manual, staff) -> None:
    referrer, referee = pair
    topup = pay(referee, manual, staff, "200")  # earns 10
    reverse(topup, REFUND, "50")  # a quarter refunded
    earning = ReferralEarning.objects.get()
    assert (earning.amount, earning.reversed_amount, earning.payable) == (Decimal("10.0000"), Decimal("2.5000"), Decimal("7.5000"))
    reverse(topup, REFUND, "50")  # the same running total again: nothing more
    reverse(topup, DISPUTE, "50")  # a dispute of another 50 on top: half of the top-up in all
    earning.refresh_from_db()
    assert earning.reversed_amount == Decimal("5.0000") and unpaid_total(referrer=referrer) == Decimal("5.0000")
    pay(referee, manual, staff, "100")  # earns 5 more
    assert referral_payout(referrer=referrer).amount == Decimal("10.0000")  # 5 kept of the first, 5 of the second
    summary = affiliate_summary(link=affiliate_link_of(user=referrer))
    assert (summary.earned, summary.unpaid) == (Decimal("10.0000"), Decimal("0"))
    assert_ledger_holds(referrer)


def test_a_top_up_refunded_in_full_leaves_nothing_to_pay_out(pair, manual, staff) -> None:
    referrer, referee = pair
    topup = pay(referee, manual, staff, "400")  # earns 20
    reverse(topup, REFUND, "1000")  # more than was paid counts as all of it
    assert ReferralEarning.objects.get().payable == 0 and unpaid_total(referrer=referrer) == 0
    with pytest.raises(PayoutRefused, match=r"you have 0\.00 so far"):
        referral_payout(referrer=referrer)


def test_a_refund_recorded_before_the_payment_shrinks_the_earning_when_it_is_made(pair, manual, staff) -> None:
    _, referee = pair
    topup = topup_create(user=referee, method=manual, amount="200", reference="TRX", urls=lambda topup: None)
    reverse(topup, REFUND, "100")
    topup_staff_credit(topup=topup, staff=staff)
    earning = ReferralEarning.objects.get()
    assert (earning.amount, earning.reversed_amount) == (Decimal("10.0000"), Decimal("5.0000"))


def test_an_earning_paid_out_stays_paid_when_its_top_up_is_refunded_later(pair, manual, staff, caplog) -> None:
    referrer, referee = pair
    topup = pay(referee, manual, staff, "200")  # earns 10
    referral_payout(referrer=referrer)
    before = balance_of(user=referrer)
    with caplog.at_level(logging.WARNING, logger="shop.affiliates.services"):
        reverse(topup, REFUND, "200")
    earning = ReferralEarning.objects.get()
    assert earning.reversed_amount == 0 and balance_of(user=referrer) == before
    assert [record.getMessage() for record in caplog.records if record.name == "shop.affiliates.services"] == [
        f"top-up {topup.pk} reversed after its referral earning {earning.pk} was paid out"
    ]


def test_a_reversal_of_a_top_up_without_an_earning_takes_nothing(manual, staff) -> None:
    topup = pay(UserFactory(), manual, staff, "100")
    assert referral_reverse(topup=topup) == 0
    reverse(topup, REFUND, "100")
    assert not ReferralEarning.objects.exists()


def test_the_database_keeps_what_is_taken_back_within_the_earning(pair, manual, staff) -> None:
    _, referee = pair
    pay(referee, manual, staff, "100")
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferralEarning.objects.update(reversed_amount=F("amount") + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferralEarning.objects.update(reversed_amount=-1)


def test_a_second_ask_for_a_link_costs_one_query(django_assert_num_queries) -> None:
    user = UserFactory()
    link = affiliate_link_of(user=user)
    with django_assert_num_queries(1):
        assert affiliate_link_of(user=user) == link


def test_a_code_that_is_taken_is_drawn_again(monkeypatch) -> None:
    taken = affiliate_link_of(user=UserFactory()).code
    codes = iter([taken, taken, "fresh123"])
    calls = []

    def draw(nbytes: int) -> str:
        calls.append(nbytes)
        if len(calls) > 3:
            raise AssertionError("drew too often")
        return next(codes)

    monkeypatch.setattr("shop.affiliates.services.secrets.token_urlsafe", draw)
    user = UserFactory()
    link = affiliate_link_of(user=user)
    assert (link.user, link.code, calls) == (user, "fresh123", [6, 6, 6])
    link.refresh_from_db()
    assert link.code == "fresh123"


def test_a_link_made_meanwhile_by_another_request_is_the_one_returned(monkeypatch) -> None:
    from shop.affiliates.models import AffiliateLink

    user = UserFactory()
    calls = []

    def draw(nbytes: int) -> str:  # another request makes the user's link between the look and the create
        calls.append(nbytes)
        if len(calls) > 1:
            raise AssertionError("drew again although the link exists")
        AffiliateLink.objects.create(user=user, code="other123")
        return "mine1234"

    monkeypatch.setattr("shop.affiliates.services.secrets.token_urlsafe", draw)
    link = affiliate_link_of(user=user)
    assert (link.code, AffiliateLink.objects.filter(user=user).count()) == ("other123", 1)


def test_codes_of_one_to_sixteen_characters_are_looked_up_and_others_cost_nothing(django_assert_num_queries) -> None:
    from shop.affiliates.models import AffiliateLink

    short = AffiliateLink.objects.create(user=UserFactory(), code="a")
    long = AffiliateLink.objects.create(user=UserFactory(), code="b" * 16)
    assert referral_click(code="a") == short and referral_click(code="b" * 16) == long
    with django_assert_num_queries(0):
        assert referral_click(code="") is None and referral_click(code="b" * 17) is None
    with django_assert_num_queries(1):
        assert referral_click(code="zz") is None


def test_refusals_say_why_in_words_for_people() -> None:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    with pytest.raises(ReferralRefused, match=r"^A customer cannot refer themselves\.$"):
        referral_attach(referee=alice, code=affiliate_link_of(user=alice).code)
    with pytest.raises(ReferralRefused, match=r"^No such referral link\.$"):
        referral_attach(referee=alice, code="missing")
    referral_attach(referee=bob, code=affiliate_link_of(user=alice).code)
    with pytest.raises(ReferralRefused, match=r"^Referrals cannot go round in a circle\.$"):
        referral_attach(referee=alice, code=affiliate_link_of(user=bob).code)
    with pytest.raises(ReferralRefused, match=r"^This customer was referred already\.$"):
        referral_attach(referee=bob, code=affiliate_link_of(user=UserFactory()).code)
    assert Referral.objects.count() == 1


def test_a_customer_without_an_email_address_can_be_referred_by_one_without_either() -> None:
    referrer, referee = UserFactory(email=""), UserFactory(email="")
    referral = referral_attach(referee=referee, code=affiliate_link_of(user=referrer).code)
    assert (referral.referrer, referral.referee) == (referrer, referee)


def test_attaching_reads_the_link_with_its_owner_in_one_query(django_assert_num_queries) -> None:
    referrer, referee = UserFactory(), UserFactory()
    code = affiliate_link_of(user=referrer).code
    # the link with its owner; the owner's referrer (none); the insert in its savepoint (3 queries)
    with django_assert_num_queries(5):
        referral_attach(referee=referee, code=code)


@pytest.mark.parametrize(("limit", "refused"), [(2, False), (3, True)])
def test_the_circle_check_looks_up_the_chain_as_far_as_its_limit(monkeypatch, limit, refused) -> None:
    a, b, c, d = (UserFactory(username=name) for name in "abcd")
    referral_attach(referee=b, code=affiliate_link_of(user=a).code)
    referral_attach(referee=c, code=affiliate_link_of(user=b).code)
    referral_attach(referee=d, code=affiliate_link_of(user=c).code)
    monkeypatch.setattr("shop.affiliates.services.MAX_CHAIN", limit)
    if refused:  # a <- d closes a -> b -> c -> d -> a: three steps up from d reach a
        with pytest.raises(ReferralRefused, match="circle"):
            referral_attach(referee=a, code=affiliate_link_of(user=d).code)
    else:
        assert referral_attach(referee=a, code=affiliate_link_of(user=d).code).referrer == d


def test_a_small_share_is_earned_to_the_cent(pair, manual, staff) -> None:
    _, referee = pair
    pay(referee, manual, staff, "10")  # 5% of 10
    assert ReferralEarning.objects.get().amount == Decimal("0.5000")


def test_a_payout_says_how_many_top_ups_it_pays_and_leaves_other_referrers_alone(pair, manual, staff) -> None:
    referrer, referee = pair
    other = UserFactory(username="olga")
    referral_attach(referee=UserFactory(username="pete"), code=affiliate_link_of(user=other).code)
    pay(referee, manual, staff, "100")
    pay(referee, manual, staff, "120")
    pay(Referral.objects.get(referrer=other).referee, manual, staff, "300")
    assert (unpaid_total(referrer=referrer), unpaid_total(referrer=other)) == (Decimal("11.0000"), Decimal("15.0000"))
    payout = referral_payout(referrer=referrer)
    assert payout.entry.reason == "Referral earnings (2 top-ups)" and payout.entry.wallet.user == referrer
    assert unpaid_total(referrer=other) == Decimal("15.0000")
    assert list(ReferralEarning.objects.filter(referrer=other).values_list("payout", flat=True)) == [None]


def test_a_second_reversal_call_with_the_same_totals_takes_nothing(pair, manual, staff, django_assert_num_queries) -> None:
    _, referee = pair
    topup = pay(referee, manual, staff, "200")  # earns 10
    reverse(topup, REFUND, "10")  # a twentieth: 0.50 taken back
    assert ReferralEarning.objects.get().reversed_amount == Decimal("0.5000")
    topup.refresh_from_db()
    with django_assert_num_queries(1):
        taken = referral_reverse(topup=topup)
    assert taken == Decimal("0") and isinstance(taken, Decimal)
