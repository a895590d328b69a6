"""Admin pages for providers, synced services and the audit trail."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from shop.models import OrderStatus, Provider, ProviderService, Refill, UpstreamCall
from tests.conftest import SANDBOX_KEY
from tests.helpers import order_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_client):
    return admin_client


def provider_form(provider, **changes: str) -> dict[str, str]:
    """The provider's change form as the admin posts it, unchanged but for ``changes``."""
    form = {"name": provider.name, "api_url": provider.api_url, "currency": "USD", "exchange_rate": "1", "concurrency": "4"}
    return {**form, "new_api_key": "", **changes}


def test_provider_key_is_write_only(staff, provider) -> None:
    page = staff.get(reverse("admin:shop_provider_change", args=[provider.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert SANDBOX_KEY not in html
    assert "set (hidden)" in html


def test_blank_key_on_edit_keeps_the_stored_key(staff, provider) -> None:
    url = reverse("admin:shop_provider_change", args=[provider.pk])
    form = {
        "name": "Renamed",
        "api_url": provider.api_url,
        "currency": "USD",
        "exchange_rate": "1.5",
        "concurrency": "4",
        "is_active": "on",
        "new_api_key": "",
    }
    response = staff.post(url, form)
    assert response.status_code == 302
    provider.refresh_from_db()
    assert (provider.name, provider.api_key, str(provider.exchange_rate)) == ("Renamed", SANDBOX_KEY, "1.50000000")


def test_new_key_replaces_the_stored_key(staff, provider) -> None:
    url = reverse("admin:shop_provider_change", args=[provider.pk])
    assert staff.post(url, provider_form(provider, new_api_key="rotated-key")).status_code == 302
    provider.refresh_from_db()
    assert provider.api_key == "rotated-key"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://panel.example/api", "Enter an http:// or https:// URL."),
        ("javascript:alert(1)", "Enter an http:// or https:// URL."),
        ("panel.example/api", "Enter an http:// or https:// URL."),
        ("", "This field is required."),
    ],
)
def test_provider_url_must_be_http_or_https(staff, url: str, message: str) -> None:
    form = {"name": "P", "api_url": url, "currency": "USD", "exchange_rate": "1", "concurrency": "4", "new_api_key": "k"}
    response = staff.post(reverse("admin:shop_provider_add"), form)
    assert response.status_code == 200
    assert not Provider.objects.exists()
    html = response.content.decode()
    assert "errorlist" in html and message in html


def test_new_provider_needs_a_key(staff) -> None:
    form = {
        "name": "P",
        "api_url": "https://panel.example/api/v2",
        "currency": "USD",
        "exchange_rate": "1",
        "concurrency": "4",
        "new_api_key": "",
    }
    response = staff.post(reverse("admin:shop_provider_add"), form)
    assert "A new provider needs its API key." in response.content.decode()
    assert not Provider.objects.exists()


def test_sync_now_action_reports_the_result(staff, provider) -> None:
    response = staff.post(reverse("admin:shop_provider_changelist"), {"action": "sync_now", "_selected_action": [provider.pk]}, follow=True)
    assert "services received" in response.content.decode()
    assert ProviderService.objects.filter(provider=provider).exists()


def test_sync_of_an_unreachable_provider_shows_a_clear_message(staff, db) -> None:
    provider = Provider.objects.create(name="Down", api_url="http://127.0.0.1:9/api/v2", api_key="down-key")
    response = staff.post(reverse("admin:shop_provider_changelist"), {"action": "sync_now", "_selected_action": [provider.pk]}, follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Sync failed: services: could not connect to 127.0.0.1. Nothing was changed." in html
    assert "down-key" not in html


def test_balance_action_reads_the_balance(staff, provider, sandbox) -> None:
    response = staff.post(
        reverse("admin:shop_provider_changelist"), {"action": "refresh_balance", "_selected_action": [provider.pk]}, follow=True
    )
    assert f"balance {sandbox.panel.balance}" in response.content.decode()


def test_changelists_show_their_rows(staff, provider, sandbox, customer, key) -> None:
    sync = {"action": "sync_now", "_selected_action": [provider.pk]}
    staff.post(reverse("admin:shop_provider_changelist"), sync)
    first = sandbox.panel.services[0]
    sandbox.panel.replace_service(first.service, min=first.min + 7)
    staff.post(reverse("admin:shop_provider_changelist"), sync)  # the change of min is logged
    order = order_row(customer, status=OrderStatus.COMPLETED, upstream_order_id="10001")
    Refill.objects.create(order=order, upstream_refill_id="rf-77")
    shows = {
        "provider": [">Sandbox<", sandbox.url],
        "providerservice": [escape(first.name), escape(sandbox.panel.services[-1].name)],
        "servicechange": [f">{first.min}<", f">{first.min + 7}<", "field-field"],
        "upstreamcall": [">services<", ">OK<"],
        "wallet": [customer.username, "100.0000"],
        "ledgerentry": [">Deposit<", "100.0000"],
        "apikey": [customer.username, key[:10]],
        "refill": ["rf-77", f"Order #{order.pk}", ">Pending<"],
    }
    for name, values in shows.items():
        response = staff.get(reverse(f"admin:shop_{name}_changelist"))
        html = response.content.decode()
        assert response.status_code == 200, name
        missing = [value for value in values if value not in html]
        assert missing == [], f"{name} changelist lacks {missing}"


def test_audit_records_are_read_only(staff, provider) -> None:
    staff.post(reverse("admin:shop_provider_changelist"), {"action": "refresh_balance", "_selected_action": [provider.pk]})
    call = UpstreamCall.objects.get()
    page = staff.get(reverse("admin:shop_upstreamcall_change", args=[call.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'name="_save"' not in html
    assert ">balance<" in html and str(call.duration_ms) in html  # the record itself is shown
    assert staff.post(reverse("admin:shop_upstreamcall_delete", args=[call.pk]), {"post": "yes"}).status_code == 403
    assert staff.get(reverse("admin:shop_upstreamcall_add")).status_code == 403


def test_api_keys_in_admin_show_neither_key_nor_hash(staff, customer) -> None:
    from shop.models import ApiKey
    from shop.reseller_api.keys import api_key_issue

    key = api_key_issue(user=customer)
    row = ApiKey.objects.get(user=customer)
    for url in (reverse("admin:shop_apikey_changelist"), reverse("admin:shop_apikey_change", args=[row.pk])):
        html = staff.get(url).content.decode()
        assert row.prefix in html and key not in html and row.key_hash not in html


def _service_form(service, **changes) -> dict[str, object]:
    form = {
        "provider_service": service.provider_service_id,
        "category": service.category_id,
        "name": service.name,
        "description": service.description,
        "position": service.position,
        "is_enabled": "on",
        "markup_percent": "",
        "fixed_rate": "",
        "min_quantity": "",
        "max_quantity": "",
    }
    return {**form, **changes}


def test_an_admins_description_is_marked_kept_and_can_go_back_to_the_providers(staff) -> None:
    from shop.models import Service
    from tests.factories import ProviderServiceFactory, ServiceFactory

    upstream = ProviderServiceFactory(description="The provider's text.")
    service = ServiceFactory(provider_service=upstream, description=upstream.description)
    url = reverse("admin:shop_service_change", args=[service.pk])

    assert staff.post(url, _service_form(service, description="Our own words.")).status_code == 302
    service.refresh_from_db()
    assert (service.description, service.description_edited) == ("Our own words.", True)

    assert staff.post(url, _service_form(service, name="Renamed")).status_code == 302  # the description untouched: still ours
    service.refresh_from_db()
    assert (service.name, service.description, service.description_edited) == ("Renamed", "Our own words.", True)

    assert staff.post(url, _service_form(service, use_provider_description="on")).status_code == 302
    service.refresh_from_db()
    assert (service.description, service.description_edited) == ("The provider's text.", False)

    Service.objects.filter(pk=service.pk).update(description="Ours again", description_edited=True)
    assert staff.post(url, _service_form(service, description="")).status_code == 302  # cleared: the provider's again
    service.refresh_from_db()
    assert (service.description, service.description_edited) == ("The provider's text.", False)


def test_the_use_provider_description_action_resets_the_selected_services(staff) -> None:
    from shop.models import Service
    from tests.factories import ProviderServiceFactory, ServiceFactory

    chosen = ServiceFactory(provider_service=ProviderServiceFactory(description="Upstream A"), description="Ours", description_edited=True)
    other = ServiceFactory(description="Ours too", description_edited=True)

    response = staff.post(
        reverse("admin:shop_service_changelist"), {"action": "use_provider_description", "_selected_action": [chosen.pk]}, follow=True
    )

    assert "1 services now show their provider's description." in [str(m) for m in response.context["messages"]]
    assert Service.objects.filter(pk=chosen.pk).values_list("description", "description_edited").get() == ("Upstream A", False)
    assert Service.objects.filter(pk=other.pk).values_list("description", "description_edited").get() == ("Ours too", True)


def test_the_service_page_shows_where_the_description_comes_from_and_the_average_time(staff) -> None:
    from tests.factories import ServiceFactory

    service = ServiceFactory(average_seconds=7800, description_edited=True)

    html = staff.get(reverse("admin:shop_service_change", args=[service.pk])).content.decode()

    assert "the admin&#x27;s own text, kept over syncs" in html and "about 2 hours 10 minutes per 1000" in html


def test_a_provider_needs_at_least_one_concurrent_submission(staff, provider) -> None:
    url = reverse("admin:shop_provider_change", args=[provider.pk])
    response = staff.post(url, provider_form(provider, concurrency="0"))
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()
    provider.refresh_from_db()
    assert provider.concurrency == 4
