"""The admin index dashboard (``shop.backoffice.dashboard``) with its payments per method, and the catalogue and order admin additions."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shop.backoffice import charts
from shop.backoffice.dashboard import MethodTopups, PaymentFigures, dashboard_figures, payment_figures, topup_figures
from shop.models import Category, Order, OrderStatus, PaymentMethod, Provider, ProviderService, Service, TopUp, TopUpState
from tests.factories import ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def services(db) -> dict[str, Service]:
    """Two providers whose currencies differ from the shop's, one retail service each."""
    category = Category.objects.create(name="Followers")
    made = {}
    for name, exchange_rate in [("dear", Decimal("1.5")), ("cheap", Decimal("0.9"))]:
        provider = ProviderFactory(name=name, exchange_rate=exchange_rate)
        upstream = ProviderService.objects.create(
            provider=provider, upstream_id="1", name="Followers", rate=Decimal("1"), min_quantity=10, max_quantity=1000
        )
        made[name] = Service.objects.create(provider_service=upstream, category=category, name=f"Followers from {name}")
    return made


def make_order(service: Service, *, at: datetime, charge: str, status: str, refunded: str = "0", cost: str | None = None) -> Order:
    order = Order.objects.create(
        user=UserFactory(username="buyer"),
        service=service,
        provider=service.provider_service.provider,
        provider_service=service.provider_service,
        quantity=100,
        total_quantity=100,
        rate=Decimal("1"),
        charge=Decimal(charge),
        refunded=Decimal(refunded),
        upstream_charge=None if cost is None else Decimal(cost),
        status=status,
    )
    Order.objects.filter(pk=order.pk).update(created_at=at)  # created_at is auto_now_add
    return order


@pytest.fixture
def known_orders(services) -> None:
    dear, cheap = services["dear"], services["cheap"]
    today, yesterday = NOW - timedelta(hours=2), NOW.replace(hour=0) - timedelta(minutes=1)
    make_order(dear, at=today, charge="10", status=OrderStatus.COMPLETED, cost="4")  # cost 4 x 1.5 = 6
    make_order(cheap, at=today, charge="5", refunded="2.5", status=OrderStatus.PARTIAL, cost="1.23457")  # cost 1.111113
    make_order(dear, at=today, charge="3.3333", status=OrderStatus.PENDING)  # cost not known yet
    make_order(dear, at=yesterday, charge="7.5", refunded="7.5", status=OrderStatus.FAILED)  # refunded in full
    make_order(cheap, at=yesterday, charge="0.1234", status=OrderStatus.NEEDS_ATTENTION)
    make_order(dear, at=NOW - timedelta(days=30), charge="100", status=OrderStatus.AWAITING)  # the day before the window
    make_order(dear, at=NOW + timedelta(hours=1), charge="50", status=OrderStatus.IN_PROGRESS)  # after "now"


def test_figures_give_revenue_and_profit_per_day(known_orders, django_assert_max_num_queries) -> None:
    # The rollup's fold (one statement on PostgreSQL; two in a savepoint on SQLite), the days, the statuses, the providers.
    with django_assert_max_num_queries(4 if connection.vendor == "postgresql" else 7):
        figures = dashboard_figures(now=NOW)

    assert len(figures.days) == 30
    assert (figures.days[0].day, figures.days[-1].day) == (date(2025, 3, 10), date(2025, 2, 9))
    today, yesterday = figures.days[0], figures.days[1]
    assert (today.orders, today.revenue, today.cost, today.profit, today.cost_unknown) == (
        3,
        Decimal("15.8333"),
        Decimal("7.1111"),
        Decimal("8.7222"),
        1,
    )
    assert (yesterday.orders, yesterday.revenue, yesterday.cost, yesterday.profit, yesterday.cost_unknown) == (
        2,
        Decimal("0.1234"),
        Decimal("0"),
        Decimal("0.1234"),
        1,
    )
    assert all(row.orders == 0 and row.revenue == 0 for row in figures.days[2:])
    totals = figures.totals
    assert (totals.orders, totals.revenue, totals.cost, totals.profit, totals.cost_unknown) == (
        5,
        Decimal("15.9567"),
        Decimal("7.1111"),
        Decimal("8.8456"),
        2,
    )
    money = [today.revenue, today.cost, today.profit, totals.revenue, totals.profit]
    assert all(isinstance(amount, Decimal) for amount in money)


