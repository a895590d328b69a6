"""The customer's refills page (``shop.storefront.views_refills``): their own refill requests, newest first, paged."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.models import OrderStatus, Refill
from shop.orders.selectors import refill_list_for_user
from shop.storefront.views_refills import REFILLS_PER_PAGE
from tests.factories import UserFactory
from tests.helpers import order_row

pytestmark = pytest.mark.django_db


def refill(user, *, status: str = Refill.Status.PENDING, error: str = "", service=None) -> Refill:
    order = order_row(user, status=OrderStatus.COMPLETED, service=service)
    return Refill.objects.create(order=order, status=status, error=error)


def test_visitors_are_sent_to_log_in(client) -> None:
    response = client.get(reverse("refills"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_page_lists_each_refill_with_its_order_service_status_and_note(web, customer) -> None:
    asked = refill(customer, status=Refill.Status.IN_PROGRESS)
    failed = refill(customer, status=Refill.Status.REJECTED, error="This order is not refillable.")
    html = web.get(reverse("refills")).content.decode()
    assert html.index(f'data-refill="{failed.pk}"') < html.index(f'data-refill="{asked.pk}"')  # newest first
    row = html[html.index(f'data-refill="{failed.pk}"') :].split("</tr>")[0]
    assert f"#{failed.pk}" in row
    assert f'<a href="{reverse("order-detail", args=[failed.order_id])}">#{failed.order_id}</a>' in row
    assert failed.order.service.name in row
    assert '<span class="status badge bad">Rejected</span>' in row
    assert "The provider did not accept this refill." in row and "This order is not refillable." not in row
    assert f'datetime="{failed.created_at.isoformat()}"' in row or failed.created_at.strftime("%Y-%m-%d") in row
    row = html[html.index(f'data-refill="{asked.pk}"') :].split("</tr>")[0]
    assert '<span class="status badge info">In progress</span>' in row


@pytest.mark.parametrize(
    ("status", "tone"),
    [
        (Refill.Status.PENDING, "neutral"),
        (Refill.Status.IN_PROGRESS, "info"),
        (Refill.Status.COMPLETED, "good"),
        (Refill.Status.REJECTED, "bad"),
        (Refill.Status.ERROR, "bad"),
        (Refill.Status.CANCELED, "neutral"),
    ],
)
def test_each_status_has_its_badge_tone(web, customer, status, tone) -> None:
    refill(customer, status=status)
    assert f'<span class="status badge {tone}">{status}</span>' in web.get(reverse("refills")).content.decode()


def test_nobody_sees_another_customers_refills(web, customer) -> None:
    mine = refill(customer)
    theirs = refill(UserFactory())
    html = web.get(reverse("refills")).content.decode()
    assert f'data-refill="{mine.pk}"' in html and f'data-refill="{theirs.pk}"' not in html
    assert list(refill_list_for_user(user=customer)) == [mine]


def test_without_refills_the_page_says_how_to_ask_for_one(web) -> None:
    html = web.get(reverse("refills")).content.decode()
    assert "No refills asked for yet." in html and 'aria-current="page"' in html


def test_the_refills_are_paged_in_a_fixed_number_of_queries(web, customer) -> None:
    first = [refill(customer) for _ in range(3)]
    web.get(reverse("refills"))
    with CaptureQueriesContext(connection) as few:
        web.get(reverse("refills"))
    rest = [refill(customer) for _ in range(REFILLS_PER_PAGE)]
    with CaptureQueriesContext(connection) as many:
        page_one = web.get(reverse("refills")).content.decode()
    assert len(many) == len(few)
    assert f'data-refill="{rest[-1].pk}"' in page_one and f'data-refill="{first[0].pk}"' not in page_one
    assert "page=2" in page_one
    page_two = web.get(reverse("refills"), {"page": "2"}).content.decode()
    assert all(f'data-refill="{r.pk}"' in page_two for r in first) and "page=1" in page_two


@pytest.mark.parametrize(
    ("status", "note"),
    [
        (Refill.Status.PENDING, ""),
        (Refill.Status.IN_PROGRESS, ""),
        (Refill.Status.COMPLETED, ""),
        (Refill.Status.REJECTED, "The provider did not accept this refill."),
        (Refill.Status.ERROR, "The provider gave no final answer on this refill; you can ask again later."),
        (Refill.Status.CANCELED, "The provider canceled this refill."),
    ],
)
def test_the_panels_raw_error_never_reaches_the_page_whatever_the_status(web, customer, status, note) -> None:
    # As ``shop.orders.requests_many`` stores it: the panel's own words, which may name it and its ids.
    raw = "SMMKingdom API: refill 99812 for upstream order 771234 failed (ERR_42)"
    asked = refill(customer, status=status, error=raw)
    html = web.get(reverse("refills")).content.decode()
    row = html[html.index(f'data-refill="{asked.pk}"') :].split("</tr>")[0]
    assert "SMMKingdom" not in html and "771234" not in html and "ERR_42" not in html
    assert f'<td data-label="Note">{note}</td>' in row
