"""The new-order page: refusals worded for people (the API keeps its own), search across categories, the service's facts, prefill."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from shop.models import LedgerEntry, Order, ProviderService, Service
from shop.orders.types import CONTROL_RE, LINK_RE
from shop.storefront import views
from shop.wallet.services import wallet_credit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/abc"


def page_json(html: str, element_id: str):
    """The data a ``json_script`` block of the page holds."""
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no #{element_id} on the page"
    return json.loads(match.group(1))


def selected_service(html: str) -> int | None:
    match = re.search(r'<option value="(\d+)" selected>#\d+ ', html)
    return int(match.group(1)) if match else None


def field_errors(html: str, field: str) -> list[str]:
    """The messages shown inside the field's own block of the form."""
    block = re.search(rf'<div class="field" data-field="{field}".*?\n</div>', html, re.S)
    assert block, f"no field {field}"
    return re.findall(r'<div class="error" role="alert">(.*?)</div>', block.group(0))


# Refusals: people's words on the web, the API's words in the API ---------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "data", "field", "web_message", "api_message"),
    [
        ("1", {"quantity": "10"}, "quantity", "The minimum for this service is 50.", "Quantity less than minimal 50"),
        ("1", {"quantity": "10001"}, "quantity", "The maximum for this service is 10,000.", "Quantity more than maximum 10000"),
        ("13", {"quantity": "2000000"}, "quantity", "The maximum for this service is 1,000,000.", "Quantity more than maximum 1000000"),
        ("7", {"comments": "one\ntwo"}, "quantity", "The minimum for this service is 10.", "Quantity less than minimal 10"),
        ("1", {"quantity": "100", "link": "instagram.com/p/abc"}, "link", "Enter the full link, starting with https://", "Bad link"),
        ("1", {"quantity": "100", "link": "https://nodot"}, "link", "Enter the full link, starting with https://", "Bad link"),
    ],
)
def test_a_refusal_is_worded_for_people_on_the_web_and_as_api_v2_in_the_api(
    web, call, catalogue, service, data, field, web_message, api_message
) -> None:
    form = {"service": str(catalogue[service].pk), "link": LINK, **data}
    response = web.post(reverse("order-new"), form)
    html = response.content.decode()
    assert response.status_code == 400
    assert field_errors(html, field) == [web_message]  # next to its field, not above the form
    assert api_message not in html
    assert call(action="add", **form) == {"error": api_message}
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("service", "data", "field"),
    [
        ("1", {"quantity": "0", "link": LINK}, "quantity"),
        ("26", {"username": "shop.owner", "min": "0", "max": "200", "posts": "3"}, "min"),
        ("26", {"username": "shop.owner", "min": "1", "max": "0", "posts": "3"}, "max"),
    ],
)
def test_a_provider_minimum_of_0_still_orders_at_least_1(web, call, catalogue, service, data, field) -> None:
    ProviderService.objects.filter(pk=catalogue[service].provider_service_id).update(min_quantity=0)
    Service.objects.filter(pk=catalogue[service].pk).update(min_quantity=None)
    form = {"service": str(catalogue[service].pk), **data}
    response = web.post(reverse("order-new"), form)
    assert response.status_code == 400
    assert field_errors(response.content.decode(), field) == ["The minimum for this service is 1."]
    name = {"quantity": "Quantity", "min": "Min", "max": "Max"}[field]
    assert call(action="add", **form) == {"error": f"{name} less than minimal 1"}
    assert not Order.objects.exists() and not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ORDER_CHARGE).exists()
    # One is the least that is taken.
    assert "order" in call(action="add", **{**form, field: "1"})


def test_a_service_no_longer_orderable_is_said_plainly_on_the_web_and_as_before_in_the_api(web, call, catalogue) -> None:
    gone = catalogue["1"]
    ProviderService.objects.filter(pk=gone.provider_service_id).update(is_available=False)
    form = {"service": str(gone.pk), "link": LINK, "quantity": "100"}
    html = web.post(reverse("order-new"), form).content.decode()
    assert '<div class="error banner" role="alert">This service is not available any more: choose another.</div>' in html
    assert "Incorrect service ID" not in html
    assert call(action="add", **form) == {"error": "Incorrect service ID"}