def test_figures_count_active_orders_per_status_whenever_placed(known_orders) -> None:
    counts = {row.status: row.count for row in dashboard_figures(now=NOW).statuses}
    assert counts == {
        "awaiting": 1,
        "submitting": 0,
        "pending": 1,
        "in_progress": 1,
        "processing": 0,
        "active": 0,
        "paused": 0,
        "needs_attention": 1,
    }
    assert _needs_attention(dashboard_figures(now=NOW)) == 1


def test_figures_flag_providers_below_their_threshold(services) -> None:
    Provider.objects.filter(name="dear").update(balance=Decimal("10"), balance_threshold=Decimal("50"))
    Provider.objects.filter(name="cheap").update(balance=Decimal("80"), balance_threshold=Decimal("50"))
    low = {provider.name: provider.low for provider in dashboard_figures(now=NOW).providers}
    assert low == {"cheap": False, "dear": True}


def test_figures_of_an_empty_shop_are_zero(db) -> None:
    figures = dashboard_figures(days=7, now=NOW)
    assert len(figures.days) == 7
    assert (figures.totals.orders, figures.totals.revenue, figures.totals.profit) == (0, Decimal("0"), Decimal("0"))
    assert _needs_attention(figures) == 0
    assert figures.providers == ()


def test_admin_index_renders_on_an_empty_database(admin_client) -> None:
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Active orders" in html
    assert "No providers yet." in html
    assert 'id="status-needs_attention">0</td>' in html


def test_admin_index_shows_the_needs_attention_count_with_its_link(admin_client, known_orders) -> None:
    Provider.objects.filter(name="dear").update(balance=Decimal("10"), balance_threshold=Decimal("50"))
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="status-needs_attention">1</td>' in html
    assert f"{reverse('admin:shop_order_changelist')}?status__exact=needs_attention" in html
    assert "LOW: new orders wait" in html
    assert "app-shop" in html or "Shop" in html  # the app list is still there, below


def test_staff_who_may_not_see_orders_get_no_figures(client, known_orders) -> None:
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_category"))
    client.force_login(clerk)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Active orders" not in html
    assert reverse("admin:shop_category_changelist") in html  # what the clerk may see is listed
    assert reverse("admin:shop_order_changelist") not in html


# Catalogue: bulk markup and the category's service count ----------------------------------


def set_markup(client, services: list[Service], **form: str):
    data = {"action": "set_markup", "_selected_action": [s.pk for s in services], **form}
    return client.post(reverse("admin:shop_service_changelist"), data, follow=True)


def test_set_markup_changes_exactly_the_selected_services(admin_client, catalogue) -> None:
    chosen = [catalogue["1"], catalogue["2"]]
    page = set_markup(admin_client, chosen)
    assert 'name="markup_percent"' in page.content.decode()  # the intermediate page, nothing changed yet
    assert not Service.objects.filter(markup_percent__isnull=False).exists()

    response = set_markup(admin_client, chosen, apply="Set markup", markup_percent="50")
    assert "2 services now have markup 50%." in response.content.decode()
    assert dict(Service.objects.filter(markup_percent__isnull=False).values_list("pk", "markup_percent")) == {
        chosen[0].pk: Decimal("50"),
        chosen[1].pk: Decimal("50"),
    }
    html = admin_client.get(reverse("admin:shop_service_changelist")).content.decode()
    assert "<strong>1.35</strong>" in html  # 0.90 x 1.50
    assert "<strong>0.675</strong>" in html  # 0.45 x 1.50


def test_blank_markup_clears_it(admin_client, catalogue) -> None:
    Service.objects.filter(pk=catalogue["1"].pk).update(markup_percent=Decimal("50"))
    set_markup(admin_client, [catalogue["1"]], apply="Set markup", markup_percent="")
    assert Service.objects.get(pk=catalogue["1"].pk).markup_percent is None


