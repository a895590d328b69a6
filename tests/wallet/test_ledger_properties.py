"""The ledger holds whatever happens to customers' money, in any order (hypothesis stateful testing).

A state machine drives the real services, with no upstream panel: deposits,
admin credits and debits (``wallet_adjust``, the admin's balance page), orders
of every supported type (``order_place``), every outcome of a submission and
duplicated or late submit tasks (``order_flow``), the sweeper, the admin's
resolutions of orders that need attention, customers' cancellations
(``order_cancel``), ``order_finish`` on orders in any state, and status replies
parsed by the client's own parser and applied by the poller's ``_apply_batch``:
any status word, remains negative or above the quantity, garbage, per-order
errors, final statuses repeated or changed (Canceled after Completed, ...), and
replies to polls taken steps earlier (out of order, stale), and top-ups through
a gateway: started, reported paid (matching or not), failed, expired, pending,
repeated, credited or rejected by staff, and refunded or disputed in any share
(a reversal the balance cannot cover puts it on hold, and then orders are
refused). A model predicts each outcome: refusals are allowed but must change
nothing.

After every step: each balance equals the sum of its ledger entries, the
model's balance (deposits - charges + refunds + adjustments) and the running
balance of its last entry, and is >= 0; each order has exactly one charge entry
of its charge, at most one refund entry, whose amount is ``refunded``,
0 <= refunded <= charge, and the status and refund the model expects; each top-up has the state, reversed
and owed amounts the model expects, and ``topup_ledger_differences`` is empty.
After every example: ``ledger_differences`` (what ``manage.py ledger_verify``
reports) is empty. Each example runs in its own savepoint, rolled back at its
end. 1,000 random examples under CI=true, otherwise 200 derandomized ones; the
run must reach refunds of every kind, or it proves nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from panelapi.replies import parse_multi_status
from panelapi.types import OrderStatus as UpstreamOrderStatus
from panelapi.types import UpstreamStatus
from shop.models import LedgerEntry, Order, OrderStatus, PaymentMethod, TopUp, TopUpState, Wallet
from shop.orders import flow as order_flow
from shop.orders import readings
from shop.orders.placement import OrderRejected, order_place
from shop.orders.refresh import ROW_FIELDS, RefreshResult, _apply_batch
from shop.orders.requests import RequestRefused, order_cancel
from shop.orders.types import TYPES, TypeSpec
from shop.payments import crediting
from shop.payments.audit import topup_ledger_differences
from shop.payments.interface import Checkout, Report, ReportState, Urls
from shop.payments.quotes import cents, topup_quote
from shop.wallet.selectors import ledger_differences
from shop.wallet.services import WalletError, wallet_adjust, wallet_credit
from tests.conftest import IN_CI
from tests.factories import CategoryFactory, ProviderFactory, ProviderServiceFactory, ServiceFactory, UserFactory
from tests.helpers import order_finish

S = OrderStatus
KIND = LedgerEntry.Kind
EXAMPLES = 1000 if IN_CI else 200
STEPS = 12
LINK = "https://instagram.com/p/abc"
ZERO = Decimal("0")
CENT = Decimal("0.0001")

# Final upstream statuses and what the shop makes of them.
FINAL = {UpstreamStatus.COMPLETED: S.COMPLETED, UpstreamStatus.PARTIAL: S.PARTIAL, UpstreamStatus.CANCELED: S.CANCELED}
RUNNING = {UpstreamStatus.PENDING: S.PENDING, UpstreamStatus.IN_PROGRESS: S.IN_PROGRESS, UpstreamStatus.PROCESSING: S.PROCESSING}
WORDS = {
    "Pending": UpstreamStatus.PENDING,
    "In progress": UpstreamStatus.IN_PROGRESS,
    "inprogress": UpstreamStatus.IN_PROGRESS,
    "Processing": UpstreamStatus.PROCESSING,
    "Completed": UpstreamStatus.COMPLETED,
    "Partial": UpstreamStatus.PARTIAL,
    "partial": UpstreamStatus.PARTIAL,
    "Canceled": UpstreamStatus.CANCELED,
    "Cancelled": UpstreamStatus.CANCELED,
    "Refunded": UpstreamStatus.CANCELED,
    "Awaiting moderation": UpstreamStatus.UNKNOWN,
}


@dataclass(frozen=True)
class Case:
    """A retail service of one type, with the rate per 1000 the shop must charge (worked out by hand from the price rules)."""

    type: str
    rate: Decimal
    low: int = 10
    high: int = 5000
    provider_rate: Decimal = Decimal("1")
    fixed: bool = True
    service_markup: Decimal | None = None
    category_markup: Decimal | None = None
    dripfeed: bool = False

    @property
    def spec(self) -> TypeSpec:
        return TYPES[self.type]


EXCHANGE_RATE = Decimal("1.1")
CASES = {
    "Default": Case("Default", Decimal("0.9"), high=1000),
    # 1.25 x 1.1 x 1.20
    "Default drip-feed": Case(
        "Default", Decimal("1.65"), high=1000, provider_rate=Decimal("1.25"), fixed=False, service_markup=Decimal("20"), dripfeed=True
    ),
    "Package": Case("Package", Decimal("25.5")),
    # 3.3333 x 1.1 x 1.155 = 4.23495765
    "Custom Comments": Case(
        "Custom Comments",
        Decimal("4.234958"),
        low=1,
        high=20,
        provider_rate=Decimal("3.3333"),
        fixed=False,
        category_markup=Decimal("15.5"),
    ),
    "Custom Comments Package": Case("Custom Comments Package", Decimal("12.3456")),
    "Mentions": Case("Mentions", Decimal("2"), high=1000),
    "Mentions with Hashtags": Case("Mentions with Hashtags", Decimal("0.0123")),
    "Mentions Custom List": Case("Mentions Custom List", Decimal("7.77"), low=1, high=20),
    # Below the smallest charge for any quantity: 0.0001 is charged.
    "Mentions Hashtag": Case("Mentions Hashtag", Decimal("0.000013")),
    # 0.5 x 1.1 x 1.30, the shop's default markup
    "Mentions User Followers": Case("Mentions User Followers", Decimal("0.715"), provider_rate=Decimal("0.5"), fixed=False),
    "Mentions Media Likers": Case("Mentions Media Likers", Decimal("4.44"), high=1000),
    "Comment Likes": Case("Comment Likes", Decimal("10"), high=1000),
    "Poll": Case("Poll", Decimal("0.3")),
    "Invites from Groups": Case("Invites from Groups", Decimal("1.1")),
    "SEO": Case("SEO", Decimal("0.05")),
}


def test_the_cases_cover_every_supported_type() -> None:
    # Subscriptions have no link, quantity or remains, and are refunded by posts served: their charge and
    # refund once are checked in tests/orders/test_subscriptions.py and test_readings.py, not by this model.
    assert {case.type for case in CASES.values()} == set(TYPES) - {"Subscriptions"}


def catalogue_create() -> dict[str, int]:
    """One provider and a retail service per case; returns service ids by case name. Rows the examples never change."""
    provider = ProviderFactory(exchange_rate=EXCHANGE_RATE)
    ids = {}
    for name, case in CASES.items():
        service = ServiceFactory(
            provider_service=ProviderServiceFactory(
                provider=provider,
                name=name,
                type=case.type,
                rate=case.provider_rate,
                min_quantity=case.low,
                max_quantity=case.high,
                dripfeed=case.dripfeed,
            ),
            category=CategoryFactory(name=f"Properties {name}", markup_percent=case.category_markup),
            fixed_rate=case.rate if case.fixed else None,
            markup_percent=case.service_markup,
        )
        ids[name] = service.pk
    return ids


def expected_charge(case: Case, total: int) -> Decimal:
    """README, Money and orders: rate x quantity / 1000 (the rate itself for packages), half-up to 4 places, at least 0.0001."""
    amount = case.rate if case.spec.package else case.rate * total / 1000
    return max(amount.quantize(CENT, rounding=ROUND_HALF_UP), CENT)


def expected_partial_refund(charge: Decimal, total: int, remains: int | None) -> Decimal:
    """README: charge x remains / quantity, half-up, with remains clamped to 0..quantity."""
    undelivered = min(max(remains or 0, 0), total)
    return (charge * undelivered / total).quantize(CENT, rounding=ROUND_HALF_UP)


# Strategies ------------------------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("-5"), max_value=Decimal("300"), places=5, allow_nan=False, allow_infinity=False)
LINES = {
    "comments": st.sampled_from(["Great!", "nice video", "wow 🔥", "  spaced  "]),
    "usernames": st.sampled_from(["alice", "@bob", "carol.d", "dan-e_f"]),
    "hashtags": st.sampled_from(["#smm", "#shop", "tag"]),
    "groups": st.sampled_from(["group one", "https://t.me/somegroup"]),
    "keywords": st.sampled_from(["buy followers", "smm panel"]),
}
SINGLE = {
    "hashtag": st.sampled_from(["#smm", "shop"]),
    "username": st.sampled_from(["alice", "@bob"]),
    "media": st.sampled_from(["https://instagram.com/p/xyz", "http://example.com/media/1"]),
    "answer_number": st.one_of(st.integers(1, 100), st.integers(1, 100).map(str)),
}


def lines(name: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.lists(LINES[name], min_size=low, max_size=high).map(lambda items: "\r\n".join(items))


@st.composite
def order_fields(draw: st.DrawFn, case: Case) -> tuple[dict[str, object], int | None]:
    """Form fields for an order of ``case``: valid ones with the quantity they order in all, or one broken field and None."""
    spec = case.spec
    fields: dict[str, object] = {"link": draw(st.sampled_from([LINK, " https://www.tiktok.com/@someone/video/1 "]))}
    for name in spec.fields:
        if name == spec.quantity_from:
            continue
        fields[name] = draw(lines(name, 1, 3) if name in LINES else SINGLE[name])
    if spec.quantity_from:
        total = draw(st.integers(case.low, case.high))
        fields[spec.quantity_from] = "\n".join(draw(st.lists(LINES[spec.quantity_from], min_size=total, max_size=total)))
    elif spec.needs_quantity:
        total = draw(st.integers(case.low, case.high))
        fields["quantity"] = draw(st.sampled_from([total, str(total), f" {total} "]))
    else:
        total = 1
    if case.dripfeed and draw(st.booleans()):
        runs = draw(st.integers(2, 5))
        fields["runs"], fields["interval"] = runs, draw(st.integers(1, 1440))
        total *= runs

    faults = ["link", "runs"]
    if spec.needs_quantity:
        faults += ["few", "many", "word"]
    if spec.quantity_from:
        faults += ["few", "many"]
    if spec.fields:
        faults.append("missing")
    fault = draw(st.sampled_from([None] * 3 * len(faults) + faults))
    if fault is None:
        return fields, total
    if fault == "link":
        fields["link"] = draw(st.sampled_from(["", "ftp://example.com/x", "instagram.com/p/abc", "https://"]))
    elif fault == "runs":
        fields["runs"], fields["interval"] = (1, 10) if case.dripfeed else (3, 10)
    elif fault == "word":
        fields["quantity"] = draw(st.sampled_from(["ten", "12.5", "", "1e3", True]))
    elif fault == "missing":
        del fields[draw(st.sampled_from(spec.fields))]
    elif spec.quantity_from:
        count = 0 if fault == "few" else case.high + 1
        fields[spec.quantity_from] = "\n".join(["ok"] * count) if spec.quantity_from == "comments" else "\n".join(["al"] * count)
    else:
        fields["quantity"] = draw(st.integers(-(10**6), case.low - 1) if fault == "few" else st.integers(case.high + 1, 10**12))
    return fields, None


def counts(total: int) -> st.SearchStrategy[int]:
    """Remains or a start count: around the order's quantity, half of it (a rounding tie), negative, or anything a 64-bit integer holds."""
    return st.one_of(
        st.integers(-3, total + 3),
        st.sampled_from([0, total // 2, total, total + 1, -1, 2**63 - 1, -(2**63 - 1)]),
        st.integers(-(2**63 - 1), 2**63 - 1),
    )


def figures(total: int) -> st.SearchStrategy[object]:
    """Remains or a start count as panels send them: a count as a number or text, blank, or beyond any count (refused by the client)."""
    return st.one_of(counts(total), counts(total).map(str), st.sampled_from([None, "", 2**63, "1e20", "-1e30"]))


def parsed_int(value: object) -> int | None:
    return None if value in (None, "") else int(value)


@st.composite
def status_reply(draw: st.DrawFn, total: int) -> dict[str, object] | None:
    """One order's entry in a status reply: usually a status with figures, sometimes an error, garbage or nothing at all."""
    kind = draw(st.sampled_from(["status"] * 6 + ["error", "garbage", "missing"]))
    if kind == "missing":
        return None
    if kind == "error":
        return {"error": "Incorrect order ID"}
    reply: dict[str, object] = {
        "status": draw(st.sampled_from(sorted(WORDS))),
        "remains": draw(figures(total)),
        "start_count": draw(figures(total)),
        "charge": draw(st.one_of(st.none(), st.decimals(min_value=0, max_value=10**6, places=5).map(str))),
    }
    if kind == "garbage":
        spoilt = draw(st.sampled_from(["remains", "start_count", "status"]))
        reply[spoilt] = draw(st.sampled_from(["  ", []] if spoilt == "status" else ["a lot", "2.5", []]))
    return reply


# The model ---------------------------------------------------------------------------------


@dataclass
class Expected:
    """What the model expects of one order."""

    user: int
    charge: Decimal
    total: int
    status: str = S.AWAITING
    refunded: Decimal = ZERO
    upstream_id: str | None = None


@dataclass
class Customer:
    """What the model expects of one customer's wallet."""

    user: object
    balance: Decimal = ZERO
    entries: int = 0
    has_wallet: bool = False
    held: bool = False


@dataclass
class ExpectedTopUp:
    """What the model expects of one top-up."""

    user: int
    amount: Decimal
    credited: Decimal
    lines: int  # ledger entries when credited: the top-up, and its fee and bonus when there are any
    state: str = TopUpState.PENDING
    reversed: Decimal = ZERO
    owed: Decimal = ZERO
    totals: dict[str, Decimal] = field(default_factory=lambda: {"refund": ZERO, "dispute": ZERO})


@dataclass
class World:
    """Rows every example shares and never changes (each example's own writes are rolled back), and what the run reached."""

    services: dict[str, int]
    admin: object
    users: list[object]
    method: object = None  # the payment method of the top-up rules; None: no top-ups in this run
    reached: Counter[str] = field(default_factory=Counter)


class LedgerMachine(RuleBasedStateMachine):
    """Money moves through the real services; the model predicts each outcome and the invariants check the database."""

    orders = Bundle("orders")

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world, self.admin, self.reached = world, world.admin, world.reached
        # pytest-django's transaction holds the whole test: each example gets a savepoint of its own.
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.customers = [Customer(user) for user in world.users]
        self.expected: dict[int, Expected] = {}
        self.topups: dict[int, ExpectedTopUp] = {}
        self.polls: list[dict[str, readings.PolledOrder]] = []

    def teardown(self) -> None:
        self.reached["examples"] += 1
        try:
            # What manage.py ledger_verify reports.
            assert ledger_differences() == []
        finally:
            transaction.set_rollback(True)
            self._savepoint.__exit__(None, None, None)

    # Money in and out -----------------------------------------------------------------------

    @initialize(
        target=orders,
        amounts=st.tuples(
            st.one_of(st.sampled_from([Decimal("100"), Decimal("500")]), st.decimals(min_value=1, max_value=500, places=4)),
            st.sampled_from([None, Decimal("0.5"), Decimal("40")]),
        ),
        first_orders=st.lists(st.tuples(st.integers(0, 1), st.sampled_from(sorted(CASES))), max_size=3),
        data=st.data(),
    )
    def start(self, amounts: tuple[Decimal, Decimal | None], first_orders: list[tuple[int, str]], data: st.DataObject):
        """The first customer starts with money; the second with a little, some, or no wallet at all; then up to 3 orders."""
        for who, amount in enumerate(amounts):
            if amount is not None:
                self._deposit(who, amount)
        return multiple(*filter(None, (self._place(who, name, data) for who, name in first_orders)))

    def _credited(self, who: int, amount: Decimal) -> None:
        customer = self.customers[who]
        customer.balance += amount
        customer.entries += 1
        customer.has_wallet = True

    @rule(
        who=st.integers(0, 1),
        source=st.sampled_from(["deposit", "credit", "debit", "refund"]),
        amount=st.one_of(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("300"), places=4), amounts),
        reason=st.sampled_from(["goodwill", "  chargeback  ", "goodwill", "", "   ", "x" * 256]),
    )
    def money(self, who: int, source: str, amount: Decimal, reason: str) -> None:
        """A deposit (any amount, rounded half-up to 4 places), or an admin's credit or debit from the balance page (``wallet_adjust``)."""
        if source == "deposit":
            self._deposit(who, amount)
        else:
            self._adjust(who, amount, source, reason)

    def _deposit(self, who: int, amount: Decimal) -> None:
        rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
        try:
            entry = wallet_credit(user=self.customers[who].user, amount=amount, kind=KIND.DEPOSIT, reason="card payment")
        except WalletError:
            assert rounded <= 0
            self.reached["deposit refused"] += 1
            return
        assert rounded > 0 and entry.amount == rounded
        self._credited(who, rounded)

    def _adjust(self, who: int, amount: Decimal, direction: str, reason: str) -> None:
        """Refused: a direction other than credit or debit, an amount not above 0 or with 5 places, a blank or long reason,
        a debit beyond the balance."""
        customer = self.customers[who]
        valid = direction in ("credit", "debit") and amount > 0 and amount == amount.quantize(CENT) and 1 <= len(reason.strip()) <= 255
        accepted = valid and (direction == "credit" or amount <= customer.balance)
        try:
            entry = wallet_adjust(user=customer.user, amount=amount, direction=direction, reason=reason, admin=self.admin)
        except WalletError:
            assert not accepted
            self.reached["adjustment refused"] += 1
            return
        assert accepted, f"{direction} of {amount} ({reason!r}) was taken from {customer.balance}"
        assert (entry.kind, entry.created_by_id, entry.reason) == (KIND.ADJUSTMENT, self.admin.pk, reason.strip())
        self._credited(who, amount if direction == "credit" else -amount)
        self.reached[f"admin {direction}"] += 1

    # Top-ups ----------------------------------------------------------------------------------

    @precondition(lambda self: self.world.method is not None)
    @rule(who=st.integers(0, 1), amount=st.one_of(st.sampled_from(["5", "100", "250.50"]), st.decimals(1, 400, places=2).map(str)))
    def topup_start(self, who: int, amount: str) -> None:
        """A customer starts a top-up through the gateway: nothing is credited yet."""
        quote = topup_quote(method=self.world.method, amount=amount)
        waiting = sum(1 for topup in self.topups.values() if topup.user == who and topup.state in TopUpState.OPEN)
        try:
            topup = crediting.topup_create(user=self.customers[who].user, method=self.world.method, amount=amount, urls=TOPUP_URLS)
        except crediting.TopUpRefused:
            assert waiting >= 5, f"refused with {waiting} top-ups waiting"
            self.reached["top-up refused: too many waiting"] += 1
            return
        assert waiting < 5, f"a sixth top-up was started with {waiting} waiting"
        assert (topup.state, topup.fee, topup.bonus) == (TopUpState.PENDING, quote.fee, quote.bonus)
        self.topups[topup.pk] = ExpectedTopUp(
            user=who, amount=quote.amount, credited=quote.credited, lines=1 + (quote.fee > 0) + (quote.bonus > 0)
        )
        self.reached["top-up started"] += 1

    @precondition(lambda self: bool(self.topups))
    @rule(
        data=st.data(),
        report=st.sampled_from(["paid", "paid", "short", "other currency", "failed", "failed", "expired", "pending"]),
        actor=st.sampled_from([crediting.GATEWAY, crediting.CHECK]),
    )
    def topup_report(self, data: st.DataObject, report: str, actor: crediting.Actor) -> None:
        """A verified report about a top-up, in any order and any number of times (most often about the latest two)."""
        pk = data.draw(st.one_of(st.sampled_from(sorted(self.topups)[-2:]), st.sampled_from(sorted(self.topups))), label="top-up")
        self._report(pk, report, actor)

    @precondition(lambda self: self.world.method is not None)
    @rule(
        who=st.integers(0, 1),
        amount=st.sampled_from(["20", "100", "250.50"]),
        report=st.sampled_from(["paid", "paid", "paid", "failed", "expired"]),
        actor=st.sampled_from([crediting.GATEWAY, crediting.CHECK]),
    )
    def topup_settled_at_once(self, who: int, amount: str, report: str, actor: crediting.Actor) -> None:
        """Most top-ups are paid, declined or abandoned as soon as they are started. Without this step that takes two
        of the example's twelve, and what follows a payment (its reversals, the hold) is seldom reached."""
        started = set(self.topups)
        self.topup_start(who, amount)
        for pk in set(self.topups) - started:
            self._report(pk, report, actor)

    def _report(self, pk: int, report: str, actor: crediting.Actor) -> None:
        expected = self.topups[pk]
        state = {"failed": ReportState.FAILED, "expired": ReportState.EXPIRED, "pending": ReportState.PENDING}.get(report, ReportState.PAID)
        amount = expected.amount - Decimal("0.01") if report == "short" else expected.amount
        outcome = crediting.topup_report_apply(
            method=self.world.method,
            report=Report(state=state, gateway_id=f"fake_{pk}", amount=amount, currency="EUR" if report == "other currency" else "USD"),
            actor=actor,
        )
        creditable = expected.state in TopUpState.CREDITABLE
        if report == "paid" and creditable:
            assert outcome is crediting.Outcome.CREDITED
            expected.state = TopUpState.PAID
            self._credited(expected.user, expected.credited)
            self.customers[expected.user].entries += expected.lines - 1  # its fee and bonus lines
            self._settle(pk)  # a refund or dispute reported before the payment
        elif report in ("short", "other currency") and creditable:
            assert outcome is crediting.Outcome.REVIEW
            expected.state = TopUpState.REVIEW
        elif report in ("failed", "expired") and expected.state == TopUpState.PENDING:
            assert outcome is crediting.Outcome.CLOSED
            expected.state = report
        else:
            assert outcome is crediting.Outcome.UNCHANGED
        self.reached[f"top-up {report}: {outcome}"] += 1

    @precondition(lambda self: bool(self.topups))
    @rule(data=st.data(), decision=st.sampled_from(["credit", "reject"]))
    def topup_staff(self, data: st.DataObject, decision: str) -> None:
        pk = data.draw(st.sampled_from(sorted(self.topups)), label="top-up")
        expected, topup = self.topups[pk], TopUp.objects.get(pk=pk)
        if decision == "credit":
            outcome = crediting.topup_staff_credit(topup=topup, staff=self.admin)
            if expected.state == TopUpState.REVIEW:  # a gateway's payment: staff credit only one under review
                assert outcome is crediting.Outcome.CREDITED
                expected.state = TopUpState.PAID
                self._credited(expected.user, expected.credited)
                self.customers[expected.user].entries += expected.lines - 1
                self._settle(pk)
            else:
                assert outcome is crediting.Outcome.UNCHANGED
        else:
            try:
                crediting.topup_staff_reject(topup=topup, staff=self.admin, reason="no such payment")
            except crediting.TopUpRefused:
                assert expected.state not in TopUpState.OPEN
            else:
                assert expected.state in TopUpState.OPEN
                expected.state = TopUpState.REJECTED
        self.reached[f"staff {decision}"] += 1

    @precondition(lambda self: bool(self.topups))
    @rule(data=st.data(), share=st.sampled_from([Decimal("0.25"), Decimal("0.5"), Decimal("1"), Decimal("2"), Decimal("0.333")]))
    def topup_reverse(self, data: st.DataObject, share: Decimal) -> None:
        """The gateway reports a refund or a dispute of this share of the payment, as that kind's running total, paid or
        not yet (any order); sometimes the customer has spent the money first, so the balance cannot cover it."""
        pk = data.draw(st.sampled_from(sorted(self.topups)), label="top-up")
        spend = self.customers[self.topups[pk].user].balance > 0 and data.draw(st.booleans(), label="spent first")
        self._reverse(pk, kind=data.draw(st.sampled_from(["refund", "refund", "dispute"]), label="kind"), share=share, spend=spend)

    @precondition(lambda self: any(topup.state == TopUpState.PAID for topup in self.topups.values()))
    @rule(data=st.data(), kind=st.sampled_from(["refund", "dispute"]), share=st.sampled_from([Decimal("0.5"), Decimal("1")]))
    def paid_topup_reversed_after_spending(self, data: st.DataObject, kind: str, share: Decimal) -> None:
        """The customer spends a paid top-up's money, then its payment is refunded or disputed: the case that puts a
        balance on hold. Paid top-ups are few among those started (a payment takes two steps of the twelve), so the
        draws above alone reach it seldom."""
        pk = data.draw(st.sampled_from(sorted(pk for pk, topup in self.topups.items() if topup.state == TopUpState.PAID)), label="top-up")
        self._reverse(pk, kind=kind, share=share, spend=self.customers[self.topups[pk].user].balance > 0)

    def _reverse(self, pk: int, *, kind: str, share: Decimal, spend: bool) -> None:
        expected = self.topups[pk]
        customer = self.customers[expected.user]
        if spend:
            wallet_adjust(user=customer.user, amount=customer.balance, direction="debit", reason="spent", admin=self.admin)
            self._credited(expected.user, -customer.balance)
        total = (expected.amount * share).quantize(CENT, rounding=ROUND_HALF_UP)  # as gateways report: never finer than the ledger
        outcome = crediting.topup_report_apply(
            method=self.world.method,
            report=Report(state=ReportState.REVERSED, gateway_id=f"fake_{pk}", reversed_total=total, reversal=kind),
        )
        if total <= expected.totals[kind]:
            assert outcome is crediting.Outcome.UNCHANGED
            self.reached["reversal changed nothing"] += 1
            return
        assert outcome is crediting.Outcome.REVERSED
        expected.totals[kind] = total
        if expected.state != TopUpState.PAID:
            self.reached["reversal before the payment"] += 1
            return
        self._settle(pk)

    def _settle(self, pk: int) -> None:
        """What the shop takes back from a paid top-up's balance for the reversals recorded so far, as the model sees it."""
        expected = self.topups[pk]
        customer = self.customers[expected.user]
        share = min(sum(expected.totals.values(), ZERO), expected.amount) / expected.amount
        delta = cents(expected.credited * share) - expected.reversed - expected.owed
        if delta <= 0:
            return
        if delta <= customer.balance:
            expected.reversed += delta
            self._credited(expected.user, -delta)
            self.reached["reversal taken"] += 1
            return
        expected.owed += delta
        customer.held = True
        self.reached["reversal put on hold"] += 1
        # Even with money again, the held balance pays for no order.
        self._deposit(expected.user, Decimal("100"))
        try:
            order_place(user=customer.user, service=self.world.services["Package"], link=LINK)
        except OrderRejected as refused:
            assert refused.errors["__all__"].startswith("New orders are paused: ")
            self.reached["order on hold"] += 1
        else:
            raise AssertionError("a balance on hold paid for an order")

    # Orders ---------------------------------------------------------------------------------

    @rule(target=orders, who=st.sampled_from([0, 0, 1]), name=st.sampled_from(sorted(CASES)), data=st.data())
    def place(self, who: int, name: str, data: st.DataObject):
        """An order of any type, valid or with one bad field; placed if valid and the balance covers it."""
        pk = self._place(who, name, data)
        return multiple() if pk is None else pk

    def _place(self, who: int, name: str, data: st.DataObject) -> int | None:
        case, customer = CASES[name], self.customers[who]
        fields, total = data.draw(order_fields(case), label="fields")
        charge = expected_charge(case, total) if total is not None else None
        accepted = charge is not None and customer.has_wallet and charge <= customer.balance and not customer.held
        try:
            order = order_place(user=customer.user, service=self.world.services[name], **fields)
        except OrderRejected:
            assert not accepted, f"a valid order costing {charge} was refused with {customer.balance}"
            self.reached["order refused" if total is None else "order on hold" if customer.held else "order beyond the balance"] += 1
            return None
        assert accepted, f"{fields} was placed for {charge} with {customer.balance}"
        assert (order.status, order.total_quantity, order.charge) == (S.AWAITING, total, charge)
        self._credited(who, -charge)
        self.reached[f"placed {name}"] += 1
        self.expected[order.pk] = Expected(user=who, charge=charge, total=total)
        return order.pk

    def _moved(self, pk: int, done: bool, source: set[str], target: str) -> bool:
        """Check a compare-and-set transition against the model and record it; True if it happened."""
        expected = self.expected[pk]
        assert done == (expected.status in source), f"order {pk} in {expected.status}: {target} {'done' if done else 'refused'}"
        if done:
            expected.status = target
        return done

    def _refunded_in_full(self, pk: int) -> None:
        expected = self.expected[pk]
        self.reached[f"refunded in full: {expected.status}"] += 1
        expected.refunded = expected.charge
        self._credited(expected.user, expected.charge)

    @precondition(lambda self: bool(self.expected))
    @rule(poll=st.sampled_from(["answered at once"] * 3 + ["answered later", "late reply"]), data=st.data())
    def work(self, poll: str, data: st.DataObject) -> None:
        """The worker runs: the submit task for some of the orders, then the poller asks about the active ones.

        The submit task also runs for orders it has already sent or that finished (a duplicated or late task). The
        panel's reply to a poll is applied at once, or kept for a later step; a late reply answers a poll taken in an
        earlier step, not necessarily the last one, so what the poller read may be stale by then.
        """
        for pk in sorted(self.expected):
            outcome = data.draw(st.sampled_from(["not run"] + ["placed"] * 3 + ["refused", "unknown", "unreachable", "worker died"]))
            if outcome != "not run":
                self._submit(pk, outcome)
        if poll == "late reply" and self.polls:
            self._answer(self.polls.pop(data.draw(st.integers(0, len(self.polls) - 1), label="poll")), data)
        elif poll == "answered later":
            self.polls.append(self._poll())
        elif poll == "answered at once":
            self._answer(self._poll(), data)

    def _submit(self, pk: int, outcome: str) -> None:
        """What ``order_submit`` does with each outcome of the call; a claim that fails still gets its outcome."""
        self._moved(pk, order_flow.order_claim(order_id=pk), {S.AWAITING}, S.SUBMITTING)
        if outcome == "placed":
            if self._moved(
                pk, order_flow.order_placed(order_id=pk, upstream_order_id=f"up-{pk}"), {S.SUBMITTING, S.NEEDS_ATTENTION}, S.PENDING
            ):
                self.expected[pk].upstream_id = f"up-{pk}"
        elif outcome == "refused":
            if self._moved(pk, order_flow.order_refused(order_id=pk, message="Incorrect link"), {S.SUBMITTING}, S.FAILED):
                self._refunded_in_full(pk)
        elif outcome == "unknown":
            self._moved(pk, order_flow.order_unknown(order_id=pk, message="read timeout"), {S.SUBMITTING}, S.NEEDS_ATTENTION)
        elif outcome == "unreachable":
            self._moved(pk, order_flow.order_release(order_id=pk, error="connection refused"), {S.SUBMITTING}, S.AWAITING)

    @precondition(lambda self: any(expected.status == S.SUBMITTING for expected in self.expected.values()))
    @rule()
    def sweep(self) -> None:
        """The sweeper moves submissions that never finished to needs attention (a negative age: every one counts as stuck)."""
        flagged = order_flow.orders_stale_submissions_flag(older_than=timedelta(seconds=-1))
        stuck = [expected for expected in self.expected.values() if expected.status == S.SUBMITTING]
        assert flagged == len(stuck)
        for expected in stuck:
            expected.status = S.NEEDS_ATTENTION

    @rule(
        pk=orders, action=st.sampled_from(["customer cancels", "admin: placed", "admin: not placed", "admin: blank id", "admin: taken id"])
    )
    def intervene(self, pk: int, action: str) -> None:
        """A person acts on an order: the customer cancels it, or an admin resolves it as one that needs attention."""
        if action == "customer cancels":
            self._cancel(pk)
        else:
            self._resolve(pk, action.removeprefix("admin: "))

    def _resolve(self, pk: int, decision: str) -> None:
        """Only an order that needs attention can be resolved, with a provider's id no other order has; else nothing changes."""
        expected, order = self.expected[pk], Order.objects.get(pk=pk)
        taken = sorted(other.upstream_id for other_pk, other in self.expected.items() if other.upstream_id and other_pk != pk)
        try:
            if decision == "not placed":
                order_flow.order_resolve_not_placed(order=order, admin=self.admin)
            else:
                upstream_id = {"placed": f"up-{pk}", "blank id": "  ", "taken id": (taken or ["  "])[0]}[decision]
                order_flow.order_resolve_placed(order=order, upstream_order_id=upstream_id, admin=self.admin)
        except order_flow.TransitionError:
            assert decision in ("blank id", "taken id") or expected.status != S.NEEDS_ATTENTION
            return
        assert decision in ("placed", "not placed") and expected.status == S.NEEDS_ATTENTION
        if decision == "placed":
            expected.status, expected.upstream_id = S.PENDING, f"up-{pk}"
        else:
            expected.status = S.FAILED
            self._refunded_in_full(pk)

    def _cancel(self, pk: int) -> None:
        """The customer cancels: an unsent order at once with a full refund; none of these services takes upstream cancels."""
        try:
            order_cancel(order=Order.objects.select_related("provider", "provider_service").get(pk=pk))
        except RequestRefused:
            assert self.expected[pk].status != S.AWAITING
            return
        self._moved(pk, True, {S.AWAITING}, S.CANCELED)
        self._refunded_in_full(pk)

    # Status replies from the panel -----------------------------------------------------------

    def _poll(self) -> dict[str, readings.PolledOrder]:
        """What ``orders_refresh`` reads of the active orders before it asks the panel."""
        rows = Order.objects.filter(pk__in=list(self.expected), status__in=OrderStatus.ACTIVE).values_list("upstream_order_id", *ROW_FIELDS)
        return {upstream_id: readings.PolledOrder(*row) for upstream_id, *row in rows}

    def _answer(self, polled: dict[str, readings.PolledOrder], data: st.DataObject) -> None:
        replies = {upstream_id: data.draw(status_reply(order.total_quantity), label=upstream_id) for upstream_id, order in polled.items()}
        answered = {key: reply for key, reply in replies.items() if reply is not None}
        # A panel that also answers about an order nobody asked for: noise, never applied.
        answered["up-0"] = {"status": "Canceled", "remains": "0"}
        results = parse_multi_status(answered, list(polled))
        # How many checks each order has had by now: a snapshot taken before another poll stored its reply is stale.
        checks_now = dict(Order.objects.filter(pk__in=[order.pk for order in polled.values()]).values_list("pk", "checks"))
        _apply_batch(polled, tuple(polled), results, timezone.now(), RefreshResult())
        for upstream_id, snapshot in polled.items():
            reply = results.get(upstream_id)
            if not isinstance(reply, UpstreamOrderStatus):
                continue  # no answer, an error or garbage for this order: it stays as it is
            assert WORDS[replies[upstream_id]["status"]] == reply.status
            if reply.status not in FINAL and snapshot.checks != checks_now[snapshot.pk]:
                # A running reply read before another poll stored a newer one: older news, dropped (the checks guard).
                self.reached["stale running reply dropped"] += 1
                continue
            self._apply_status(snapshot.pk, reply.status, parsed_int(replies[upstream_id]["remains"]), snapshot.status)

    def _apply_status(self, pk: int, status: UpstreamStatus, remains: int | None, polled_status: str) -> None:
        expected = self.expected[pk]
        if expected.status not in OrderStatus.ACTIVE:
            self.reached["final status for an order not active"] += 1
            return  # finished meanwhile: a late or repeated reply changes nothing
        if polled_status and polled_status != expected.status:
            self.reached["stale snapshot"] += 1
        if status in FINAL:
            expected.status = FINAL[status]
            refund = expected.charge if status == UpstreamStatus.CANCELED else ZERO
            if status == UpstreamStatus.PARTIAL:
                refund = expected_partial_refund(expected.charge, expected.total, remains)
            expected.refunded = refund
            self.reached[f"{status}, {'some' if refund else 'no'} refund"] += 1
            if refund:
                self._credited(expected.user, refund)
        else:
            # An unknown word keeps the status the poller read.
            expected.status = RUNNING.get(status, polled_status)

    @rule(pk=orders, status=st.sampled_from(sorted(FINAL)), data=st.data())
    def finish(self, pk: int, status: UpstreamStatus, data: st.DataObject) -> None:
        """One order's final status straight from ``order_finish``, for orders in any state (repeated, after Canceled, ...)."""
        remains = data.draw(st.one_of(st.none(), counts(self.expected[pk].total)), label="remains")
        was_active = self.expected[pk].status in OrderStatus.ACTIVE
        done = order_finish(order_id=pk, status=FINAL[status], remains=remains, start_count=None, upstream_charge=None, raw="x")
        assert done == was_active
        self._apply_status(pk, status, remains, "")

    # Invariants -------------------------------------------------------------------------------

    @invariant()
    def ledger_holds(self) -> None:
        """Balances, entries and orders in the database against each other and against the model."""
        users = {customer.user.pk: index for index, customer in enumerate(self.customers)}
        rows = (
            Wallet.objects.filter(user_id__in=users)
            .order_by("entries__pk")
            .values_list("user_id", "balance", "entries__kind", "entries__amount", "entries__balance_after", "entries__order")
        )
        balances: dict[int, Decimal] = {}
        running: dict[int, Decimal] = defaultdict(Decimal)
        entries: Counter[int] = Counter()
        charges: dict[int, list[Decimal]] = defaultdict(list)
        refunds: dict[int, list[Decimal]] = defaultdict(list)
        for user_id, balance, kind, amount, balance_after, order_id in rows:
            balances[user_id] = balance
            if kind is None:
                continue  # a wallet without entries
            running[user_id] += amount
            entries[user_id] += 1
            assert balance_after == running[user_id] >= 0, f"entry's running balance {balance_after}, entries sum to {running[user_id]}"
            if kind == KIND.ORDER_CHARGE:
                charges[order_id].append(amount)
            elif kind == KIND.REFUND:
                refunds[order_id].append(amount)
        for user_id, index in users.items():
            customer = self.customers[index]
            assert (user_id in balances) == customer.has_wallet
            balance = balances.get(user_id, ZERO)
            assert balance == running[user_id] == customer.balance >= 0, (
                f"balance {balance}, ledger {running[user_id]}, model {customer.balance}"
            )
            assert entries[user_id] == customer.entries, "an entry was written (or lost) that the model did not expect"

        orders = Order.objects.filter(user_id__in=users).values_list("pk", "status", "charge", "refunded", "upstream_order_id")
        assert sorted(pk for pk, *_ in orders) == sorted(self.expected), "an order was written that the model did not expect"
        for pk, status, charge, refunded, upstream_id in orders:
            expected = self.expected[pk]
            assert ZERO <= refunded <= charge
            assert charges[pk] == [-charge], f"order {pk} has charges {charges[pk]} for {charge}"
            assert len(refunds[pk]) <= 1, f"order {pk} refunded {refunds[pk]}"
            assert sum(refunds[pk], ZERO) == refunded, f"order {pk} says refunded {refunded}, ledger {refunds[pk]}"
            assert (status, charge, refunded, upstream_id) == (expected.status, expected.charge, expected.refunded, expected.upstream_id)

        topups = TopUp.objects.filter(user_id__in=users).values_list("pk", "state", "reversed_amount", "reversal_owed")
        assert sorted(pk for pk, *_ in topups) == sorted(self.topups), "a top-up was written that the model did not expect"
        for pk, state, reversed_amount, owed in topups:
            expected_topup = self.topups[pk]
            assert (state, reversed_amount, owed) == (expected_topup.state, expected_topup.reversed, expected_topup.owed), f"top-up {pk}"
        held = dict(Wallet.objects.filter(user_id__in=users).values_list("user_id", "hold_reason"))
        for user_id, index in users.items():
            assert bool(held.get(user_id)) == self.customers[index].held
        assert topup_ledger_differences() == []


def TOPUP_URLS(topup: TopUp) -> Urls:
    return Urls(notify="http://shop.test/payments/notify/fake/", back=f"http://shop.test/funds/{topup.public_id}/")


class FakeGateway:
    """Starts every payment as ``fake_<top-up id>``; the machine's reports stand for what it would verify."""

    @staticmethod
    def start(*, method: PaymentMethod, topup: TopUp, urls: Urls) -> Checkout:
        return Checkout(gateway_id=f"fake_{topup.pk}", pay_url="https://gateway.test/pay")


def run_machine(world: World, examples: int) -> None:
    run_state_machine_as_test(
        lambda: LedgerMachine(world),
        settings=settings(
            max_examples=examples,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            # Outside CI the same examples every run, so the check of what the run reached cannot flake.
            derandomize=not IN_CI,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    assert world.reached["examples"] >= examples


def assert_reached(world: World, outcomes: list[str]) -> None:
    """Each outcome is reached dozens of times in the local run: none reached means the machine lost its way."""
    for outcome in outcomes:
        assert world.reached[outcome] > 0, f"no example reached {outcome!r}: {sorted(world.reached.items())}"


@pytest.mark.django_db
def test_balances_always_equal_their_ledger_and_no_order_is_refunded_twice() -> None:
    world = World(services=catalogue_create(), admin=UserFactory(is_staff=True, is_superuser=True), users=UserFactory.create_batch(2))
    run_machine(world, EXAMPLES)
    assert_reached(
        world,
        [
            "Completed, no refund",
            "Partial, some refund",
            "Canceled, some refund",
            "final status for an order not active",
            "refunded in full: canceled",
            "refunded in full: failed",
            "order refused",
            "order beyond the balance",
            "admin credit",
            "admin debit",
            "adjustment refused",
            *(f"placed {name}" for name in CASES),
        ],
    )


@pytest.mark.django_db
def test_top_ups_refunds_and_holds_keep_every_balance_equal_to_its_ledger(monkeypatch) -> None:
    """The same machine with top-ups through a gateway as well: the orders' rules run too (a balance on hold pays for none)."""
    import sys

    from shop.payments import gateway

    monkeypatch.setitem(sys.modules, "tests.wallet.fake_gateway", FakeGateway)
    monkeypatch.setitem(gateway.MODULES, PaymentMethod.Kind.SANDBOX, "tests.wallet.fake_gateway")
    method = PaymentMethod.objects.create(
        code="fake",
        kind=PaymentMethod.Kind.SANDBOX,
        name="Fake",
        is_enabled=True,
        currency="USD",
        min_amount=Decimal("1"),
        max_amount=Decimal("1000"),
        fee_percent=Decimal("2.9"),
        bonus_percent=Decimal("10"),
        bonus_threshold=Decimal("100"),
    )
    world = World(
        services=catalogue_create(), admin=UserFactory(is_staff=True, is_superuser=True), users=UserFactory.create_batch(2), method=method
    )
    run_machine(world, EXAMPLES)
    assert_reached(
        world,
        [
            "top-up started",
            f"top-up paid: {crediting.Outcome.CREDITED}",
            f"top-up paid: {crediting.Outcome.UNCHANGED}",
            f"top-up short: {crediting.Outcome.REVIEW}",
            f"top-up failed: {crediting.Outcome.CLOSED}",
            "staff credit",
            "staff reject",
            "reversal taken",
            "reversal put on hold",
            "reversal changed nothing",
            "reversal before the payment",
            "order on hold",
        ],
    )