def test_short_funds_name_the_charge_and_the_balance_and_link_to_add_funds(client, catalogue) -> None:
    poor = UserFactory()
    wallet_credit(user=poor, amount=Decimal("10"), kind=LedgerEntry.Kind.DEPOSIT)
    client.force_login(poor)
    # YouTube Views [Cheap]: 0.35 upstream + 30 % = 0.455 per 1000; 50,000 of them cost 22.75.
    response = client.post(reverse("order-new"), {"service": catalogue["14"].pk, "link": LINK, "quantity": "50000"})
    html = response.content.decode()
    assert response.status_code == 400
    assert (
        '<div class="error banner" role="alert">This costs 22.75 and your balance is 10.00.'
        f' <a href="{reverse("funds-add")}">Add funds</a></div>'
    ) in html
    assert not Order.objects.exists()


def test_short_funds_through_the_api_keep_the_api_v2_wording(client, catalogue) -> None:
    from shop.reseller_api.keys import api_key_issue

    poor = UserFactory()
    key = api_key_issue(user=poor)
    reply = client.post("/api/v2", {"key": key, "action": "add", "service": catalogue["1"].pk, "link": LINK, "quantity": "1000"}).json()
    assert reply == {"error": "Not enough funds on balance"}


def test_other_refusals_keep_a_message_already_written_for_people_and_no_funds_link(web, catalogue) -> None:
    html = web.post(reverse("order-new"), {"service": catalogue["1"].pk, "link": "", "quantity": "100"}).content.decode()
    assert field_errors(html, "link") == ["Link is required."]
    assert "Add funds</a></div>" not in html


# Search across every category ---------------------------------------------------------------------------------------


def test_search_finds_services_of_every_category_by_name(web, catalogue) -> None:
    data = web.get(reverse("services-json"), {"q": "followers"}).json()
    found = {service["id"] for service in data["services"]}
    assert {catalogue[number].pk for number in ("1", "2", "3", "12", "17", "24")} <= found
    assert {service["category"] for service in data["services"]} >= {catalogue["1"].category_id, catalogue["17"].category_id}
    assert data["more"] is False
    assert all(service["rate"] for service in data["services"])  # the exact rate, for the page's own computation


def test_search_finds_a_service_by_its_number(web, catalogue) -> None:
    tiktok = catalogue["17"]
    data = web.get(reverse("services-json"), {"q": str(tiktok.pk)}).json()
    assert tiktok.pk in [service["id"] for service in data["services"]]


def test_search_lists_at_most_its_limit_and_says_more_match(web, catalogue, monkeypatch) -> None:
    monkeypatch.setattr(views, "SEARCH_LIMIT", 2)
    data = web.get(reverse("services-json"), {"q": "instagram"}).json()
    assert (len(data["services"]), data["more"]) == (2, True)


def test_search_leaves_out_what_cannot_be_ordered(web, catalogue) -> None:
    Service.objects.filter(pk=catalogue["17"].pk).update(is_enabled=False)
    data = web.get(reverse("services-json"), {"q": "tiktok followers"}).json()
    assert data == {"services": [], "more": False}


@pytest.mark.parametrize(
    "query",
    [{}, {"q": ""}, {"q": "x" * 101}, {"q": "a\x00b"}, {"category": "x"}, {"category": "-1", "q": "likes"}, {"category": "9" * 30}],
)
def test_bad_search_or_category_input_is_a_400_with_a_message(web, catalogue, query) -> None:
    response = web.get(reverse("services-json"), query)
    assert response.status_code == 400
    assert response.json()["error"]


def test_the_search_needs_a_signed_in_customer(client, catalogue) -> None:
    assert client.get(reverse("services-json"), {"q": "likes"}).status_code == 302


def test_the_page_searches_without_javascript(web, catalogue) -> None:
    html = web.get(reverse("order-new"), {"category": catalogue["1"].category_id, "q": "tiktok"}).content.decode()
    options = re.findall(r'<option value="(\d+)"[^>]*>#\d+ ', html)
    assert {int(pk) for pk in options} == {catalogue[number].pk for number in ("17", "18", "19")}
    assert "3 services match “tiktok”" in html
    assert selected_service(html) == catalogue["17"].pk  # the first match, and its category in the category list
    assert f'<option value="{catalogue["17"].category_id}" selected>' in html


def test_a_search_without_matches_says_so_and_keeps_the_category(web, catalogue) -> None:
    category = catalogue["7"].category_id
    html = web.get(reverse("order-new"), {"category": category, "q": "no such thing"}).content.decode()
    assert "No service matches “no such thing”." in html
    assert selected_service(html) == catalogue["7"].pk


# The chosen service's facts -------------------------------------------------------------------------------------------


