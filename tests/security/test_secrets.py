"""Secrets never leak: the provider's API key and a customer's API key appear nowhere they could be read.

Drives the shop's real flows against the sandbox over HTTP (catalogue sync,
orders placed on the web and through the API, submission, status refresh,
refill, cancel, balance reads) and makes the upstream fail in every way the
sandbox can (5xx, HTML page, timeout, malformed JSON, dropped connection, an
error message that echoes the key). Meanwhile it captures every log record of
every logger at DEBUG, the arguments and headers of every Celery task sent, and
every response body: a tour of the admin (index, changelist, add and change
pages of every registered model), every customer page, the API's replies and
error pages. Last it reads every column of every table as text. Neither key may
appear in any of it; the customer's key is shown once, on the page that
generated it, which is the one response left out (and checked to hold it).

Payment gateways' secrets get the same tour: the API key and the webhook
secret of a sandbox, a Stripe and a Cryptomus method, typed into the admin's
forms (once refused, once saved, a change refused), used to start payments,
check them and verify notifications (genuine, forged, stale, tampered), while
each gateway refuses calls with a 401 or a 500 that echoes the key, or does not
answer. The exceptions those calls raise are read too, as a traceback prints
them (their causes included). And the secrets are Fernet tokens at rest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
import responses
from celery.signals import before_task_publish
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from panelapi.sandbox import Fault
from shop.catalogue.tasks import catalogue_sync_all, catalogue_sync_provider, provider_balance_refresh_all
from shop.models import Order, OrderStatus, Provider, Refill, UpstreamCall
from shop.orders.submission import order_submit
from shop.orders.tasks import (
    order_submit_task,
    orders_cancel_send_task,
    orders_refresh_all,
    orders_refresh_provider,
    orders_sweep_task,
    refills_send_task,
    requests_sweep_provider,
)
from shop.payments.gateway import gateway_for
from shop.payments.interface import Urls
from shop.payments.models import PaymentMethod, TopUp, TopUpState
from shop.payments.sandbox import SandboxServer
from shop.payments.tasks import topup_check_task, topups_check_pending
from tests.conftest import SANDBOX_KEY
from tests.helpers import order_finish
from tests.payments import stripe_events
from tests.security.conftest import LINK

pytestmark = pytest.mark.django_db
ADMIN_ROWS_PER_MODEL = 40


@dataclass
class Captured:
    """Everything a secret could leak into, as (where, text) pairs."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    records: list[logging.LogRecord] = field(default_factory=list)
    tasks: list[tuple[str, object, dict]] = field(default_factory=list)

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def response(self, where: str, response) -> None:
        self.add(f"{where} -> {response.status_code}", response.content.decode(errors="replace"))


class RecordAll(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture
def captured(caplog) -> Iterator[Captured]:
    """Every logger at DEBUG into a handler on the root logger (and caplog); every task sent, with its arguments."""
    found = Captured()
    handler = RecordAll(found.records)
    loggers = [logging.getLogger(), *(logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger))]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is logging.getLogger() or not logger.propagate:
            logger.addHandler(handler)
    caplog.set_level(logging.DEBUG)

    def published(sender=None, body=None, headers=None, **kwargs) -> None:
        found.tasks.append((sender, body, dict(headers or {})))

    before_task_publish.connect(published, weak=False)
    try:
        yield found
    finally:
        before_task_publish.disconnect(published)
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(handler)
    found.records.extend(record for record in caplog.records if record not in found.records)


def log_text(record: logging.LogRecord) -> str:
    text = logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)
    return f"{text} {record.args!r} {getattr(record, 'request', '')!r} {record.__dict__!r}"


def database_text() -> list[tuple[str, str]]:
    """Every column of every table, as the database holds it."""
    rows: list[tuple[str, str]] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows.extend((f"table {table}", repr(row)) for row in cursor.fetchall())
    return rows


def admin_tour(client: Client, seen: Captured) -> int:
    """Index, then changelist, add page and change pages of every registered model; returns the pages read."""
    pages = 0
    seen.response("admin index", client.get(reverse("admin:index")))
    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for url in (reverse(f"{info}_changelist"), reverse(f"{info}_add")):
            seen.response(url, client.get(url))
            pages += 1
        for pk in model._default_manager.order_by("-pk").values_list("pk", flat=True)[:ADMIN_ROWS_PER_MODEL]:
            url = reverse(f"{info}_change", args=[pk])
            response = client.get(url)
            assert response.status_code == 200, url
            seen.response(url, response)
            pages += 1
    return pages


