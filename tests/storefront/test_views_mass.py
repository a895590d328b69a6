"""The mass order page: preview, then place; a replay, a short balance or junk input places nothing and never errors."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from shop.models import LedgerEntry, Order, Service, Wallet
from shop.orders import mass
from shop.orders.mass import MAX_ORDERS, MAX_TEXT, mass_preview
from shop.storefront.views_mass import PREVIEW_CHANGED
from shop.wallet.services import wallet_hold
from tests.helpers import messages_of

LINK = "https://instagram.com/p/abc"
URL = "/order/mass/"
BATCH_INPUT = re.compile(r'<input type="hidden" name="batch" value="([^"]*)"')
DIGEST_INPUT = re.compile(r'<input type="hidden" name="digest" value="([^"]*)"')


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch) -> None:
    monkeypatch.setattr(mass, "_enqueue_submit", lambda order_id: None)


def preview(web, text: str):
    return web.post(URL, {"orders": text, "preview": "1"})


def batch_of(response) -> str:
    (batch,) = BATCH_INPUT.findall(response.content.decode())
    return batch


def place_form(response, text: str) -> dict[str, str]:
    """What the preview's Place button sends: the text, the batch token and the preview's digest."""
    (digest,) = DIGEST_INPUT.findall(response.content.decode())
    return {"orders": text, "batch": batch_of(response), "digest": digest, "place": "1"}


def nothing_written(customer) -> bool:
    return not Order.objects.filter(user=customer).exists() and LedgerEntry.objects.filter(wallet__user=customer).count() == 1


def test_the_url_is_named_and_in_the_menu(web) -> None:
    assert reverse("order-mass") == URL
    page = web.get(URL).content.decode()
    assert f'aria-current="page" href="{URL}"' in page and "Mass order" in page
    assert 'name="orders"' in page


@pytest.mark.django_db
def test_visitors_are_sent_to_log_in(client) -> None:
    for response in (client.get(URL), client.post(URL, {"orders": f"1|{LINK}|100"})):
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_preview_lists_each_line_with_its_price_or_error_and_writes_nothing(web, catalogue, customer) -> None:
    followers = catalogue["1"]
    text = f"{followers.pk} | {LINK} | 1000\n\n{followers.pk} | 5 | {LINK}\n{catalogue['8'].pk} | {LINK} | 1"
    response = preview(web, text)

    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'data-line="1">.*?Instagram Followers.*?1000.*?1\.17', page, re.S)
    assert "The minimum for this service is 50." in page  # line 3, as the single order form words it
    assert str(mass.NOT_SIMPLE) in page  # line 4
    assert "2 lines cannot be ordered and will be skipped: lines 3, 4." in page
    assert 'id="mass-total">1.17<' in page
    assert "Place 1 order for 1.17 USD" in page
    assert nothing_written(customer)


def test_preview_then_place_lands_on_the_orders_with_the_count_and_total(web, catalogue, customer) -> None:
    text = f"{catalogue['1'].pk} | {LINK} | 1000\n{catalogue['1'].pk} | 2000 | {LINK}\nbad line"
    response = web.post(URL, place_form(preview(web, text), text), follow=True)

    assert response.redirect_chain == [(reverse("orders"), 302)]
    assert messages_of(response) == ["2 orders placed, total 3.51 USD."]
    assert Order.objects.filter(user=customer).count() == 2
    assert Wallet.objects.get(user=customer).balance == Decimal("100") - Decimal("3.51")


def test_the_same_place_form_sent_again_places_nothing_more(web, catalogue, customer) -> None:
    text = f"{catalogue['1'].pk} | {LINK} | 1000"
    data = place_form(preview(web, text), text)
    web.post(URL, data, follow=True)

    again = web.post(URL, data, follow=True)

    assert again.redirect_chain == [(reverse("orders"), 302)]
    assert messages_of(again) == ["These orders were already placed (1 order). Nothing more was charged."]
    assert Order.objects.filter(user=customer).count() == 1


def test_each_preview_has_its_own_batch(web, catalogue) -> None:
    text = f"{catalogue['1'].pk} | {LINK} | 1000"
    assert batch_of(preview(web, text)) != batch_of(preview(web, text))


def test_a_place_without_a_preview_token_shows_the_preview_and_places_nothing(web, catalogue, customer) -> None:
    text = f"{catalogue['1'].pk} | {LINK} | 1000"
    good = place_form(preview(web, text), text)
    broken = [("batch", ""), ("batch", "not-a-uuid"), ("batch", "x" * 5000), ("digest", ""), ("digest", "X" * 64), ("digest", None)]
    for field, value in broken:
        data = {key: item for key, item in {**good, field: value}.items() if item is not None}
        response = web.post(URL, data)
        assert response.status_code == 200
        assert "Check the preview below, then place the orders." in response.content.decode()
    assert nothing_written(customer)


def test_a_price_raised_since_the_preview_shows_the_new_preview_and_places_nothing(web, catalogue, customer) -> None:
    text = f"{catalogue['1'].pk} | {LINK} | 1000"
    page = preview(web, text)
    assert "Place 1 order for 1.17 USD" in page.content.decode()
    Service.objects.filter(pk=catalogue["1"].pk).update(markup_percent=500)

    response = web.post(URL, place_form(page, text))

    html = response.content.decode()
    assert response.status_code == 200 and PREVIEW_CHANGED in html
    assert "Place 1 order for 5.40 USD" in html  # the new total, to confirm
    assert nothing_written(customer)
    placed = web.post(URL, place_form(response, text), follow=True)
    assert messages_of(placed) == ["1 order placed, total 5.40 USD."]
    assert Wallet.objects.get(user=customer).balance == Decimal("94.6")


def test_a_line_refused_since_the_preview_shows_the_new_preview_and_places_nothing(web, catalogue, customer) -> None:
    text = f"{catalogue['1'].pk} | {LINK} | 1000\n{catalogue['4'].pk} | {LINK} | 1000"
    page = preview(web, text)
    assert "Place 2 orders for" in page.content.decode()
    Service.objects.filter(pk=catalogue["4"].pk).update(is_enabled=False)

    response = web.post(URL, place_form(page, text))

    html = response.content.decode()
    assert PREVIEW_CHANGED in html and "1 line cannot be ordered and will be skipped: line 2." in html
    assert "Place 1 order for 1.17 USD" in html
    assert nothing_written(customer)


def test_a_short_balance_is_said_in_the_preview_and_placing_needs_the_total(web, catalogue, customer) -> None:
    text = f"{catalogue['13'].pk} | {LINK} | 70000"  # 1.20 x 1.3 x 70: 109.20
    page = preview(web, text)
    assert "Your balance is short by 9.20 USD for these orders." in page.content.decode()
    assert f'href="{reverse("funds-add")}"' in page.content.decode()

    placed = web.post(URL, place_form(page, text))

    assert "These orders cost 109.20 and your balance is 100.00: add 9.20 USD to place them. Nothing was placed." in placed.content.decode()
    assert nothing_written(customer)


def test_a_balance_on_hold_offers_no_place_button_and_places_nothing(web, catalogue, customer) -> None:
    wallet_hold(user=customer, reason="A payment was reversed.")
    text = f"{catalogue['1'].pk} | {LINK} | 1000"
    page = preview(web, text).content.decode()
    assert "New orders are paused: A payment was reversed." in page and 'name="place"' not in page

    digest = mass_preview(user=customer, text=text).digest  # the page offers no Place form: a form sent anyway
    placed = web.post(URL, {"orders": text, "batch": "0b7f5a52-5f55-4a4b-9a57-1f0e8b8c1c11", "digest": digest, "place": "1"})
    assert "New orders are paused: A payment was reversed. Please contact support. Nothing was placed." in placed.content.decode()
    assert nothing_written(customer)


def test_more_than_500_lines_are_refused_with_a_clear_message(web, catalogue, customer) -> None:
    text = f"{catalogue['1'].pk} | {LINK} | 100\n" * (MAX_ORDERS + 1)
    for data in ({"orders": text, "preview": "1"}, {"orders": text, "batch": "0b7f5a52-5f55-4a4b-9a57-1f0e8b8c1c11", "place": "1"}):
        response = web.post(URL, data)
        assert response.status_code == 400
        assert "At most 500 orders at a time: this text has 501 lines. Nothing was placed." in response.content.decode()
    assert nothing_written(customer)


@pytest.mark.parametrize(
    "body",
    [
        b"orders=%FF%FE%00|bad&place=1&batch=%FF",  # not UTF-8, a NUL
        b"orders=" + b"%E2%80%AE" * 50 + b"&preview=1",  # right-to-left overrides
        b"orders=1|" + b"https://x.y/" + b"a" * 3000 + b"|10",  # one line too long
        b"orders=" + b"1|2|3%0A" * 400,  # no link anywhere
        b"orders[]=1&orders[]=2",
        b"",
        b"orders=" + b"x" * (MAX_TEXT + 1),
        b"orders=%0A%0A%20%0D%0A",  # blank lines only
    ],
)
def test_junk_input_gets_a_page_not_an_error_and_writes_nothing(web, catalogue, customer, body: bytes) -> None:
    response = web.post(URL, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 400)
    assert nothing_written(customer)