def test_the_chosen_services_facts_are_shown_with_its_description_as_text(web, catalogue) -> None:
    service = catalogue["1"]
    Service.objects.filter(pk=service.pk).update(description="Real <b>accounts</b>\n<script>alert(1)</script>")
    html = web.get(reverse("order-new"), {"service": service.pk}).content.decode()
    facts = re.search(r'<section class="service-facts".*?</section>', html, re.S).group(0)
    assert "Real &lt;b&gt;accounts&lt;/b&gt;" in facts and "<script>alert" not in html
    for term, value in [
        ("Price", "1.17 USD per 1000"),
        ("Minimum", "50"),
        ("Maximum", "10,000"),
        ("Refill", "Available"),
        ("Cancel", "Available"),
        ("Drip-feed", "Not available"),
    ]:
        assert f"<dt>{term}</dt><dd>{value}</dd>" in facts
    assert f"#{service.pk} {service.name} — 1.17 USD per 1000</option>" in html  # no trailing zeros


def test_a_package_shows_its_flat_price_and_no_min_or_max(web, catalogue) -> None:
    package = catalogue["6"]  # 2.10 upstream, 30 % markup
    html = web.get(reverse("order-new"), {"service": package.pk}).content.decode()
    facts = re.search(r'<section class="service-facts".*?</section>', html, re.S).group(0)
    assert "<dt>Price</dt><dd>2.73 USD</dd>" in facts and "Minimum" not in facts
    assert f"#{package.pk} {package.name} — 2.73 USD</option>" in html


def test_the_drip_feed_fact_follows_the_service(web, catalogue) -> None:
    html = web.get(reverse("order-new"), {"service": catalogue["3"].pk}).content.decode()
    assert "<dt>Drip-feed</dt><dd>Available</dd>" in html


@pytest.mark.parametrize("upstream_id", ["3", "26"])  # the Default service with drip-feed, and a Subscriptions one marked with it
def test_the_drip_feed_badge_and_fact_show_only_where_drip_feed_can_be_ordered(web, catalogue, upstream_id) -> None:
    service = catalogue[upstream_id]
    ProviderService.objects.filter(pk=service.provider_service_id).update(dripfeed=True)
    orderable = upstream_id == "3"
    html = web.get(reverse("order-new"), {"service": service.pk}).content.decode()
    facts = re.search(r'<section class="service-facts".*?</section>', html, re.S).group(0)
    assert ('<span class="badge info">Drip-feed</span>' in facts) is orderable
    assert f"<dt>Drip-feed</dt><dd>{'Available' if orderable else 'Not available'}</dd>" in facts
    (data,) = [entry for entry in page_json(html, "services-data") if entry["id"] == service.pk]
    assert (data["dripfeed"], data["dripfeed_orderable"]) == (True, orderable)
    listed = web.get(reverse("services")).content.decode()
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{re.escape(service.name)}.*?</tr>", listed, re.S).group(0)
    assert ('<span class="badge info">Drip-feed</span>' in row) is orderable


def test_the_page_gives_its_script_the_servers_rules_wording_and_balance(web, catalogue) -> None:
    html = web.get(reverse("order-new")).content.decode()
    config = page_json(html, "order-config")
    assert (config["link_pattern"], config["control_pattern"], config["currency"]) == (LINK_RE.pattern, CONTROL_RE.pattern, "USD")
    assert config["wording"]["below_min"] == "The minimum for this service is {min}."
    assert config["wording"]["short_of_funds"] == "This costs {charge} and your balance is {balance}."
    assert page_json(html, "order-balance") == "100.0000"  # exact: the script computes with it
    services = page_json(html, "services-data")
    assert services and all(re.fullmatch(r"\d+\.\d{6}", service["rate"]) for service in services)


# Prefill ("Order again") --------------------------------------------------------------------------------------------------


def test_a_link_can_prefill_the_service_link_and_quantity(web, catalogue) -> None:
    service = catalogue["17"]
    html = web.get(reverse("order-new"), {"service": service.pk, "link": "https://tiktok.com/@me", "quantity": "250"}).content.decode()
    assert selected_service(html) == service.pk
    assert f'<option value="{service.category_id}" selected>' in html
    assert 'name="link" value="https://tiktok.com/@me"' in html
    assert 'name="quantity" value="250"' in html


