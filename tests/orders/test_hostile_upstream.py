"""The hostile upstream matrix: each call the shop makes to a panel, against each way a panel can fail it.

Operations, as the shop's own service functions make them: ``services`` is ``catalogue_sync``, ``add``
is ``order_submit``, ``status-one`` / ``status-many`` is ``orders_refresh`` with one / three due orders
(the multi-id ``orders=`` form), ``balance`` is ``provider_balance_refresh``.

Faults, over real HTTP to the sandbox panel: a reply slower than the client's timeout, a refused
connection (a loopback port nobody listens on), HTTP 500, a proxy's HTML page, truncated JSON, a
connection dropped without a reply, a body larger than the client accepts, a definite ``{"error": ...}``,
and wrong shapes (a list or scalar where an object belongs, missing fields, unknown status words, ids
never asked for, numbers no column can hold), played with the sandbox's ``reply`` fault.

Every cell proves the documented outcome and, besides: nothing is lost (orders keep their status,
services their rows, the provider its last balance), the ledger changes only where the money rules say,
nothing but the documented exception leaves the service function, the audit record of the call exists
with a readable message, the admin change page shows that message with HTTP 200, and the provider's
API key is in no stored message and on no page.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from panelapi.exceptions import PanelError
from panelapi.sandbox import Fault, SandboxServer
from shop.catalogue.providers import provider_balance_refresh
from shop.catalogue.sync import CatalogueSyncError, catalogue_sync
from shop.catalogue.tasks import catalogue_sync_provider, provider_balance_refresh_all
from shop.models import LedgerEntry, Order, OrderStatus, Provider, ProviderService, UpstreamCall, Wallet
from shop.orders.placement import order_place
from shop.orders.refresh import orders_refresh
from shop.orders.submission import SubmitOutcome, order_submit
from shop.orders.tasks import order_submit_task
from shop.wallet.selectors import ledger_differences
from tests.conftest import SANDBOX_KEY

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/hostile"
FOREIGN_ID = "99999999"  # an order id the shop never asked about


@dataclass(frozen=True)
class Hostile:
    """One way a panel fails a call: how the sandbox plays it, and what the shop must record of it."""

    phrase: str  # the words the stored message must contain
    audit: str  # the outcome of the call's audit record
    kind: str = ""  # the sandbox fault; "" is a refused connection
    body: object = None  # for kind "reply": the JSON sent, or a function of the asked ids returning it
    process: bool | None = None  # whether the panel handles the request before the fault

    def fault(self, action: str, asked: list[str], *, times: int = 1) -> Fault:
        body = self.body(asked) if callable(self.body) else self.body
        return Fault(kind=self.kind, action=action, times=times, delay=1.0, size=1_000_000, body=body, process=self.process)


TRANSPORT = {
    "timeout": Hostile("did not answer in time", "unknown", "slow"),
    "refused-connection": Hostile("could not connect", "unreachable"),
    "http-500": Hostile("HTTP 500 from the panel", "unknown", "error500"),
    "html-page": Hostile("HTTP 502 from the panel with an HTML page", "unknown", "html"),
    "malformed-json": Hostile("not JSON", "unknown", "malformed"),
    "dropped-connection": Hostile("broke", "unknown", "drop"),
    "huge-body": Hostile("larger than 100000 bytes", "unknown", "huge"),
}


def reply(phrase: str, body: object, *, audit: str = "unknown", process: bool | None = None) -> Hostile:
    return Hostile(phrase, audit, "reply", body, process)


def cells(operation: str, shapes: dict[str, Hostile]) -> list[object]:
    return [pytest.param(hostile, id=f"{operation}-x-{name}") for name, hostile in {**TRANSPORT, **shapes}.items()]


@pytest.fixture(autouse=True)
def _fast_client(settings) -> None:
    settings.PANEL_CONNECT_TIMEOUT = 0.5
    settings.PANEL_READ_TIMEOUT = 0.3  # the sandbox's slow fault waits 1 s
    settings.PANEL_MAX_RESPONSE_BYTES = 100_000  # its huge fault sends 1,000,000


def closed_port_url() -> str:
    """An API URL on a loopback port that was free a moment ago: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v2"


