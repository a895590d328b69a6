"""/metrics (shop/observability/metrics.py and views.py): the shop's own metrics with their values, and who may read them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from shop.models import PaymentMethod, TopUp
from tests.conftest import redis_url, xdist_index
from tests.factories import ProviderFactory, ServiceFactory, UserFactory
from tests.helpers import order_row
from tests.observability.conftest import call_at

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests-5b1d9e2a7c"
REDIS_DB = 10 - xdist_index()


def scrape(client, **headers) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, by name and labels."""
    response = client.get(reverse("metrics"), **headers)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def sample(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
def shop(customer):
    """Orders, top-ups and provider calls whose figures are known."""
    service = ServiceFactory()
    for status in ["completed", "completed", "pending", "needs_attention"]:
        order_row(customer, status=status, service=service)
    method = PaymentMethod.objects.create(code="bank", kind="manual", name="Bank", is_enabled=True)
    for state in ["paid", "paid", "paid", "review"]:
        TopUp.objects.create(user=customer, method=method, amount=Decimal("10"), currency="USD", state=state)
    panel = ProviderFactory(name='Panel "A"')
    now = timezone.now()
    for n in range(10):
        call_at(panel, now - timedelta(minutes=n + 1), duration_ms=(n + 1) * 100, outcome="ok" if n < 8 else "unreachable")
    call_at(panel, now - timedelta(minutes=2), action="status", duration_ms=40)
    call_at(panel, now - timedelta(hours=2), duration_ms=99_999)  # outside the 15 minutes
    return panel


def test_metrics_show_orders_top_ups_and_provider_calls_with_their_values(client, shop) -> None:
    samples = scrape(client)
    assert sample(samples, "shop_orders", status="completed") == 2
    assert sample(samples, "shop_orders", status="pending") == 1
    assert sample(samples, "shop_orders", status="needs_attention") == 1
    assert sample(samples, "shop_orders", status="canceled") == 0
    assert sample(samples, "shop_topups", state="paid") == 3
    assert sample(samples, "shop_topups", state="review") == 1
    provider = 'Panel "A"'
    assert sample(samples, "shop_upstream_calls", provider=provider, action="add", outcome="ok") == 8
    assert sample(samples, "shop_upstream_calls", provider=provider, action="add", outcome="unreachable") == 2
    assert sample(samples, "shop_upstream_calls", provider=provider, action="status", outcome="ok") == 1
    # 100 ms ... 1000 ms: p95 at 0.95 x 9 = 8.55, between 900 and 1000 ms.
    assert sample(samples, "shop_upstream_call_duration_seconds", provider=provider, action="add", quantile="0.95") == pytest.approx(0.955)
    assert sample(samples, "shop_upstream_call_duration_seconds", provider=provider, action="add", quantile="0.5") == pytest.approx(0.55)
    newest_ok = shop.calls.filter(outcome="ok").order_by("-created_at").first().created_at
    assert sample(samples, "shop_provider_last_success_timestamp_seconds", provider=provider) == pytest.approx(newest_ok.timestamp())


def test_metrics_count_requests_per_view_method_and_status(client, db) -> None:
    for _ in range(3):
        client.get(reverse("healthz"))
    client.get("/no-such-page/")
    before = scrape(client)
    client.get(reverse("healthz"))
    client.get("/no-such-page/")
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return (sample(after, name, **labels) or 0) - (sample(before, name, **labels) or 0)

    assert grew("django_http_responses_total", view="healthz", method="GET", status="200") == 1
    assert grew("django_http_request_duration_seconds_count", view="healthz", method="GET") == 1
    assert grew("django_http_responses_total", view="<unresolved>", method="GET", status="404") == 1


def test_without_a_redis_broker_no_queue_depth_is_reported(client, db) -> None:
    assert settings.CELERY_BROKER_URL == "memory://"
    names = {name for name, _ in scrape(client)}
    assert "shop_queue_messages" not in names and "shop_broker_up" not in names


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_a_broker_that_does_not_answer_reads_as_down(client, db) -> None:
    samples = scrape(client)
    assert sample(samples, "shop_broker_up") == 0
    assert not any(name == "shop_queue_messages" for name, _ in samples)
    assert sample(samples, "shop_orders", status="completed") == 0  # the rest is still there


@pytest.mark.redis
def test_queue_depths_are_read_from_the_redis_broker(client, db) -> None:
    """Tasks sent as the shop sends them (its queues and routes), one with a priority (kombu keeps those in lists of their own)."""
    url = redis_url().rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    sender = Celery(broker=url)
    sender.conf.update(task_queues=settings.CELERY_TASK_QUEUES, task_routes=settings.CELERY_TASK_ROUTES, task_default_queue="celery")
    try:
        for order_id in (1, 2):
            sender.send_task("shop.tasks.order_submit_task", args=[order_id])
        sender.send_task("shop.tasks.order_submit_task", args=[3], priority=9)
        sender.send_task("shop.tasks.catalogue_sync_provider", args=[1])
    finally:
        sender.close()
    with override_settings(CELERY_BROKER_URL=url):
        samples = scrape(client)
    assert sample(samples, "shop_broker_up") == 1
    depths = {queue: sample(samples, "shop_queue_messages", queue=queue) for queue in settings.CELERY_QUEUES}
    assert depths == {"submit": 3, "refresh": 0, "catalogue": 1, "mail": 0, "celery": 0}


@override_settings(PRODUCTION=True, METRICS_TOKEN="")
def test_production_without_a_token_serves_metrics_to_nobody(client, admin_user) -> None:
    assert client.get(reverse("metrics")).status_code == 404
    client.force_login(admin_user)
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize("production", [True, False])
def test_with_a_token_set_only_its_bearer_reads_metrics(client, db, production) -> None:
    with override_settings(PRODUCTION=production, METRICS_TOKEN=TOKEN):
        assert client.get(reverse("metrics")).status_code == 404
        assert client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 404
        assert client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 404
        samples = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert sample(samples, "shop_orders", status="completed") == 0


def test_metrics_name_no_secret(client, shop) -> None:
    """Provider names and counts only: never a provider's key or URL, nor the token."""
    with override_settings(METRICS_TOKEN=TOKEN):
        text = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert shop.api_key not in text and shop.api_url not in text and TOKEN not in text


def test_the_openmetrics_format_is_served_to_who_asks_for_it(client, db) -> None:
    response = client.get(reverse("metrics"), HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")


def test_a_customer_gets_no_metrics_in_production(client, db) -> None:
    client.force_login(UserFactory(username="curious"))
    with override_settings(PRODUCTION=True, METRICS_TOKEN=TOKEN):
        assert client.get(reverse("metrics")).status_code == 404
