"""Service facts on the customer pages and the API: average time in words, refill/cancel/drip-feed badges; the updates page and feed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from shop.catalogue.updates import service_updates_record
from shop.models import Category, ProviderService, Service, ServiceUpdate
from tests.factories import CategoryFactory, ProviderServiceFactory, ServiceFactory

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"


# Average time and badges -----------------------------------------------------------------------------------------------


def test_services_page_shows_the_average_time_in_words_and_the_features_as_badges(client, catalogue) -> None:
    Service.objects.filter(pk=catalogue["1"].pk).update(average_seconds=7800)

    html = client.get(reverse("services")).content.decode()

    row = re.search(rf"<tr>\s*<td>{catalogue['1'].pk}</td>.*?</tr>", html, re.S).group(0)
    assert "About 2 hours 10 minutes per 1000" in row
    assert '<span class="badge info">Refill</span>' in row and '<span class="badge info">Cancel</span>' in row
    assert "Drip-feed" not in row  # service 1 has none
    other = re.search(rf"<tr>\s*<td>{catalogue['2'].pk}</td>.*?</tr>", html, re.S).group(0)
    assert "Not enough data" in other


def test_new_order_page_facts_show_the_average_time_and_badges(web, catalogue) -> None:
    Service.objects.filter(pk=catalogue["1"].pk).update(average_seconds=150)

    html = web.get(reverse("order-new"), {"service": catalogue["1"].pk}).content.decode()

    facts = re.search(r'<section class="service-facts".*?</section>', html, re.S).group(0)
    assert "<dt>Average time</dt><dd>About 3 minutes per 1000</dd>" in facts
    assert '<span class="badge info">Refill</span>' in facts
    data = web.get(reverse("services-json"), {"category": catalogue["1"].category_id}).json()["services"]
    assert next(s for s in data if s["id"] == catalogue["1"].pk)["average_time"] == "about 3 minutes per 1000"


def test_api_services_give_the_average_time_in_minutes_or_null(call, catalogue) -> None:
    Service.objects.filter(pk=catalogue["1"].pk).update(average_seconds=7800)

    services = {s["service"]: s for s in call(action="services")}

    assert services[catalogue["1"].pk]["average_time"] == 130
    assert services[catalogue["2"].pk]["average_time"] is None
    assert services[catalogue["1"].pk]["rate"] == "1.17"  # the other fields as they were


# The updates page and feed ---------------------------------------------------------------------------------------------


@pytest.fixture
def updates(db) -> dict[str, Service]:
    """A started log: a price rise, a new package, a disabled service, and one in a hidden category."""
    provider_service = ProviderServiceFactory(rate=Decimal("1.00"), provider__name="SecretUpstream", upstream_id="upstream-7731")
    rising = ServiceFactory(provider_service=provider_service, name="Instagram Followers HQ")
    leaving = ServiceFactory(name="Leaving Views")
    hidden = ServiceFactory(name="Hidden Likes", category=CategoryFactory(name="Staff only"))
    service_updates_record()  # the silent snapshot
    ProviderService.objects.filter(pk=provider_service.pk).update(rate=Decimal("2.00"))
    package = ServiceFactory(name="Starter Package", provider_service=ProviderServiceFactory(type="Package", rate=Decimal("20")))
    Service.objects.filter(pk=leaving.pk).update(is_enabled=False)
    ProviderService.objects.filter(pk=hidden.provider_service_id).update(rate=Decimal("9"))
    service_updates_record(now=timezone.now() - timedelta(hours=1))
    Category.objects.filter(pk=hidden.category_id).update(is_visible=False)
    return {"rising": rising, "leaving": leaving, "hidden": hidden, "package": package}


def test_updates_page_is_public_and_lists_retail_changes_newest_first(client, updates) -> None:
    ServiceUpdate.objects.filter(service=updates["leaving"]).update(created_at=timezone.now())

    response = client.get(reverse("service-updates"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "1.3 USD per 1000 → 2.6 USD per 1000" in html  # retail (x 1.30), not the provider's 1.00 -> 2.00
    assert "Starter Package" in html and "26.00 USD" in html  # a package's flat price
    assert html.index("Leaving Views") < html.index("Starter Package")  # newest first
    assert "Hidden Likes" not in html  # its category is hidden
    for secret in ("SecretUpstream", "upstream-7731", "2.00000000"):
        assert secret not in html


def test_updates_page_is_paginated(client, updates, monkeypatch) -> None:
    from shop.storefront import views_updates

    monkeypatch.setattr(views_updates, "UPDATES_PER_PAGE", 2)
    first = client.get(reverse("service-updates")).content.decode()
    second = client.get(reverse("service-updates"), {"page": "2"}).content.decode()

    assert 'rel="next"' in first and 'rel="prev"' in second
    # One run's updates share a date: newest row first among them (the package, then the disabled service, then the price).
    assert "Starter Package" in first and "Leaving Views" in first and "Instagram Followers HQ" in second
    assert client.get(reverse("service-updates"), {"page": "zz"}).status_code == 200


def test_updates_page_without_updates_says_so(client, db) -> None:
    assert "No updates yet." in client.get(reverse("service-updates")).content.decode()


def test_the_updates_feed_is_valid_atom_with_no_provider_data(client, updates) -> None:
    response = client.get(reverse("service-updates-feed"))

    assert response.status_code == 200 and response["Content-Type"].startswith("application/atom+xml")
    body = response.content.decode()
    feed = ET.fromstring(response.content)  # noqa: S314 - the shop's own reply, parsed to prove it is well-formed Atom
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    titles = [entry.findtext(f"{ATOM}title") for entry in entries]
    assert f"#{updates['rising'].pk} Instagram Followers HQ: price changed" in titles
    assert f"#{updates['leaving'].pk} Leaving Views: disabled" in titles
    rising = next(e for e in entries if e.findtext(f"{ATOM}title").startswith(f"#{updates['rising'].pk} "))
    assert rising.findtext(f"{ATOM}summary") == "Price changed from 1.3 USD per 1000 to 2.6 USD per 1000."
    assert rising.findtext(f"{ATOM}updated")
    assert rising.find(f"{ATOM}link").get("href").endswith(f"/updates/#update-{ServiceUpdate.objects.get(service=updates['rising']).pk}")
    assert "Hidden Likes" not in body
    for secret in ("SecretUpstream", "upstream-7731", "2.00000000"):
        assert secret not in body


def test_the_updates_page_is_in_the_menu_for_visitors_and_customers(client, web, db) -> None:
    assert 'href="/updates/"' in client.get(reverse("services")).content.decode()
    assert 'href="/updates/"' in web.get(reverse("services")).content.decode()
    visitor = client.__class__()
    page = visitor.get(reverse("service-updates")).content.decode()
    assert 'rel="alternate" type="application/atom+xml"' in page