@pytest.mark.parametrize(
    "query",
    [
        {"service": "abc", "link": "x" * 2001, "quantity": "ten"},
        {"service": "99999999999999999999", "quantity": "-5"},
        {"service": "\x00", "link": "\x00", "quantity": "1e3"},
        {"quantity": "\u0665\u0660"},  # 50 in Arabic-Indic digits
    ],
)
def test_a_bad_prefill_is_left_out_and_the_page_still_shows(web, catalogue, query) -> None:
    response = web.get(reverse("order-new"), query)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="quantity" value=' not in html
    assert 'name="link" value="x' not in html and 'name="link" value="\x00' not in html


def test_a_prefill_of_a_service_no_longer_offered_fills_in_nothing_and_says_so(web, catalogue) -> None:
    """An old "Order again" link must not put its link and quantity on whatever service the form shows first."""
    gone = catalogue["17"]
    gone.is_enabled = False
    gone.save()
    html = web.get(reverse("order-new"), {"service": gone.pk, "link": "https://tiktok.com/@me", "quantity": "250"}).content.decode()
    assert "That service is not available any more: choose another." in html
    assert 'name="link" value=' not in html and 'name="quantity" value=' not in html


def test_a_prefilled_link_is_escaped(web, catalogue) -> None:
    html = web.get(reverse("order-new"), {"link": 'https://a.com/"><script>x</script>'}).content.decode()
    assert "<script>x</script>" not in html and "&quot;&gt;&lt;script&gt;" in html


def test_what_the_customer_posts_wins_over_the_prefill(web, catalogue) -> None:
    response = web.post(
        reverse("order-new") + "?quantity=5000&link=https://old.example.com/x",
        {"service": catalogue["1"].pk, "link": "https://instagram.com/p/new", "quantity": "10"},
    )
    html = response.content.decode()
    assert 'name="quantity" value="10"' in html and 'name="link" value="https://instagram.com/p/new"' in html


def test_the_success_message_shows_the_charge_as_people_read_it(web, catalogue, customer) -> None:
    response = web.post(reverse("order-new"), {"service": catalogue["1"].pk, "link": LINK, "quantity": "1500"}, follow=True)
    order = Order.objects.get(user=customer)
    assert order.charge == Decimal("1.7550")
    assert f"Order #{order.pk} placed: 1.755 USD charged." in response.content.decode()


# Subscriptions ------------------------------------------------------------------------------------------------------------


def test_a_subscription_is_ordered_on_the_form_with_its_own_fields_and_its_reserve_explained(web, catalogue, customer) -> None:
    service = catalogue["26"]
    page = web.get(reverse("order-new"), {"service": service.pk}).content.decode()
    offer = next(item for item in page_json(page, "services-data") if item["id"] == service.pk)
    assert (offer["type"], offer["subscription"], offer["needs_link"], offer["needs_quantity"]) == ("Subscriptions", True, False, False)
    assert offer["fields"] == ["username", "min", "max", "posts", "old_posts", "delay", "expiry"]
    for name in offer["fields"]:
        assert f'data-field="{name}"' in page
    assert '<option value="30">30 minutes</option>' in page and 'type="date"' in page
    assert "The part not used comes back when it ends." in page

    form = {"service": service.pk, "link": "", "quantity": "", "username": "shop.owner", "min": "100", "max": "200", "posts": "5"}
    response = web.post(reverse("order-new"), {**form, "delay": "30"}, follow=True)
    order = Order.objects.get(user=customer)
    assert (order.link, order.quantity, order.total_quantity, order.charge) == ("", 200, 1000, Decimal("0.6500"))
    assert order.extra == {"username": "shop.owner", "min": 100, "max": 200, "posts": 5, "delay": 30}
    assert f"Order #{order.pk} placed: 0.65 USD reserved; the part not used comes back when it ends." in response.content.decode()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"min": "10"}, "min", "The minimum for this service is 50."),
        ({"max": "9000"}, "max", "The maximum for this service is 5,000."),
        ({"posts": ""}, "posts", "Posts is required: how many new posts to deliver to (the charge reserved is for that many)."),
        ({"expiry": "2001-01-01"}, "expiry", "Expiry must be a date after today."),
        ({"delay": "7"}, "delay", "Select a valid choice. 7 is not one of the available choices."),
    ],
)
def test_a_wrong_subscription_field_is_said_next_to_it_and_places_nothing(web, catalogue, data, field, message) -> None:
    form = {"service": catalogue["26"].pk, "username": "shop.owner", "min": "100", "max": "200", "posts": "5", **data}
    response = web.post(reverse("order-new"), form)
    assert response.status_code == 400
    assert field_errors(response.content.decode(), field) == [message]
    assert not Order.objects.exists()