@pytest.mark.parametrize("markup", ["-100", "-150", "abc", "1.234"])
def test_bad_markup_shows_the_form_again_and_changes_nothing(admin_client, catalogue, markup: str) -> None:
    response = set_markup(admin_client, [catalogue["1"]], apply="Set markup", markup_percent=markup)
    html = response.content.decode()
    assert 'name="markup_percent"' in html and "errorlist" in html
    assert not Service.objects.filter(markup_percent__isnull=False).exists()


def test_category_list_shows_service_counts(admin_client, catalogue) -> None:
    category = catalogue["1"].category
    url = reverse("admin:shop_category_changelist")
    html = admin_client.get(url).content.decode()
    assert "column-service_count" in html
    assert re.search(rf'<td class="field-service_count[^"]*"[^>]*>{category.services.count()}</td>', html)


def test_category_list_stays_editable(admin_client, services) -> None:
    category = Category.objects.get()
    form = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(category.pk),
        "form-0-position": "3",
        "form-0-is_visible": "on",
        "form-0-markup_percent": "12.5",
        "_save": "Save",
    }
    assert admin_client.post(reverse("admin:shop_category_changelist"), form).status_code == 302
    category.refresh_from_db()
    assert (category.position, category.markup_percent) == (3, Decimal("12.5"))


# Orders: the customer filter ---------------------------------------------------------------


def test_orders_filter_by_customer(admin_client, services) -> None:
    mine = make_order(services["dear"], at=NOW, charge="1", status=OrderStatus.PENDING)
    other = Order.objects.create(**{**_fields(mine), "user": UserFactory(username="other")})
    url = reverse("admin:shop_order_changelist")
    html = admin_client.get(url, {"user__id__exact": mine.user_id}).content.decode()
    assert f"/{mine.pk}/change/" in html and f"/{other.pk}/change/" not in html
    assert "buyer" in html  # the filter names the chosen customer
    nobody = admin_client.get(url, {"user__id__exact": 999999})
    assert list(nobody.context["cl"].result_list) == [] and "No results found" in nobody.content.decode()
    wrong = admin_client.get(url, {"user__id__exact": "abc"})
    assert (wrong.status_code, wrong["Location"]) == (302, f"{url}?e=1")  # the admin's own "wrong filter" page, not a server error


def _fields(order: Order) -> dict[str, object]:
    names = ["service", "provider", "provider_service", "quantity", "total_quantity", "rate", "charge", "status"]
    return {name: getattr(order, name) for name in names}


def _needs_attention(figures) -> int:
    return next(row.count for row in figures.statuses if row.status == "needs_attention")


# Payments: totals per method ------------------------------------------------------------------------


def make_topup(method: PaymentMethod, *, state: str, amount: str, paid_at: datetime | None = None, **fields) -> TopUp:
    user = UserFactory(username="payer")
    return TopUp.objects.create(user=user, method=method, amount=Decimal(amount), currency="USD", state=state, paid_at=paid_at, **fields)


@pytest.fixture
def payments(db) -> dict[str, PaymentMethod]:
    """Two methods with top-ups in every state, paid today, earlier this month, last month and after "now"; one method with none."""
    bank = PaymentMethod.objects.create(code="bank", kind="manual", name="Bank transfer", is_enabled=True, position=1)
    card = PaymentMethod.objects.create(code="card", kind="stripe", name="Card", position=2)
    idle = PaymentMethod.objects.create(code="idle", kind="sandbox", name="Idle", position=3)
    today, month_start = NOW - timedelta(hours=3), datetime(2025, 3, 1, 0, 30, tzinfo=UTC)
    make_topup(card, state=TopUpState.PAID, amount="10.50", paid_at=today)
    make_topup(card, state=TopUpState.PAID, amount="20", paid_at=today, reversal_owed=Decimal("5"))  # paid, then reversed uncovered
    make_topup(card, state=TopUpState.PAID, amount="30", paid_at=month_start)
    make_topup(card, state=TopUpState.PAID, amount="1000", paid_at=datetime(2025, 2, 28, 23, 0, tzinfo=UTC))  # last month
    make_topup(card, state=TopUpState.PAID, amount="2000", paid_at=NOW + timedelta(minutes=5))  # after "now"
    make_topup(card, state=TopUpState.PENDING, amount="40")
    make_topup(card, state=TopUpState.PENDING, amount="41")
    make_topup(card, state=TopUpState.FAILED, amount="42")
    make_topup(bank, state=TopUpState.REVIEW, amount="50", reference="TRX-1")
    make_topup(bank, state=TopUpState.REJECTED, amount="60", reference="TRX-2")
    make_topup(bank, state=TopUpState.PAID, amount="70", paid_at=today)
    return {"bank": bank, "card": card, "idle": idle}


