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
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from celery.signals import before_task_publish
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.urls import reverse

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
from tests.conftest import SANDBOX_KEY
from tests.helpers import order_finish
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
    form = {"name": provider.name, "currency": "USD", "exchange_rate": "1", "is_active": "on", "new_api_key": SANDBOX_KEY}
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
    generated = web.post(reverse("api-page"))
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