def customer_tour(client: Client, seen: Captured) -> None:
    for name in ("services", "order-new", "orders", "balance", "api-page"):
        seen.response(name, client.get(reverse(name)))
    for tab in ("pending", "completed", "canceled", "failed"):
        seen.response(f"orders {tab}", client.get(reverse("orders"), {"status": tab}))
    ids = list(Order.objects.values_list("pk", flat=True))
    for pk in ids:
        seen.response(f"order {pk}", client.get(reverse("order-detail", args=[pk])))
    seen.response("status json", client.get(reverse("orders-status"), {"ids": ",".join(map(str, ids))}))
    category = Order.objects.select_related("service").first().service.category_id
    seen.response("services json", client.get(reverse("services-json"), {"category": category}))
    seen.response("404 page", client.get("/orders/999999999/"))


def test_no_key_leaks_through_logs_pages_tasks_api_or_database(
    captured, settings, sandbox, provider, customer, admin_user, django_capture_on_commit_callbacks
) -> None:
    settings.PANEL_READ_TIMEOUT = 0.5
    seen = captured
    staff, web = Client(), Client()
    staff.force_login(admin_user)
    web.force_login(customer)
    changelist = reverse("admin:shop_provider_changelist")

    def admin_action(action: str) -> None:
        seen.response(f"admin action {action}", staff.post(changelist, {"action": action, "_selected_action": [provider.pk]}, follow=True))

    # Catalogue: synced through admin and tasks, offered in the shop, and once with a broken reply.
    admin_action("sync_now")
    with django_capture_on_commit_callbacks(execute=True):
        catalogue_sync_all()
    catalogue_sync_provider(provider.pk)
    services = provider.services.order_by("pk").values_list("pk", flat=True)
    seen.response(
        "offer in shop",
        staff.post(
            reverse("admin:shop_providerservice_changelist"), {"action": "offer_in_shop", "_selected_action": list(services)}, follow=True
        ),
    )
    sandbox.panel.add_fault(Fault(kind="malformed", action="services"))
    admin_action("sync_now")
    sandbox.panel.add_fault(Fault(kind="reply", action="services", body={"error": f"Invalid key {SANDBOX_KEY}, check key={SANDBOX_KEY}"}))
    catalogue_sync_provider(provider.pk)
    admin_action("refresh_balance")
    sandbox.panel.add_fault(Fault(kind="slow", action="balance", delay=1.0, process=False))
    admin_action("refresh_balance")
    sandbox.panel.add_fault(Fault(kind="html", action="balance", status=503))
    provider_balance_refresh_all()

    # The provider's form: the key typed again, once refused for a bad URL, once saved (the admin's history records the change).
    change = reverse("admin:shop_provider_change", args=[provider.pk])
    form = {
        "name": provider.name,
        "currency": "USD",
        "exchange_rate": "1",
        "concurrency": "4",
        "is_active": "on",
        "new_api_key": SANDBOX_KEY,
    }
    refused = staff.post(change, {**form, "api_url": "ftp://panel.example/api/v2"})
    assert refused.status_code == 200 and "Enter an http:// or https:// URL." in refused.content.decode()
    seen.response("provider form refused", refused)
    seen.response("provider form saved", staff.post(change, {**form, "api_url": sandbox.url}, follow=True))
    assert Provider.objects.get(pk=provider.pk).api_key == SANDBOX_KEY

    # Money, then the customer's key: shown once on the page that made it.
    seen.response(
        "credit",
        staff.post(
            reverse("admin:auth_user_balance", args=[customer.pk]), {"amount": "50", "direction": "credit", "reason": "top-up"}, follow=True
        ),
    )
    generated = web.post(reverse("api-key-new"), {"confirm": "yes"}, follow=True)
    key = re.search(r"data-new-key>(smm_[\w-]+)<", generated.content.decode()).group(1)
    assert len(key) > 40

    def api(**params: object) -> dict | list:
        response = web.post("/api/v2", {"key": key, **params})
        seen.response(f"api {params}", response)
        return response.json()

    # Orders, on the web and through the API; each queues its submission after commit.
    service = Provider.objects.get(pk=provider.pk).services.get(upstream_id="1").retail_services.get()
    with django_capture_on_commit_callbacks(execute=True):
        seen.response("order form", web.post(reverse("order-new"), {"service": service.pk, "link": LINK, "quantity": "1000"}, follow=True))
        for _ in range(6):
            api(action="add", service=service.pk, link=LINK, quantity="1000")
    web_order, *api_orders = Order.objects.order_by("pk")
    assert len(api_orders) == 6
    # Submissions: fine, 5xx, HTML page, timeout, dropped, and a refusal that echoes the key.
    assert order_submit(order_id=web_order.pk) == "placed"
    assert order_submit(order_id=api_orders[0].pk) == "placed"
    faults = [
        Fault(kind="error500", action="add"),
        Fault(kind="html", action="add"),
        Fault(kind="slow", action="add", delay=1.0),
        Fault(kind="drop", action="add"),
        Fault(kind="reply", action="add", process=False, body={"error": f"Bad key {SANDBOX_KEY}"}),
    ]
    for order, fault in zip(api_orders[1:], faults, strict=True):
        sandbox.panel.add_fault(fault)
        order_submit(order_id=order.pk)
    outcomes = set(Order.objects.values_list("status", flat=True))
    assert {OrderStatus.PENDING, OrderStatus.NEEDS_ATTENTION, OrderStatus.FAILED} <= outcomes

    # Status refresh: once broken, once fine; the tasks and the sweeper too.
    Order.objects.filter(status=OrderStatus.PENDING).update(next_check_at="2000-01-01T00:00:00Z")
    sandbox.panel.add_fault(Fault(kind="html", action="status"))
    orders_refresh_provider(provider.pk)
    sandbox.panel.advance(10_000)
    Order.objects.filter(status=OrderStatus.PENDING).update(next_check_at="2000-01-01T00:00:00Z")
    with django_capture_on_commit_callbacks(execute=True):
        orders_refresh_all()
        orders_sweep_task()
    orders_refresh_provider(provider.pk)
    order_submit_task.apply(args=[api_orders[0].pk])

    # Requests of a placed order: statuses, refill (fine and failing), cancel.
    placed = [str(pk) for pk in Order.objects.exclude(upstream_order_id=None).values_list("pk", flat=True)]
    api(action="status", order=placed[0])
    api(action="status", orders=",".join([*placed, "0", "x"]))
    api(action="balance")
    api(action="services")
    finished = Order.objects.get(pk=web_order.pk)
    if finished.status != OrderStatus.COMPLETED:
        order_finish(order_id=finished.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    # The requests answer at once; the tasks meet the provider's failures (a 5xx, an HTML page) and its answers.
    seen.response("web refill", web.post(reverse("order-refill", args=[web_order.pk]), follow=True))
    api(action="refill", order=str(web_order.pk))  # one under way already: refused
    sandbox.panel.add_fault(Fault(kind="error500", action="refill"))
    refills_send_task(list(Refill.objects.values_list("pk", flat=True)))
    refill = api(action="refill", orders=str(web_order.pk))  # the provider rejected the last one: asked again
    refills_send_task(list(Refill.objects.values_list("pk", flat=True)))
    api(action="refill_status", refill=str(refill[0]["refill"]) if isinstance(refill[0]["refill"], int) else "1")
    api(action="refill_status", refills="1,2,x")
    sandbox.panel.add_fault(Fault(kind="html", action="refill_status"))
    requests_sweep_provider(provider.pk)
    sandbox.panel.add_fault(Fault(kind="html", action="cancel"))
    api(action="cancel", orders=",".join(placed))
    orders_cancel_send_task([int(pk) for pk in placed])
    api(action="cancel", order=placed[-1])
    orders_cancel_send_task([int(placed[-1])])
    # API errors: a wrong key, a key sent as JSON, garbage.
    seen.response("api wrong key", web.post("/api/v2", {"key": key[:-2] + "xx", "action": "balance"}))
    seen.response("api json", web.post("/api/v2", {"key": key, "action": "balance"}, content_type="application/json"))
    seen.response("api get", web.get("/api/v2", {"key": key, "action": "balance"}))
    seen.response("api bad json", web.post("/api/v2", f'{{"key": "{key}", "action": ', content_type="application/json"))

    # The tours: every customer page, then the whole admin, and a CSRF refusal.
    customer_tour(web, seen)
    pages = admin_tour(staff, seen)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(customer)
    seen.response("csrf refusal", strict.post(reverse("api-page"), {"key": key}))
    for record in seen.records:
        seen.add(f"log {record.name}", log_text(record))
    for name, body, headers in seen.tasks:
        seen.add(f"task {name}", f"{body!r} {headers!r}")
    seen.texts.extend(database_text())

    # The capture saw real work: a key is found where it is meant to be, so it would be found anywhere.
    assert key in generated.content.decode()
    assert sandbox.panel.calls["add"] >= 5 and UpstreamCall.objects.filter(outcome="unknown").exists()
    assert {"refused", "unknown", "ok"} <= set(UpstreamCall.objects.values_list("outcome", flat=True))
    assert pages > 2 * len(admin.site._registry)
    assert len(seen.records) > 20
    sent = {name for name, _, _ in seen.tasks}
    assert {order_submit_task.name, catalogue_sync_provider.name, orders_refresh_provider.name} <= sent
    for name, body, _ in seen.tasks:
        args, kwargs, _embed = body
        assert all(isinstance(arg, int) for arg in args) and not kwargs, (name, body)
    for secret, what in ((SANDBOX_KEY, "provider key"), (key, "customer key"), (key[10:], "customer key's secret part")):
        leaks = [where for where, text in seen.texts if secret in text]
        assert leaks == [], f"the {what} leaks into: {leaks[:10]}"
    # Later visits to the API page show the prefix only.
    page = web.get(reverse("api-page")).content.decode()
    assert key[:10] in page and key not in page
    assert Decimal(api(action="balance")["balance"]) >= 0


def test_a_key_in_a_url_does_not_ride_along_on_django_s_request_records(rf) -> None:
    """The filter on ``django.request`` drops the request (whose repr holds the query) when the query carries a key."""
    records: list[logging.LogRecord] = []
    handler = RecordAll(records)
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        for query in ("?key=smm_secret&action=balance", "?page=2"):
            logger.warning("Method Not Allowed: %s", "/api/v2", extra={"request": rf.get(f"/api/v2{query}"), "status_code": 405})
    finally:
        logger.removeHandler(handler)
    with_key, without = records
    assert with_key.request is None and "smm_secret" not in log_text(with_key)
    assert without.request is not None and "page=2" in repr(without.request)


# Gateway secrets ------------------------------------------------------------------------------------------------------

# One API key and one webhook secret per gateway kind, each unlike any other text in the shop.
GATEWAY_SECRETS = {
    PaymentMethod.Kind.SANDBOX: ("pay-sandbox-apikey-Lk7QzX3v9W", "pay-sandbox-whsec-Rt5NpY2c8H"),
    PaymentMethod.Kind.STRIPE: ("sk_test_51LeakTourApiKeyQm4Zx8Vb2Nc6", "whsec_LeakTourSigningSecretHd3Kf7Js1"),
    PaymentMethod.Kind.CRYPTOMUS: ("cryptomus-paykey-LeakTour-Gw9Tq4Yp6", "cryptomus-whsec-LeakTour-Mv2Bx5Ln8"),
}
PAY_MERCHANT = "leak-tour-shop"
CRYPTOMUS_MERCHANT = "5d7c3a1e-2b4f-4e8a-9c6d-1f0e2d3c4b5a"
SANDBOX_DOWN = "https://sandbox-pay.down.test"
STRIPE_SESSIONS = "https://api.stripe.com/v1/checkout/sessions"
CRYPTOMUS_CREATE = "https://api.cryptomus.com/v1/payment"
CRYPTOMUS_INFO = "https://api.cryptomus.com/v1/payment/info"
# Where the sandbox sends its notifications in this test: a closed port, so each is handed to the shop by the test.
NOWHERE = "127.0.0.1:1"
URLS = Urls(notify="https://shop.example/payments/notify/x/", back="https://shop.example/funds/x/")


def secret_parts(secret: str) -> list[str]:
    """The secret, and its last 12 characters (a masked key shows 4 at most): neither may appear anywhere."""
    return [secret, secret[-12:]]


def method_form(kind: str, code: str, api_url: str = "", merchant_id: str = "") -> dict[str, str]:
    """The admin's add form of a method, with both secrets typed in."""
    api_key, webhook_secret = GATEWAY_SECRETS[kind]
    return {
        "name": f"{kind} (leak tour)",
        "code": code,
        "kind": kind,
        "is_enabled": "on",
        "position": "0",
        "currency": "USD",
        "min_amount": "1",
        "max_amount": "1000",
        "fee_percent": "2",
        "bonus_percent": "0",
        "bonus_threshold": "0",
        "instructions": "",
        "api_url": api_url,
        "merchant_id": merchant_id,
        "new_api_key": api_key,
        "new_webhook_secret": webhook_secret,
    }


@pytest.fixture
def pay_gateway() -> Iterator[SandboxServer]:
    """The sandbox payment gateway with the tour's sandbox secrets, over real HTTP on loopback."""
    api_key, webhook_secret = GATEWAY_SECRETS[PaymentMethod.Kind.SANDBOX]
    with SandboxServer(merchant=PAY_MERCHANT, api_key=api_key, webhook_secret=webhook_secret, retry_delays=(0.01,) * 4) as server:
        yield server


@pytest.fixture
def gateway_apis(pay_gateway) -> Iterator[responses.RequestsMock]:
    """Stripe's, Cryptomus' and a broken sandbox's servers as the test answers them; the real sandbox passes through."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add_passthru(pay_gateway.url)
        yield api


def test_no_gateway_secret_leaks_through_logs_pages_tasks_exceptions_or_database(
    captured, settings, pay_gateway, gateway_apis, customer, admin_user, django_capture_on_commit_callbacks
) -> None:
    """Stripe, Cryptomus and sandbox methods: configured in admin, paid, refused, failing in every way, then the tours.

    Every reply that can carry text echoes the key: a 401 and a 500 of each
    gateway name it, as a careless gateway (or one showing what it received)
    would. Exceptions are read as a traceback prints them, causes included.
    """
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, NOWHERE.split(":")[0]]
    settings.TOPUP_OPEN_LIMIT = 100  # the tour leaves more top-ups waiting than a customer may start
    seen, api = captured, gateway_apis
    staff, web, gateway = Client(), Client(), Client()
    staff.force_login(admin_user)
    web.force_login(customer)
    Kind = PaymentMethod.Kind

    # Admin: each method added with both secrets after a refused first try; a refused change with the secrets typed again.
    forms = {
        "sandbox": method_form(Kind.SANDBOX, "sandbox", pay_gateway.url, PAY_MERCHANT),
        "sandbox-down": method_form(Kind.SANDBOX, "sandbox-down", SANDBOX_DOWN, PAY_MERCHANT),
        "stripe": method_form(Kind.STRIPE, "stripe"),
        "cryptomus": method_form(Kind.CRYPTOMUS, "cryptomus", "", CRYPTOMUS_MERCHANT),
    }
    add = reverse("admin:shop_paymentmethod_add")
    for code, form in forms.items():
        refused = staff.post(add, {**form, "max_amount": "0.50"})
        assert refused.status_code == 200 and "The maximum must be at least the minimum." in refused.content.decode(), code
        seen.response(f"method {code} add refused", refused)
        seen.response(f"method {code} added", staff.post(add, form, follow=True))
    methods = {method.code: method for method in PaymentMethod.objects.all()}
    assert set(methods) == set(forms)
    for code, method in methods.items():
        assert (method.api_key, method.webhook_secret) == GATEWAY_SECRETS[method.kind], code
        change = reverse("admin:shop_paymentmethod_change", args=[method.pk])
        seen.response(f"method {code} change page", staff.get(change))
        refused = staff.post(change, {**forms[code], "max_amount": "0.50"})
        assert refused.status_code == 200 and "The maximum must be at least the minimum." in refused.content.decode(), code
        seen.response(f"method {code} change refused", refused)

    def add_funds(code: str, amount: str, **extra: str) -> TopUp | None:
        """The customer's add funds form; the top-up it started, or None when none was."""
        before = TopUp.objects.count()
        response = web.post(reverse("funds-add"), {"method": methods[code].pk, "amount": amount}, **extra)
        seen.response(f"add funds {code} {amount}", response)
        return TopUp.objects.latest("id") if TopUp.objects.count() > before else None

    def notify(code: str, body: bytes, headers: dict[str, str], expected: int) -> None:
        response = gateway.post(reverse("payment-notify", args=[code]), body, content_type="application/json", headers=headers)
        seen.response(f"notify {code}", response)
        assert response.status_code == expected, (code, response.status_code, body[:200])

    def fails(where: str, call: Callable[[], object]) -> None:
        """Run a gateway call that must fail; keep its exception as a traceback prints it (causes and context included)."""
        with pytest.raises(Exception) as caught:
            call()
        seen.add(f"exception {where}", "".join(traceback.format_exception(caught.value)))

    def pending(code: str, gateway_id: str) -> TopUp:
        """A top-up the gateway knows and has not settled, as the shop keeps it."""
        return TopUp.objects.create(user=customer, method=methods[code], amount=Decimal("9"), currency="USD", gateway_id=gateway_id)

    def polled(topup: TopUp) -> None:
        """The customer's top-up page and its live status, which queues a server-side check after commit."""
        seen.response(f"top-up {topup.pk}", web.get(reverse("topup-detail", args=[topup.public_id])))
        with django_capture_on_commit_callbacks(execute=True):
            seen.response(f"top-up {topup.pk} status", web.get(reverse("topup-status", args=[topup.public_id])))

    # Sandbox: paid and declined through the real gateway; each notification handed over by the test, then refused forms of it.
    sandbox_api_key, sandbox_secret = GATEWAY_SECRETS[Kind.SANDBOX]
    paid = add_funds("sandbox", "25", HTTP_HOST=NOWHERE)
    declined = add_funds("sandbox", "30", HTTP_HOST=NOWHERE)
    polled(paid)
    pay_gateway.act(paid.gateway_id, "pay")
    pay_gateway.act(declined.gateway_id, "decline")
    for delivery in pay_gateway.wait_for_deliveries(2):
        notify("sandbox", delivery.body, delivery.headers, 200)
    last = pay_gateway.deliveries[0]
    stale = int(time.time()) - 3600
    for headers in (
        {},
        {"X-Sandbox-Signature": "t=1,v1=00"},
        # Signed as the sandbox signs (the same scheme as Stripe's): an hour ago, and with another secret.
        {"X-Sandbox-Signature": stripe_events.sign(last.body, secret=sandbox_secret, timestamp=stale)},
        {"X-Sandbox-Signature": stripe_events.sign(last.body, secret="another-secret")},
    ):
        notify("sandbox", last.body, headers, 400)
    notify("sandbox", last.body.replace(b'"paid"', b'"paid" '), last.headers, 400)
    # A sandbox that refuses, echoing the key: start and fetch, through the shop and directly.
    stuck = pending("sandbox-down", "sbx_stuck")
    polled(stuck)
    for status in (401, 500):
        echo = {"error": f"Unknown merchant or bad key {sandbox_api_key}"}
        api.upsert(responses.POST, f"{SANDBOX_DOWN}/api/payments", status=status, json=echo)
        api.upsert(responses.GET, f"{SANDBOX_DOWN}/api/payments/sbx_stuck", status=status, json=echo)
        assert add_funds("sandbox-down", "12").state == TopUpState.FAILED
        fails(f"sandbox start {status}", lambda: gateway_for(stuck.method).start(method=stuck.method, topup=stuck, urls=URLS))
        fails(f"sandbox fetch {status}", lambda: gateway_for(stuck.method).fetch(method=stuck.method, topup=stuck))
        topup_check_task.apply(args=[stuck.pk])
    fails("sandbox verify", lambda: gateway_for(methods["sandbox"]).verify(method=methods["sandbox"], body=last.body, headers={}))

    # Stripe: a session created, paid by a signed event; refused events; then 401 and 500 replies echoing the key, and no reply.
    stripe_key, stripe_secret = GATEWAY_SECRETS[Kind.STRIPE]
    api.upsert(
        responses.POST, STRIPE_SESSIONS, json=stripe_events.session(session_id="cs_test_leak", status="open", payment_status="unpaid")
    )
    card = add_funds("stripe", "20")
    assert card.gateway_id == "cs_test_leak"
    polled(card)
    event = stripe_events.event(
        "checkout.session.completed", stripe_events.session(session_id="cs_test_leak", reference=str(card.public_id), amount_total=2000)
    )
    notify("stripe", event, {"Stripe-Signature": stripe_events.sign(event, secret=stripe_secret)}, 200)
    for headers in (
        {},
        {"Stripe-Signature": "garbage"},
        {"Stripe-Signature": stripe_events.sign(event, secret=stripe_events.OTHER_SECRET)},
        {"Stripe-Signature": stripe_events.sign(event, secret=stripe_secret, timestamp=int(time.time()) - 3600)},
    ):
        notify("stripe", event, headers, 400)
    notify("stripe", event.replace(b"2000", b"9000"), {"Stripe-Signature": stripe_events.sign(event, secret=stripe_secret)}, 400)
    open_card = pending("stripe", "cs_test_open")
    polled(open_card)
    echo_error = {"message": f"Invalid API Key provided: {stripe_key}"}
    for status, kind in ((401, "invalid_request_error"), (500, "api_error")):
        failure = {"status": status, "json": {"error": {"type": kind, **echo_error}}, "headers": {"Request-Id": "req_leak"}}
        api.upsert(responses.POST, STRIPE_SESSIONS, **failure)
        api.upsert(responses.GET, f"{STRIPE_SESSIONS}/cs_test_open", **failure)
        assert add_funds("stripe", "20").state == TopUpState.FAILED
        fails(f"stripe start {status}", lambda: gateway_for(card.method).start(method=card.method, topup=card, urls=URLS))
        fails(f"stripe fetch {status}", lambda: gateway_for(open_card.method).fetch(method=open_card.method, topup=open_card))
        topup_check_task.apply(args=[open_card.pk])
    api.upsert(responses.POST, STRIPE_SESSIONS, body=requests.ConnectionError("connection refused"))
    assert add_funds("stripe", "20").state == TopUpState.FAILED
    assert any(call.request.headers.get("Authorization") == f"Bearer {stripe_key}" for call in api.calls)

    # Cryptomus: an invoice, paid by a signed notification confirmed by payment/info; refused ones; failures echoing the key.
    cryptomus_key, cryptomus_secret = GATEWAY_SECRETS[Kind.CRYPTOMUS]
    invoice = "0b5f0d52-1111-4c1e-9a0e-6f2b7c1d9e01"
    api.upsert(
        responses.POST, CRYPTOMUS_CREATE, json={"state": 0, "result": {"uuid": invoice, "url": f"https://pay.cryptomus.com/pay/{invoice}"}}
    )
    crypto = add_funds("cryptomus", "15")
    assert crypto.gateway_id == invoice
    polled(crypto)
    info = {"uuid": invoice, "order_id": str(crypto.public_id), "amount": "15.00", "currency": "USD", "status": "paid", "is_final": True}
    api.upsert(responses.POST, CRYPTOMUS_INFO, json={"state": 0, "result": info})

    def cryptomus_notification(key: str, **fields: object) -> bytes:
        data = {"type": "payment", "uuid": invoice, "order_id": str(crypto.public_id), "amount": "15.00", "status": "paid", **fields}
        signed = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")
        sign = hashlib.md5(base64.b64encode(signed.encode()) + key.encode(), usedforsecurity=False).hexdigest()
        return json.dumps({**data, "sign": sign}).encode()

    notify("cryptomus", cryptomus_notification(cryptomus_key), {}, 200)
    notify("cryptomus", cryptomus_notification("another-key"), {}, 400)
    notify("cryptomus", cryptomus_notification(cryptomus_key).replace(b"15.00", b"95.00"), {}, 400)
    notify("cryptomus", b'{"uuid": "x", "sign": ' + json.dumps(cryptomus_secret).encode() + b"}", {}, 400)
    pending_crypto = pending("cryptomus", "c0ffee00-0000-4000-8000-00000000c0de")
    polled(pending_crypto)
    for status in (401, 500, 422):
        echo = {
            "state": 1,
            "message": f"Invalid sign, key {cryptomus_key}",
            "errors": {"sign": [f"not signed with {cryptomus_key}"]},
        }
        api.upsert(responses.POST, CRYPTOMUS_CREATE, status=status, json=echo)
        api.upsert(responses.POST, CRYPTOMUS_INFO, status=status, json=echo)
        assert add_funds("cryptomus", "15").state == TopUpState.FAILED
        notify("cryptomus", cryptomus_notification(cryptomus_key), {}, 503)
        fails(f"cryptomus start {status}", lambda: gateway_for(crypto.method).start(method=crypto.method, topup=crypto, urls=URLS))
        fails(f"cryptomus fetch {status}", lambda: gateway_for(crypto.method).fetch(method=crypto.method, topup=pending_crypto))
        topup_check_task.apply(args=[pending_crypto.pk])
    api.upsert(responses.POST, CRYPTOMUS_CREATE, body=requests.ConnectTimeout("timed out"))
    assert add_funds("cryptomus", "15").state == TopUpState.FAILED
    # The periodic check meets every gateway's failure at once.
    TopUp.objects.filter(state=TopUpState.PENDING).update(created_at=timezone.now() - timedelta(hours=1), checked_at=None)
    topups_check_pending.apply()

    # The tours: the customer's payment pages, then the whole admin.
    for name in ("funds-add", "topups", "balance", "orders", "order-new"):
        seen.response(name, web.get(reverse(name)))
    for topup in TopUp.objects.filter(user=customer):
        seen.response(f"top-up page {topup.pk}", web.get(reverse("topup-detail", args=[topup.public_id])))
    pages = admin_tour(staff, seen)
    for record in seen.records:
        seen.add(f"log {record.name}", log_text(record))
    for name, body, headers in seen.tasks:
        seen.add(f"task {name}", f"{body!r} {headers!r}")
    seen.texts.extend(database_text())

    # The tour saw real work: three gateways paid, failed and refused; checks queued with ids; the secrets were in use.
    assert set(TopUp.objects.filter(state=TopUpState.PAID).values_list("method__code", flat=True)) == {"sandbox", "stripe", "cryptomus"}
    assert TopUp.objects.filter(state=TopUpState.FAILED).count() >= 8
    assert sum("rejected" in record.getMessage() for record in seen.records) >= 10
    assert pages > 2 * len(admin.site._registry)
    assert {name for name, _, _ in seen.tasks} >= {topup_check_task.name}
    for name, body, _ in seen.tasks:
        args, kwargs, _embed = body
        assert all(isinstance(arg, int) for arg in args) and not kwargs, (name, body)
    leaks = {}
    for kind, secrets in GATEWAY_SECRETS.items():
        for what, secret in zip(("API key", "webhook secret"), secrets, strict=True):
            found = sorted({where for where, text in seen.texts for part in secret_parts(secret) if part in text})
            if found:
                leaks[f"{kind} {what}"] = found[:8]
    assert leaks == {}, f"gateway secrets leak into: {leaks}"


def test_gateway_secrets_are_encrypted_at_rest(db) -> None:
    """Each method's API key and webhook secret are Fernet tokens in their columns, never the text; the model reads them back."""
    for kind, (api_key, webhook_secret) in GATEWAY_SECRETS.items():
        PaymentMethod.objects.create(code=kind, kind=kind, name=kind, api_key=api_key, webhook_secret=webhook_secret)
    table = connection.ops.quote_name(PaymentMethod._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT kind, api_key, webhook_secret FROM {table}")  # noqa: S608
        rows = cursor.fetchall()
    assert len(rows) == len(GATEWAY_SECRETS)
    for kind, raw_key, raw_secret in rows:
        api_key, webhook_secret = GATEWAY_SECRETS[kind]
        for raw, secret in ((raw_key, api_key), (raw_secret, webhook_secret)):
            assert raw.startswith("gAAAA") and not any(part in raw for part in secret_parts(secret)), (kind, raw)
        method = PaymentMethod.objects.get(kind=kind)
        assert (method.api_key, method.webhook_secret) == (api_key, webhook_secret)