def test_payment_figures_give_totals_per_method_in_one_query(payments, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        figures = payment_figures(now=NOW)
    rows = {row.name: (row.paid_today, row.paid_month, row.pending, row.attention) for row in figures.methods}
    assert rows == {
        "Bank transfer": (Decimal("70"), Decimal("70"), 0, 1),
        "Card": (Decimal("30.50"), Decimal("60.50"), 2, 1),
        "Idle": (Decimal("0"), Decimal("0"), 0, 0),
    }
    assert [row.name for row in figures.methods] == ["Bank transfer", "Card", "Idle"]  # the add funds page's order
    assert figures.attention == 2
    assert all(isinstance(row.paid_month, Decimal) for row in figures.methods)


def test_payment_figures_of_a_shop_without_methods_are_empty(db) -> None:
    assert payment_figures(now=NOW) == PaymentFigures(methods=(), attention=0)


def test_admin_index_shows_payments_with_the_needs_attention_link(admin_client, payments) -> None:
    html = admin_client.get(reverse("admin:index")).content.decode()
    topups = reverse("admin:shop_topup_changelist")
    assert "Payments (USD)" in html
    assert f'href="{topups}?attention=yes" class="bo-link bo-bad">2 top-ups need attention</a>' in html
    assert 'id="kpi-topups-attention"' in html
    assert f"{topups}?method__id__exact={payments['bank'].pk}&amp;attention=yes" in html
    assert f"{topups}?method__id__exact={payments['card'].pk}&amp;state__exact=pending" in html


def test_admin_index_queries_do_not_grow_with_methods_or_top_ups(admin_client, payments) -> None:
    def index_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(reverse("admin:index")).status_code == 200
        return len(queries)

    index_queries()  # warm up: session, content types, the cached branding
    before = index_queries()
    for n in range(5):
        method = PaymentMethod.objects.create(code=f"more{n}", kind="manual", name=f"More {n}")
        make_topup(method, state=TopUpState.REVIEW, amount="5")
        make_topup(method, state=TopUpState.PAID, amount="5", paid_at=timezone.now())
    assert index_queries() == before


def test_staff_who_may_not_see_top_ups_get_no_payment_figures(client, payments) -> None:
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(clerk)
    html = client.get(reverse("admin:index")).content.decode()
    assert "Active orders" in html and "Payments (" not in html

    cashier = UserFactory(username="cashier", is_staff=True)
    cashier.user_permissions.add(Permission.objects.get(codename="view_topup"))
    client.force_login(cashier)
    html = client.get(reverse("admin:index")).content.decode()
    assert "Payments (USD)" in html and "Active orders" not in html


# Top-ups per method over the last days, and the charts ----------------------------------------------


def test_topup_figures_count_each_methods_top_ups_of_the_window_in_one_query(payments, django_assert_num_queries) -> None:
    TopUp.objects.filter(amount=Decimal("1000")).update(created_at=timezone.now() - timedelta(days=31))  # before the window
    with django_assert_num_queries(1):
        methods = topup_figures(days=30, now=timezone.now() + timedelta(minutes=1))
    rows = {row.name: (row.started, row.paid, row.paid_amount) for row in methods}
    assert rows == {
        "Bank transfer": (3, 1, Decimal("70")),
        "Card": (7, 4, Decimal("2060.50")),
        "Idle": (0, 0, Decimal("0")),
    }
    assert [row.name for row in methods] == ["Bank transfer", "Card", "Idle"]
    with pytest.raises(ValueError, match="at least 1"):
        topup_figures(days=0)


def test_money_chart_runs_from_the_oldest_day_with_revenue_bars_and_a_profit_line(known_orders) -> None:
    figures = dashboard_figures(now=NOW)
    data = json.loads(charts.money_per_day(figures, currency="USD"))
    assert (data["labels"][0], data["labels"][-1], len(data["labels"])) == ("Feb 09", "Mar 10", 30)
    revenue, profit = data["datasets"]
    assert (revenue["label"], revenue["data"][-2:]) == ("Revenue (USD)", [0.1234, 15.8333])
    assert (profit["type"], profit["data"][-1]) == ("line", 8.7222)
    assert revenue["displayYAxis"] is True
    orders = json.loads(charts.orders_per_day(figures))
    assert orders["datasets"][0]["data"][-2:] == [2, 3]


def test_bars_are_drawn_against_their_scale(known_orders) -> None:
    figures = dashboard_figures(now=NOW)
    bars = {bar.item.status: (bar.percent, bar.bad) for bar in charts.status_bars(figures)}
    assert bars["awaiting"] == (100.0, False) and bars["submitting"] == (0.0, False)
    assert bars["needs_attention"] == (100.0, True)

    Provider.objects.filter(name="dear").update(balance=Decimal("30"), balance_threshold=Decimal("50"))  # low
    Provider.objects.filter(name="cheap").update(balance=Decimal("600"), balance_threshold=Decimal("100"))
    gauges = {bar.item.name: (bar.percent, bar.bad, bar.mark) for bar in charts.provider_bars(dashboard_figures(now=NOW).providers)}
    assert gauges == {"dear": (20.0, True, 33.3), "cheap": (100.0, False, 33.3)}

    methods = (
        MethodTopups(1, "Card", 4, 2, Decimal("300")),
        MethodTopups(2, "Bank", 1, 1, Decimal("75")),
        MethodTopups(3, "Idle", 0, 0, Decimal(0)),
    )
    assert [bar.percent for bar in charts.method_bars(methods)] == [100.0, 25.0, 0.0]


def test_admin_index_draws_the_charts_and_bars(admin_client, known_orders, payments) -> None:
    Provider.objects.filter(name="dear").update(balance=Decimal("10"), balance_threshold=Decimal("50"))
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert html.count('<canvas class="chart" data-type="bar" data-value="') == 2
    assert "Revenue (USD)" in html  # in the chart's data, HTML-escaped JSON
    assert html.count('<svg class="bo-bar') >= 6 + 2 + 3  # statuses, providers, methods
    assert '<svg class="bo-bar bo-bar-bad"' in html  # needs attention, the low provider
    assert 'id="topups-per-method"' in html and "Top-ups per method, last 30 days (USD)" in html
    assert 'id="kpi-needs-attention"' in html
    assert "<script>" not in html.split('id="content-main"')[1].split("recent-actions-module")[0]  # no inline script of ours


def test_admin_index_queries_do_not_grow_with_orders_or_days(admin_client, services) -> None:
    def index_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(reverse("admin:index")).status_code == 200
        return len(queries)

    make_order(services["dear"], at=timezone.now(), charge="1", status=OrderStatus.PENDING)
    index_queries()  # warm up: session and content types
    before = index_queries()
    for days_ago in range(10):
        for status in (OrderStatus.COMPLETED, OrderStatus.NEEDS_ATTENTION):
            make_order(services["cheap"], at=timezone.now() - timedelta(days=days_ago), charge="2", status=status, cost="1")
    assert index_queries() == before


@pytest.mark.postgres
def test_the_payment_figures_read_top_ups_from_indexes_not_the_whole_table() -> None:
    """Pending or in review, paid this month, owing a reversal: each branch of the OR has an index (issue 16: 119 -> 5 ms)."""
    with CaptureQueriesContext(connection) as queries:
        payment_figures()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + queries[-1]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for index in ("topup_state_created", "topup_paid_at", "topup_reversal_owed"):
        assert index in plan, plan
