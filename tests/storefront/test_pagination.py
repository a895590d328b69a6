"""Pages without COUNT(*): next and previous are known from one extra row."""

from __future__ import annotations

import pytest
from django.urls import reverse

from shop.models import Category
from shop.storefront.pagination import page_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows() -> None:
    Category.objects.bulk_create([Category(name=f"c{n:02d}", position=n) for n in range(25)])


@pytest.mark.parametrize(
    ("raw", "number", "names", "has_next"),
    [
        (None, 1, ["c00", "c09"], True),
        ("2", 2, ["c10", "c19"], True),
        ("3", 3, ["c20", "c24"], False),
        ("4", 1, ["c00", "c09"], True),  # past the end: the first page
        ("0", 1, ["c00", "c09"], True),
        ("-2", 1, ["c00", "c09"], True),
        ("abc", 1, ["c00", "c09"], True),
        ("9" * 30, 1, ["c00", "c09"], True),
    ],
)
def test_page_of(rows, raw, number: int, names: list[str], has_next: bool) -> None:
    page = page_of(Category.objects.order_by("position"), raw, 10)
    assert page.number == number
    assert [page.object_list[0].name, page.object_list[-1].name] == names
    assert page.has_next is has_next
    assert page.has_previous is (number > 1)


def test_orders_pages_link_forward_and_back(client, catalogue, customer) -> None:
    from shop.orders.placement import order_place

    for _ in range(30):
        order_place(user=customer, service=catalogue["4"], link="https://x.example/p", quantity=10)
    client.force_login(customer)
    first = client.get(reverse("orders")).content.decode()
    second = client.get(reverse("orders"), {"page": 2}).content.decode()
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert second.count('data-order="') == 5
