"""The admin's long lists: what makes them fast on millions of rows changes nothing an operator sees (issue 16)."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from unfold.admin import checkbox as unfold_checkbox
from unfold.templatetags import unfold_list

from shop.core import paging
from shop.core.admin import action_checkbox_html, headers_once, labels_once, preserved_filters_once, search_words
from shop.core.paging import LargeTablePaginator
from shop.models import Order
from shop.orders.admin import STATUS_LABELS
from shop.orders.models import OrderStatus
from tests.factories import UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("pk", [5, 123456789012, "a<b>&\"'{x}"])
def test_the_row_checkbox_is_unfolds_markup(pk) -> None:
    assert action_checkbox_html(pk) == unfold_checkbox.render(helpers.ACTION_CHECKBOX_NAME, str(pk))


def test_the_headers_are_computed_once_per_list_and_given_to_every_row() -> None:
    calls = []

    def headers(cl):
        calls.append(cl)
        yield {"text": "one"}
        yield {"text": "two"}

    once = headers_once(headers)
    first, second = object.__new__(type("CL", (), {})), object.__new__(type("CL", (), {}))
    assert list(once(first)) == list(once(first)) == [{"text": "one"}, {"text": "two"}]
    assert list(once(second)) == [{"text": "one"}, {"text": "two"}]
    assert calls == [first, second]


def test_a_badge_is_rendered_once_per_status_and_reads_as_unfolds() -> None:
    rendered = []
    once = labels_once(lambda value, empty, label: rendered.append(value) or f"<b>{value[1]}</b>")
    assert once(("completed", "Completed"), "-", STATUS_LABELS) == "<b>Completed</b>"
    assert once(("completed", "Completed"), "-", STATUS_LABELS) == "<b>Completed</b>"
    assert once(("partial", "Partial"), "-", STATUS_LABELS) == "<b>Partial</b>"
    assert once(["a", "list"], "-", STATUS_LABELS) == "<b>list</b>"  # not hashable: rendered every time
    assert once(["a", "list"], "-", STATUS_LABELS) == "<b>list</b>"
    assert rendered == [("completed", "Completed"), ("partial", "Partial"), ["a", "list"], ["a", "list"]]


def test_the_installed_speedups_render_the_same_list(admin_client) -> None:
    assert unfold_list.result_headers.shop_once and unfold_list.display_for_label.shop_once
    customer = UserFactory()
    orders = [order_row(customer, status=status) for status in ("completed", "partial", "canceled")]
    page = admin_client.get(reverse("admin:shop_order_changelist")).content.decode()
    for order in orders:
        assert action_checkbox_html(order.pk) in page
    assert page.count('data-label="status"') == 3
    unfold_badge = unfold_list.display_for_label.original
    for status in ("completed", "partial", "canceled"):
        badge = unfold_badge((status, OrderStatus(status).label), "-", STATUS_LABELS)
        assert badge in page


def test_a_short_list_shows_its_exact_count(admin_client) -> None:
    customer = UserFactory()
    for _ in range(3):
        order_row(customer)
    response = admin_client.get(reverse("admin:shop_order_changelist"))
    assert response.context["cl"].result_count == 3
    assert response.context["cl"].paginator.estimated is False
    assert "about" not in response.content.decode().split('id="changelist-form"')[-1].split("</form>")[-1]


def test_a_list_longer_than_the_exact_limit_reads_no_more_rows_than_the_limit(monkeypatch) -> None:
    monkeypatch.setattr(paging, "EXACT_UP_TO", 4)
    customer = UserFactory()
    for _ in range(7):
        order_row(customer)
    paginator = LargeTablePaginator(Order.objects.order_by("-id"), 2)
    if connection.vendor == "postgresql":
        assert paginator.estimated is False  # not known before the count
        assert paginator.count >= 5  # the planner's estimate, never below what was read
        assert paginator.estimated is True
        assert paginator.count_text == f"about {paginator.count:,}"
    else:  # no estimate to be had: counted
        assert paginator.count == 7
        assert paginator.estimated is False


@pytest.mark.postgres
def test_an_estimated_count_is_shown_as_about(admin_client, monkeypatch) -> None:
    monkeypatch.setattr(paging, "EXACT_UP_TO", 2)
    customer = UserFactory()
    for _ in range(4):
        order_row(customer)
    response = admin_client.get(reverse("admin:shop_order_changelist"))
    assert response.context["cl"].paginator.estimated is True
    assert "about " in response.content.decode()


def test_an_empty_page_past_an_estimated_end_is_a_page_not_an_error(monkeypatch) -> None:
    paginator = LargeTablePaginator(Order.objects.order_by("-id"), 2)
    paginator.count = 10  # an estimate above the real rows (none)
    assert list(paginator.page(3).object_list) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('12 "a phrase" x', ["12", "a phrase", "x"]),
        ("'quoted' y", ["quoted", "y"]),
        ("nul\x00here", ["nulhere"]),
        ("   ", []),
    ],
)
def test_search_words_are_read_as_djangos_admin_reads_them(text, words) -> None:
    assert search_words(text) == words


@pytest.mark.parametrize("per_page", [1, 2, 3])
def test_a_deep_page_read_by_ids_first_has_the_rows_of_a_plain_slice_in_the_same_order(monkeypatch, per_page: int) -> None:
    customers = [UserFactory(username=name) for name in ("cara", "abel", "bea")]
    for index in range(7):
        order_row(customers[index % 3])
    listed = Order.objects.select_related("user").order_by("user__username", "-id")  # an order from a join, ties broken by id
    expected = list(listed)
    deferred = LargeTablePaginator(listed.all(), per_page)
    deferred.deferred_from = 0
    for number in deferred.page_range:
        with CaptureQueriesContext(connection) as queries:
            rows = list(deferred.page(number).object_list)
            names = [order.user.username for order in rows]  # joined: no query per row
        assert rows == expected[(number - 1) * per_page : number * per_page]
        assert names == [order.user.username for order in expected[(number - 1) * per_page : number * per_page]]
        assert len(queries) == 2  # the ids, then their rows
        assert " IN (" in queries[1]["sql"]


def test_only_a_page_past_the_threshold_is_read_by_ids_first(monkeypatch) -> None:
    customer = UserFactory()
    for _ in range(5):
        order_row(customer)
    monkeypatch.setattr(LargeTablePaginator, "deferred_from", 2)
    paginator = LargeTablePaginator(Order.objects.order_by("-id"), 2)
    paginator.count  # noqa: B018 - counted first, as the admin does
    with CaptureQueriesContext(connection) as first:
        list(paginator.page(1).object_list)
    with CaptureQueriesContext(connection) as second:
        list(paginator.page(2).object_list)
    assert len(first) == 1 and len(second) == 2


def test_the_editable_services_list_renders_no_errors_template_for_fields_without_errors(admin_client, monkeypatch) -> None:
    from django.template import loader

    from shop.core.admin import NO_ERRORS_TEMPLATE
    from tests.factories import ServiceFactory

    ServiceFactory.create_batch(3)
    rendered: list[str] = []
    original = loader.render_to_string
    monkeypatch.setattr(loader, "render_to_string", lambda name, *a, **k: rendered.append(name) or original(name, *a, **k))
    response = admin_client.get(reverse("admin:shop_service_changelist"))
    assert response.status_code == 200
    assert NO_ERRORS_TEMPLATE not in rendered
    assert response.content.decode().count('name="form-0-') >= 4  # the four editable fields of the first row are there


def test_the_errors_of_an_editable_field_are_still_shown(admin_client) -> None:
    from tests.factories import ServiceFactory

    service = ServiceFactory()
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(service.pk),
        "form-0-markup_percent": "not a number",
        "form-0-fixed_rate": "",
        "form-0-position": "0",
        "_save": "Save",
    }
    response = admin_client.post(reverse("admin:shop_service_changelist"), data)
    assert response.status_code == 200
    assert "Enter a number." in response.content.decode()


@pytest.mark.parametrize(
    "preserved",
    ["", "status__exact=completed", "_changelist_filters=status__exact%3Dcompleted%26q%3Da+b", "q=%23123&p=4&o=-2"],
)
@pytest.mark.parametrize("popup", [False, True])
def test_a_rows_link_keeps_the_lists_filters_as_djangos_own_function_writes_it(preserved, popup) -> None:
    original = unfold_list.add_preserved_filters.original
    once = preserved_filters_once(original)
    contexts = [
        {"opts": Order._meta, "preserved_filters": preserved},
        {"opts": Order._meta, "preserved_filters": preserved, "preserved_qsl": [("x", "1")]},  # worked out each time
    ]
    urls = [reverse("admin:shop_order_change", args=(pk,)) for pk in (1, 7, 123456789)]
    urls += [reverse("admin:shop_order_changelist"), reverse("admin:shop_order_change", args=("a-b",)), urls[0] + "?x=1"]
    for context in contexts:
        for url in urls * 2:  # the second time from what was kept
            assert once(context, url, popup) == original(context, url, popup), (context, url)


def test_the_list_links_every_row_with_its_filters(admin_client) -> None:
    assert unfold_list.add_preserved_filters.shop_once
    customer = UserFactory()
    orders = [order_row(customer, status="completed") for _ in range(3)]
    page = admin_client.get(reverse("admin:shop_order_changelist") + "?status__exact=completed").content.decode()
    for order in orders:
        link = reverse("admin:shop_order_change", args=(order.pk,)) + "?_changelist_filters=status__exact%3Dcompleted"
        assert f'href="{link}"' in page