def play(hostile: Hostile, action: str, sandbox: SandboxServer, provider: Provider, asked: list[str], *, times: int = 1) -> None:
    """Make the next call of ``action`` (``times`` calls) meet ``hostile``."""
    if hostile.kind:
        sandbox.panel.add_fault(hostile.fault(action, asked, times=times))
    else:
        Provider.objects.filter(pk=provider.pk).update(api_url=closed_port_url())
        provider.refresh_from_db()


def assert_readable(message: str, phrase: str) -> None:
    assert phrase in message, f"{phrase!r} not in {message!r}"
    assert len(message) <= 500
    for noise in ("Traceback", "<html", "<!DOCTYPE", "Exception", SANDBOX_KEY):
        assert noise not in message, f"{noise!r} in {message!r}"


def assert_audited(action: str, hostile: Hostile) -> UpstreamCall:
    """The last call of ``action`` left an audit record with the expected outcome and a readable error (or the reply read)."""
    call = UpstreamCall.objects.filter(action=action).order_by("-id").first()
    assert call is not None
    assert call.outcome == hostile.audit
    if hostile.audit == "ok":
        assert call.excerpt and not call.error
    else:
        assert_readable(call.error, hostile.phrase)
    for stored in UpstreamCall.objects.all():
        assert SANDBOX_KEY not in f"{stored.params} {stored.error} {stored.excerpt}"
    return call


