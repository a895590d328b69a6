"""The customer pages: access, forms, errors next to fields, nothing written on bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from shop.models import LedgerEntry, Order, OrderStatus, Service
from shop.orders.placement import order_place
from shop.orders.submission import order_submit
from tests.factories import UserFactory
from tests.helpers import order_finish

pytestmark = pytest.mark.django_db
LINK = "https://instagram.com/p/abc"


@pytest.fixture
def web(client, customer):
    client.force_login(customer)
    return client


@pytest.mark.parametrize("name", ["order-new", "orders", "balance", "password_change"])
def test_anonymous_visitors_are_sent_to_login(client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_services_page_lists_orderable_services_with_retail_rates(client, catalogue) -> None:
    Service.objects.filter(pk=catalogue["2"].pk).update(is_enabled=False)
    html = client.get(reverse("services")).content.decode()
    assert "Instagram Followers [Real, Refill 30D]" in html
    assert "1.17 USD per 1000" in html and "1.170000" not in html  # 0.90 x 1.30, as people read it
    assert catalogue["2"].name not in html
    assert "Refill" in html and "Drip-feed" in html


def test_services_page_filters_by_category_and_searches_by_name(client, catalogue) -> None:
    tiktok = catalogue["17"].category
    html = client.get(reverse("services"), {"category": tiktok.pk}).content.decode()
    assert "TikTok Followers [Refill 30D]" in html and "Instagram Likes [Instant]" not in html
    html = client.get(reverse("services"), {"q": "youtube"}).content.decode()
    assert "YouTube Views [Cheap]" in html and "TikTok Followers [Refill 30D]" not in html
    assert client.get(reverse("services"), {"category": "abc", "page": "x"}).status_code == 200


def test_services_page_query_count_does_not_grow(web, catalogue, provider, django_assert_num_queries) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from shop.catalogue.retail import services_import
    from tests.helpers import typed_service

    web.get(reverse("services"))  # the first visit creates the shop settings row
    with CaptureQueriesContext(connection) as few:
        web.get(reverse("services"))
    for index in range(60):
        typed_service(provider, f"Default-{index}")
    services_import(provider_services=provider.services.all())
    with django_assert_num_queries(len(few.captured_queries)):
        web.get(reverse("services"))


def test_logins_are_limited_with_a_clear_message(client) -> None:
    UserFactory(username="victim")
    for _ in range(5):
        client.post(reverse("login"), {"login": "victim", "password": "wrong"})
    response = client.post(reverse("login"), {"login": "victim", "password": "pw-for-tests"})
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()


def test_a_spoofed_forwarded_for_does_not_reset_the_lockout(client) -> None:
    UserFactory(username="victim")
    for attempt in range(5):
        client.post(reverse("login"), {"login": "victim", "password": "wrong"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}")
    response = client.post(reverse("login"), {"login": "victim", "password": "pw-for-tests"}, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 429


def test_password_reset_mails_a_link(client) -> None:
    UserFactory(username="forgetful", email="forgetful@example.com")
    client.post(reverse("password_reset"), {"email": "forgetful@example.com"})
    assert len(mail.outbox) == 1 and "/accounts/password/reset/key/" in mail.outbox[0].body


def test_navigation_shows_the_name_and_balance(web, customer) -> None:
    html = web.get(reverse("orders")).content.decode()
    assert customer.username in html and "100.00 USD" in html and "100.0000" not in html


def test_new_order_page_offers_categories_services_and_their_fields(web, catalogue) -> None:
    response = web.get(reverse("order-new"), {"service": catalogue["7"].pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="services-data"' in html and '"type": "Custom Comments"' in html
    assert f'<option value="{catalogue["7"].pk}" selected>' in html


def test_placing_an_order_lands_on_the_order_with_its_number(web, catalogue, customer) -> None:
    response = web.post(reverse("order-new"), {"service": catalogue["1"].pk, "link": LINK, "quantity": "1000"}, follow=True)
    order = Order.objects.get(user=customer)
    assert response.redirect_chain[-1][0] == reverse("order-detail", args=[order.pk])
    html = response.content.decode()
    assert f"Order #{order.pk} placed: 1.17 USD charged." in html
    assert "98.83 USD" in html


def test_custom_comments_order_counts_the_lines(web, catalogue, customer) -> None:
    comments = "\n".join(f"Comment {i}" for i in range(12))
    web.post(reverse("order-new"), {"service": catalogue["7"].pk, "link": LINK, "comments": comments})
    order = Order.objects.get(user=customer)
    assert (order.quantity, order.extra["comments"].count("\n")) == (12, 11)


def test_drip_feed_fields_count_only_when_ticked(web, catalogue, customer) -> None:
    service = catalogue["3"]  # drip-feed allowed
    web.post(reverse("order-new"), {"service": service.pk, "link": LINK, "quantity": "100", "runs": "5", "interval": "30"})
    web.post(
        reverse("order-new"), {"service": service.pk, "link": LINK, "quantity": "100", "dripfeed": "on", "runs": "5", "interval": "30"}
    )
    assert list(Order.objects.order_by("pk").values_list("total_quantity", flat=True)) == [100, 500]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"link": LINK, "quantity": "10"}, "The minimum for this service is 50."),
        ({"link": "javascript:alert(1)", "quantity": "100"}, "Enter the full link, starting with https://"),
        ({"link": LINK, "quantity": "-3"}, "The minimum for this service is 50."),
        ({"link": LINK, "quantity": "1e3"}, "Quantity must be a whole number."),
        ({"link": LINK, "quantity": "9" * 19}, "Quantity must be a whole number."),
        ({"link": LINK, "quantity": "9" * 21}, "Ensure this value has at most 20 characters"),
        ({"link": LINK, "quantity": "100000"}, "The maximum for this service is 10,000."),
    ],
)
def test_bad_input_shows_the_error_next_to_its_field_and_writes_nothing(web, catalogue, customer, data, message) -> None:
    response = web.post(reverse("order-new"), {"service": catalogue["1"].pk, **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Order.objects.exists()
    assert LedgerEntry.objects.filter(wallet__user=customer).count() == 1


def test_not_enough_funds_is_said_and_nothing_is_written(client, catalogue) -> None:
    poor = UserFactory()
    client.force_login(poor)
    response = client.post(reverse("order-new"), {"service": catalogue["1"].pk, "link": LINK, "quantity": "1000"})
    html = response.content.decode()
    assert "This costs 1.17 and your balance is 0.00." in html and f'<a href="{reverse("funds-add")}">Add funds</a></div>' in html
    assert "Not enough funds on balance" not in html  # the API's wording stays in the API
    assert not Order.objects.exists()


@pytest.mark.parametrize("service", ["", "abc", "999999", "-1"])
def test_unknown_service_is_refused(web, catalogue, service: str) -> None:
    response = web.post(reverse("order-new"), {"service": service, "link": LINK, "quantity": "100"})
    assert response.status_code == 400
    assert not Order.objects.exists()


def test_posted_price_status_or_user_fields_change_nothing(web, catalogue, customer) -> None:
    other = UserFactory()
    web.post(
        reverse("order-new"),
        {
            "service": catalogue["1"].pk,
            "link": LINK,
            "quantity": "1000",
            "charge": "0.0001",
            "rate": "0",
            "status": "completed",
            "user": other.pk,
        },
    )
    order = Order.objects.get()
    assert (order.user, order.charge, order.status) == (customer, Decimal("1.1700"), OrderStatus.AWAITING)


def test_orders_page_lists_newest_first_with_tabs_and_search(web, catalogue, customer) -> None:
    first = order_place(user=customer, service=catalogue["1"], link="https://instagram.com/p/first", quantity=100)
    second = order_place(user=customer, service=catalogue["1"], link="https://instagram.com/p/second", quantity=100)
    order_submit(order_id=second.pk)
    order_finish(order_id=second.pk, status=OrderStatus.COMPLETED, remains=0, start_count=10, upstream_charge=None, raw="Completed")

    html = web.get(reverse("orders")).content.decode()
    assert html.index(f"#{second.pk}") < html.index(f"#{first.pk}")
    completed = web.get(reverse("orders"), {"status": "completed"}).content.decode()
    assert f"#{second.pk}" in completed and f"#{first.pk}<" not in completed
    pending = web.get(reverse("orders"), {"status": "pending"}).content.decode()
    assert f"#{first.pk}" in pending and 'data-live="1"' in pending
    assert f"#{first.pk}" in web.get(reverse("orders"), {"q": "first"}).content.decode()
    assert f"#{second.pk}" in web.get(reverse("orders"), {"q": f"#{second.pk}"}).content.decode()
    assert web.get(reverse("orders"), {"status": "<script>", "q": "x" * 500, "page": "-1"}).status_code == 200


def test_another_customers_order_is_a_404(web, catalogue) -> None:
    other = UserFactory()
    from shop.wallet.services import wallet_credit

    wallet_credit(user=other, amount=Decimal("5"), kind=LedgerEntry.Kind.DEPOSIT)
    theirs = order_place(user=other, service=catalogue["1"], link=LINK, quantity=100)
    assert web.get(reverse("order-detail", args=[theirs.pk])).status_code == 404
    assert web.get(reverse("orders-status"), {"ids": str(theirs.pk)}).json() == {"orders": {}}


def test_status_json_reports_own_orders(web, catalogue, customer) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=100)
    data = web.get(reverse("orders-status"), {"ids": f"{order.pk},abc,,99999999999999999999"}).json()
    assert data == {
        "orders": {
            str(order.pk): {
                "status": "Pending",
                "tone": "neutral",
                "live": True,
                "start_count": None,
                "remains": None,
                "posts": None,
                "refunded": "0.0000",
                "refunded_shown": "0.00",
            }
        }
    }


def test_a_subscription_shows_its_username_posts_done_and_reserve_and_reads_the_providers_words(web, catalogue, customer) -> None:
    order = order_place(user=customer, service=catalogue["26"], username="shop.owner", min="100", max="200", posts="5", delay="30")
    order_submit(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SUB_ACTIVE, posts_done=1)
    listing = web.get(reverse("orders")).content.decode()
    assert "shop.owner" in listing and "1 post done" in listing and 'data-cell="posts"' in listing
    assert '<span class="status badge info" data-cell="status">Active</span>' in listing
    detail = web.get(reverse("order-detail", args=[order.pk])).content.decode()
    assert "100 to 200" in detail and "5 new, 30 min after each" in detail and "1 post done" in detail
    assert "reserved: the part not used comes back when it ends" in detail and ">Remains<" not in detail
    order_finish(order_id=order.pk, status=OrderStatus.EXPIRED, remains=None, start_count=None, upstream_charge=None, raw="Expired")
    data = web.get(reverse("orders-status"), {"ids": str(order.pk)}).json()["orders"][str(order.pk)]
    assert (data["status"], data["live"], data["posts"], data["remains"]) == ("Expired", False, "1 post done", None)
    assert data["refunded"] == "0.5200"  # 0.65 x 200 x 5 / 1000 = 0.65 reserved; 1 post of 200 used 0.13
    assert "Expired" in web.get(reverse("order-detail", args=[order.pk])).content.decode()


def test_balance_page_shows_the_ledger_with_running_balance(web, catalogue, customer) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    html = web.get(reverse("balance")).content.decode()
    assert "98.83 USD" in html and "-1.17<" in html and "+100.00<" in html and "98.8300" not in html
    assert f"order #{order.pk}" in html


def test_balance_page_says_when_and_why_new_orders_are_paused(web, customer) -> None:
    from shop.wallet.services import wallet_hold, wallet_release

    assert 'id="balance-hold"' not in web.get(reverse("balance")).content.decode()
    wallet_hold(user=customer, reason="Top-up #7 was reversed and the balance could not cover it.")
    html = web.get(reverse("balance")).content.decode()
    assert "New orders are paused: Top-up #7 was reversed and the balance could not cover it." in html
    wallet_release(user=customer)
    assert 'id="balance-hold"' not in web.get(reverse("balance")).content.decode()


def test_services_json_gives_one_category(web, catalogue) -> None:
    category = catalogue["17"].category
    data = web.get(reverse("services-json"), {"category": category.pk}).json()
    assert {service["category"] for service in data["services"]} == {category.pk}
    assert web.get(reverse("services-json"), {"category": "x"}).status_code == 400


def test_new_order_page_takes_a_category_without_javascript(web, catalogue) -> None:
    category = catalogue["17"].category
    html = web.get(reverse("order-new"), {"category": category.pk}).content.decode()
    assert f'<option value="{category.pk}" selected>' in html
    assert "TikTok Followers [Refill 30D]" in html and "Instagram Followers [Real" not in html
    assert web.get(reverse("order-new"), {"category": "999999"}).status_code == 200


def test_refill_and_cancel_buttons_on_the_order_page(web, catalogue, customer, sandbox) -> None:
    from shop.models import Refill

    unsent = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    listing = web.get(reverse("orders")).content.decode()
    assert reverse("order-cancel", args=[unsent.pk]) in listing and reverse("order-refill", args=[unsent.pk]) not in listing
    page = web.get(reverse("order-detail", args=[unsent.pk])).content.decode()
    assert "Cancel the order" in page and "Request a refill" not in page
    response = web.post(reverse("order-cancel", args=[unsent.pk]), follow=True)
    assert "Order canceled and refunded." in response.content.decode()

    done = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    order_submit(order_id=done.pk)
    order_finish(order_id=done.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    sandbox.panel.advance(10_000)
    page = web.get(reverse("order-detail", args=[done.pk])).content.decode()
    assert "Request a refill" in page and "Cancel the order" not in page
    response = web.post(reverse("order-refill", args=[done.pk]), follow=True)
    refill = Refill.objects.get(order=done)
    page = response.content.decode()
    assert f"Refill #{refill.pk} requested; the provider is asked now." in page and f"#{refill.pk}</td>" in page
    assert sandbox.panel.calls["refill"] == 0  # the request did not wait for the provider: a task sends it
    # One refill under way: the page says so instead of offering the button, and a second click adds nothing.
    assert "A refill of this order is already under way." in page and "Request a refill" not in page
    again = web.post(reverse("order-refill", args=[done.pk]), follow=True).content.decode()
    assert "A refill of this order is already under way." in again and Refill.objects.filter(order=done).count() == 1


def test_after_a_refill_the_order_page_says_when_the_next_may_be_asked(web, catalogue, customer, sandbox, settings) -> None:
    from shop.models import Refill

    settings.REFILL_COOLDOWN = 24 * 3600
    done = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=1000)
    order_submit(order_id=done.pk)
    order_finish(order_id=done.pk, status=OrderStatus.COMPLETED, remains=0, start_count=1, upstream_charge=None, raw="Completed")
    web.post(reverse("order-refill", args=[done.pk]))
    Refill.objects.filter(order=done).update(status=Refill.Status.COMPLETED)

    page = web.get(reverse("order-detail", args=[done.pk])).content.decode()
    assert "you may ask again after " in page and "Request a refill" not in page
    response = web.post(reverse("order-refill", args=[done.pk]), follow=True).content.decode()
    assert "A refill of this order was asked for recently; you may ask again after " in response
    assert Refill.objects.filter(order=done).count() == 1

    Refill.objects.filter(order=done).update(status=Refill.Status.REJECTED)  # the provider refused it: ask again at once
    assert "Request a refill" in web.get(reverse("order-detail", args=[done.pk])).content.decode()


def test_someone_elses_order_cannot_be_refilled_or_canceled(web, catalogue) -> None:
    from shop.wallet.services import wallet_credit

    other = UserFactory()
    wallet_credit(user=other, amount=Decimal("5"), kind=LedgerEntry.Kind.DEPOSIT)
    theirs = order_place(user=other, service=catalogue["1"], link=LINK, quantity=100)
    assert web.post(reverse("order-cancel", args=[theirs.pk])).status_code == 404
    assert web.post(reverse("order-refill", args=[theirs.pk])).status_code == 404
    assert Order.objects.get(pk=theirs.pk).status == OrderStatus.AWAITING


def test_password_pages_render_their_forms(web, client) -> None:
    assert 'name="oldpassword"' in web.get(reverse("password_change")).content.decode()
    assert 'name="email"' in client.get(reverse("password_reset")).content.decode()
    bad = client.get(reverse("password_reset_confirm", args=["1", "bad-token"]), follow=True).content.decode()
    assert "The password reset link was invalid" in bad


def test_password_change_works(web, customer) -> None:
    form = {"oldpassword": "pw-for-tests", "password1": "a-new-Passw0rd!", "password2": "a-new-Passw0rd!"}
    response = web.post(reverse("password_change"), form, follow=True)
    assert "Password successfully changed." in response.content.decode()
    customer.refresh_from_db()
    assert customer.check_password("a-new-Passw0rd!")