def assert_admin_shows(client, view: str, pk: int, message: str) -> None:
    response = client.get(reverse(f"admin:shop_{view}_change", args=[pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert escape(message) in page, f"{message!r} not on the {view} page"
    assert SANDBOX_KEY not in page


def ledger_state() -> list[tuple[int, str, Decimal]]:
    return list(LedgerEntry.objects.order_by("id").values_list("id", "kind", "amount"))


# services -> catalogue_sync --------------------------------------------------------------------------

SERVICES_SHAPES = {
    "object-not-list": reply("unexpected reply shape (expected a list of services, got dict)", {"status": "maintenance", "eta": 5}),
    "missing-fields": reply("no readable services", [{"service": 1, "name": "Followers"}, {"service": 2, "rate": "0.5"}], audit="ok"),
    "refusal": reply("Invalid API key", {"error": "Invalid API key"}, audit="refused", process=False),
}


@pytest.mark.parametrize("hostile", cells("services", SERVICES_SHAPES))
def test_catalogue_sync_against_a_hostile_panel_changes_nothing(hostile: Hostile, provider, sandbox, admin_client) -> None:
    catalogue_sync(provider=provider)
    before = list(ProviderService.objects.order_by("pk").values())
    play(hostile, "services", sandbox, provider, [], times=2)

    with pytest.raises(CatalogueSyncError) as caught:
        catalogue_sync(provider=provider)
    assert catalogue_sync_provider(provider.pk) == str(caught.value)  # the periodic task records it and carries on

    assert list(ProviderService.objects.order_by("pk").values()) == before
    provider.refresh_from_db()
    assert provider.last_sync_ok is False
    assert provider.last_sync_message == str(caught.value)
    assert_readable(provider.last_sync_message, hostile.phrase)
    assert provider.last_sync_message.endswith("Nothing was changed.")
    call = assert_audited("services", hostile)
    assert_admin_shows(admin_client, "provider", provider.pk, provider.last_sync_message)
    if call.error:
        assert_admin_shows(admin_client, "upstreamcall", call.pk, call.error)


def test_one_unreadable_service_keeps_its_row_and_the_rest_apply(provider, sandbox, admin_client) -> None:
    catalogue_sync(provider=provider)
    listing = [service.to_api() for service in sandbox.panel.services]
    broken = dict(listing[0], rate="lots")
    listing[0] = broken
    listing[1] = dict(listing[1], rate="9.75")
    before = ProviderService.objects.get(provider=provider, upstream_id=str(broken["service"]))
    sandbox.panel.add_fault(Fault(kind="reply", action="services", body=listing))

    result = catalogue_sync(provider=provider)

    assert (result.updated, result.vanished, len(result.skipped)) == (1, 0, 1)
    assert ProviderService.objects.get(provider=provider, upstream_id=str(listing[1]["service"])).rate == Decimal("9.75")
    kept = ProviderService.objects.get(pk=before.pk)
    assert (kept.is_available, kept.rate, kept.changed_at) == (True, before.rate, before.changed_at)
    assert not kept.changes.exists()
    provider.refresh_from_db()
    assert provider.last_sync_ok is True
    assert_readable(provider.last_sync_message, "1 unreadable entries skipped (first: #0: not a number: 'lots')")
    assert_admin_shows(admin_client, "provider", provider.pk, provider.last_sync_message)


def test_an_entry_without_a_readable_id_marks_no_service_gone(provider, sandbox) -> None:
    catalogue_sync(provider=provider)
    listing = [service.to_api() for service in sandbox.panel.services][1:]  # the first is no longer listed...
    listing.append({"name": "Followers", "rate": "0.9"})  # ... unless it is this entry, whose id is unreadable
    sandbox.panel.add_fault(Fault(kind="reply", action="services", body=listing))

    result = catalogue_sync(provider=provider)

    assert (result.vanished, len(result.skipped)) == (0, 1)
    assert not ProviderService.objects.filter(is_available=False).exists()


# add -> order_submit ----------------------------------------------------------------------------------

ADD_SHAPES = {
    "list-not-object": reply("unexpected reply shape", [{"order": 10001}]),
    "missing-order-id": reply("add: unexpected reply shape (no order id in the reply)", {"status": "success"}),
    "scalar-not-object": reply("unexpected reply shape", 10001),
    "malformed-after-processing": Hostile("not JSON", "unknown", "malformed", process=True),
}


@pytest.fixture
def order(catalogue, customer) -> Order:
    return order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)


def charges_and_refunds(order: Order) -> tuple[list[Decimal], list[Decimal]]:
    entries = LedgerEntry.objects.filter(order=order)
    charges = list(entries.filter(kind=LedgerEntry.Kind.ORDER_CHARGE).values_list("amount", flat=True))
    refunds = list(entries.filter(kind=LedgerEntry.Kind.REFUND).values_list("amount", flat=True))
    return charges, refunds


@pytest.mark.parametrize("hostile", cells("add", ADD_SHAPES))
def test_submission_against_a_hostile_panel_is_never_repeated_blindly(hostile: Hostile, order, sandbox, admin_client) -> None:
    ledger = ledger_state()
    play(hostile, "add", sandbox, order.provider, [])

    outcome = order_submit(order_id=order.pk)

    order.refresh_from_db()
    if hostile.kind:
        # The request may have been processed: no resubmission, no refund, an admin decides.
        assert outcome is SubmitOutcome.NEEDS_ATTENTION
        assert order.status == OrderStatus.NEEDS_ATTENTION
        assert order_submit(order_id=order.pk) is SubmitOutcome.SKIPPED
        assert sandbox.panel.calls["add"] == 1
    else:
        # Provably never sent: back to awaiting, and the task asks Celery to retry it later.
        assert outcome is SubmitOutcome.RETRY
        assert order.status == OrderStatus.AWAITING
        assert sandbox.panel.calls["add"] == 0
        with pytest.raises(Retry):
            order_submit_task(order.pk)
        order.refresh_from_db()
        assert (order.status, order.submit_attempts) == (OrderStatus.AWAITING, 2)
    assert order.upstream_order_id is None
    assert_readable(order.error, hostile.phrase)
    assert ledger_state() == ledger
    assert charges_and_refunds(order) == ([-order.charge], [])
    assert Wallet.objects.get(user=order.user).balance == Decimal("100") - order.charge
    call = assert_audited("add", hostile)
    assert_admin_shows(admin_client, "order", order.pk, order.error)
    assert_admin_shows(admin_client, "upstreamcall", call.pk, call.error)


def test_an_order_id_the_panel_already_gave_another_order_needs_attention(order, catalogue, customer, sandbox, admin_client) -> None:
    earlier = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    assert order_submit(order_id=earlier.pk) is SubmitOutcome.PLACED
    earlier.refresh_from_db()
    sandbox.panel.add_fault(Fault(kind="reply", action="add", body={"order": earlier.upstream_order_id}))
    ledger = ledger_state()

    assert order_submit(order_id=order.pk) is SubmitOutcome.NEEDS_ATTENTION

    order.refresh_from_db()
    assert (order.status, order.upstream_order_id) == (OrderStatus.NEEDS_ATTENTION, None)
    assert_readable(order.error, f"answered with order id {earlier.upstream_order_id}, which order #{earlier.pk} already has")
    assert Order.objects.get(pk=earlier.pk).upstream_order_id == earlier.upstream_order_id
    assert ledger_state() == ledger
    assert_admin_shows(admin_client, "order", order.pk, order.error)


@pytest.mark.parametrize(
    ("panel_says", "status", "error", "refunded"),
    [
        pytest.param("Incorrect service ID", OrderStatus.FAILED, "Refused by the provider: Incorrect service ID", True, id="add-x-refusal"),
        pytest.param(
            "Not enough funds on balance",
            OrderStatus.AWAITING,
            "Waiting for the provider's balance.",
            False,
            id="add-x-refusal-for-its-funds",
        ),
    ],
)
def test_submission_refused_by_the_panel_follows_the_money_rules(
    order, sandbox, admin_client, panel_says: str, status: str, error: str, refunded: bool
) -> None:
    sandbox.panel.add_fault(Fault(kind="reply", action="add", body={"error": panel_says}, process=False))

    order_submit(order_id=order.pk)

    order.refresh_from_db()
    assert (order.status, order.error, order.upstream_order_id) == (status, error, None)
    assert sandbox.panel.order_count == 0
    assert charges_and_refunds(order) == ([-order.charge], [order.charge] if refunded else [])
    assert ledger_differences() == []
    assert_audited("add", Hostile(panel_says, "refused"))
    assert_admin_shows(admin_client, "order", order.pk, order.error)


# status -> orders_refresh, one order and many --------------------------------------------------------


def per_order(entry: dict[str, str]) -> Callable[[list[str]], dict[str, object]]:
    return lambda asked: {upstream_id: entry for upstream_id in asked}


STATUS_SHAPES = {
    "list-not-object": reply("Provider: no answer for this order", [{"status": "Canceled", "remains": "100"}], audit="ok"),
    "scalar-not-object": reply("unexpected reply shape (expected an object keyed by order id, got int)", 7),
    "missing-fields": reply("Provider: unreadable status: missing status", per_order({"charge": "0.9", "remains": "5"}), audit="ok"),
    "unknown-status-word": reply("unknown status 'Awaiting moderation'", per_order({"status": "Awaiting moderation"}), audit="ok"),
    "ids-never-asked-for": reply("Provider: no answer for this order", {FOREIGN_ID: {"status": "Canceled", "remains": "100"}}, audit="ok"),
    "numbers-out-of-range": reply(
        "Provider: unreadable status", per_order({"status": "Partial", "remains": "1e30", "charge": "1e30"}), audit="ok"
    ),
    "refusal": reply("Incorrect request", {"error": "Incorrect request"}, audit="refused"),
}


def active_orders(catalogue, customer, count: int) -> list[Order]:
    orders = [order_place(user=customer, service=catalogue["4"], link=LINK, quantity=100) for _ in range(count)]
    for order in orders:
        assert order_submit(order_id=order.pk) is SubmitOutcome.PLACED
    Order.objects.update(next_check_at=timezone.now())  # all due now
    return [Order.objects.get(pk=order.pk) for order in orders]


@pytest.mark.parametrize(
    ("hostile", "count"),
    [
        pytest.param(*cell.values, count, id=cell.id)
        for form, count in (("one", 1), ("many", 3))
        for cell in cells(f"status-{form}", STATUS_SHAPES)
    ],
)
def test_status_refresh_against_a_hostile_panel_leaves_orders_as_they_were(
    hostile: Hostile, count: int, catalogue, customer, provider, sandbox, admin_client
) -> None:
    orders = active_orders(catalogue, customer, count)
    ledger = ledger_state()
    play(hostile, "status", sandbox, provider, [order.upstream_order_id for order in orders])
    started = timezone.now()

    result = orders_refresh(provider=provider)

    assert (result.orders, result.calls, result.finished, result.refunded) == (count, 1, 0, 0)
    assert result.errors + result.updated == count
    for before in orders:
        order = Order.objects.get(pk=before.pk)
        assert (order.status, order.refunded, order.finished_at, order.remains) == (OrderStatus.PENDING, 0, None, before.remains)
        assert order.next_check_at > started  # asked again later, not at once and not never
        assert_readable(order.error, hostile.phrase)
        assert_admin_shows(admin_client, "order", order.pk, order.error)
    assert ledger_state() == ledger
    call = assert_audited("status", hostile)
    if call.error:
        assert_admin_shows(admin_client, "upstreamcall", call.pk, call.error)


def test_status_of_one_answered_for_another_id_is_ignored(catalogue, customer, provider, sandbox) -> None:
    (order,) = active_orders(catalogue, customer, 1)
    # The single shape carries its own id: it answers for an order the shop never asked about.
    sandbox.panel.add_fault(Fault(kind="reply", action="status", body={"order": FOREIGN_ID, "status": "Canceled", "remains": "100"}))

    orders_refresh(provider=provider)

    order.refresh_from_db()
    assert (order.status, order.refunded) == (OrderStatus.PENDING, 0)
    assert order.error == "Provider: no answer for this order"
    assert not LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND).exists()


def test_status_of_many_updates_only_the_asked_ids_it_answers(catalogue, customer, provider, sandbox) -> None:
    first, second, unanswered = active_orders(catalogue, customer, 3)
    running = {"status": "In progress", "start_count": "10", "remains": "40", "charge": "0.0013"}
    body = {first.upstream_order_id: running, second.upstream_order_id: running, FOREIGN_ID: {"status": "Canceled", "remains": "100"}}
    sandbox.panel.add_fault(Fault(kind="reply", action="status", body=body))
    ledger = ledger_state()

    result = orders_refresh(provider=provider)

    assert (result.updated, result.finished, result.errors) == (2, 0, 1)
    for order in (first, second):
        order.refresh_from_db()
        assert (order.status, order.remains, order.start_count, order.error) == (OrderStatus.IN_PROGRESS, 40, 10, "")
    unanswered.refresh_from_db()
    assert (unanswered.status, unanswered.error) == (OrderStatus.PENDING, "Provider: no answer for this order")
    assert not Order.objects.filter(upstream_order_id=FOREIGN_ID).exists()
    assert ledger_state() == ledger


# balance -> provider_balance_refresh -------------------------------------------------------------------

BALANCE_SHAPES = {
    "list-not-object": reply("unexpected reply shape (balance reply is not an object)", [{"balance": "5"}]),
    "missing-fields": reply("balance: unexpected reply shape (no balance in the reply)", {"currency": "USD"}),
    "not-a-number": reply("not a number: 'lots'", {"balance": "lots", "currency": "USD"}),
    "number-out-of-range": reply("out of range", {"balance": "1e30", "currency": "USD"}),
    "refusal": reply("Invalid API key", {"error": "Invalid API key"}, audit="refused"),
}


@pytest.mark.parametrize("hostile", cells("balance", BALANCE_SHAPES))
def test_balance_refresh_against_a_hostile_panel_keeps_the_last_known_balance(hostile: Hostile, provider, sandbox, admin_client) -> None:
    known = provider_balance_refresh(provider=provider).amount
    checked_at = Provider.objects.get(pk=provider.pk).balance_checked_at
    play(hostile, "balance", sandbox, provider, [], times=2)

    with pytest.raises(PanelError) as caught:
        provider_balance_refresh(provider=provider)
    provider_balance_refresh_all()  # the periodic task carries on past it

    assert_readable(caught.value.message, hostile.phrase)
    provider.refresh_from_db()
    assert (provider.balance, provider.balance_checked_at) == (known, checked_at)
    call = assert_audited("balance", hostile)
    assert call.error == caught.value.message
    assert_admin_shows(admin_client, "provider", provider.pk, caught.value.message)
    assert_admin_shows(admin_client, "upstreamcall", call.pk, call.error)
