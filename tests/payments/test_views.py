"""The customer side of payments: add funds, a top-up's page and its live status, the history, and gateways' notifications.

Gateways here are ``tests.payments.fake_gateway`` (serving the sandbox kind)
and the manual transfer. The top-up page is where a gateway sends the payer
back: it never credits, whatever the gateway would say.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from shop.models import LedgerEntry, PaymentMethod, TopUp, TopUpEvent, TopUpState
from shop.payments import tasks
from shop.payments.crediting import topup_report_apply, topup_staff_reject
from shop.payments.forms import AMOUNT_HELP
from shop.payments.interface import GatewayError, GatewayUnavailable, Urls
from shop.payments.views import GATEWAY_DOWN, MAX_NOTIFICATION_BYTES
from shop.wallet.selectors import balance_of
from tests.factories import UserFactory
from tests.payments import fake_gateway
from tests.payments.fake_gateway import PAY_HOST, SECRET, notification, paid

pytestmark = pytest.mark.django_db
Kind = LedgerEntry.Kind


@pytest.fixture
def fake(monkeypatch) -> fake_gateway.Script:
    return fake_gateway.install(monkeypatch)


@pytest.fixture
def card(fake) -> PaymentMethod:
    """5 to 500 USD, a 2.5 % fee, a 10 % bonus from 50 USD."""
    return fake_gateway.method(
        min_amount=Decimal("5"),
        max_amount=Decimal("500"),
        fee_percent=Decimal("2.5"),
        bonus_percent=Decimal("10"),
        bonus_threshold=Decimal("50"),
    )


@pytest.fixture
def bank(db) -> PaymentMethod:
    return PaymentMethod.objects.create(
        code="bank",
        kind=PaymentMethod.Kind.MANUAL,
        name="Bank transfer",
        is_enabled=True,
        position=5,
        instructions="IBAN DE00 1234\nWrite <b>your username</b> in the reference.",
    )


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Ids of the top-up checks queued by the code a test runs (run its on-commit callbacks to see them); nothing reaches a broker."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.topup_check_task, "delay", sent.append)
    return sent


def start(web, method: PaymentMethod, amount: str = "60", **extra: str) -> TopUp:
    response = web.post(reverse("funds-add"), {"method": method.pk, "amount": amount, **extra})
    assert response.status_code == 302, response.content.decode()
    return TopUp.objects.latest("id")


def notify(client: Client, method: PaymentMethod, body: bytes, headers: dict[str, str]):
    return client.post(reverse("payment-notify", args=[method.code]), body, content_type="application/json", **headers)


def written() -> tuple[list[tuple], int, int]:
    """The payment rows a refused request must leave as they were."""
    topups = list(TopUp.objects.order_by("id").values_list("id", "state", "checked_at"))
    return topups, TopUpEvent.objects.count(), LedgerEntry.objects.count()


# Add funds ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["funds-add", "topups", "topup-detail", "topup-status"])
def test_payment_pages_send_visitors_to_log_in(client, name: str) -> None:
    response = client.get(reverse(name, args=[uuid.uuid4()] if name.startswith("topup-") else []))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_add_funds_lists_enabled_methods_with_limits_fee_and_bonus(web, card, bank) -> None:
    PaymentMethod.objects.create(code="off", kind=PaymentMethod.Kind.MANUAL, name="Switched off", is_enabled=False)
    PaymentMethod.objects.create(code="eur", kind=PaymentMethod.Kind.MANUAL, name="Euro only", is_enabled=True, currency="EUR")
    response = web.get(reverse("funds-add"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Fake card" in html and "Bank transfer" in html
    assert "Switched off" not in html and "Euro only" not in html
    assert "5.00 to 500.00 USD" in html and "fee 2.5%" in html and "bonus 10% from 50.00 USD" in html
    assert "Write &lt;b&gt;your username&lt;/b&gt; in the reference." in html  # the admin's instructions, escaped
    assert html.index("Fake card") < html.index("Bank transfer")  # by position
    assert 'id="methods-data"' in html and '"fee_percent": "2.50"' in html


def test_add_funds_with_no_method_says_so(web) -> None:
    assert "No payment method is available right now" in web.get(reverse("funds-add")).content.decode()


def test_a_gateway_top_up_sends_the_customer_to_the_gateway_with_the_shop_s_urls(web, card, fake, customer) -> None:
    response = web.post(reverse("funds-add"), {"method": card.pk, "amount": "60"})
    topup = TopUp.objects.get(user=customer)
    assert response.status_code == 302
    assert response["Location"] == f"{PAY_HOST}/pay/{topup.public_id}"
    assert (topup.state, topup.amount, topup.fee, topup.bonus, topup.credited) == (
        TopUpState.PENDING,
        Decimal("60"),
        Decimal("1.50"),
        Decimal("6.00"),
        Decimal("64.50"),
    )
    assert fake.called("start") == [
        Urls(notify="http://testserver/payments/notify/fake/", back=f"http://testserver/funds/{topup.public_id}/")
    ]
    assert not LedgerEntry.objects.filter(topup=topup).exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "This field is required."),
        ("4.99", "The minimum for Fake card is 5.00 USD."),
        ("500.01", "The maximum for Fake card is 500.00 USD."),
        ("10.001", "Enter an amount with at most 2 decimal places, such as 25.50."),
        ("1e3", AMOUNT_HELP),
        ("-5", AMOUNT_HELP),
        ("NaN", AMOUNT_HELP),
        ("10,50", AMOUNT_HELP),
        ("\u0665\u0660", "Write numbers with the digits 0 to 9."),
    ],
)
def test_the_form_refuses_a_bad_amount_with_a_message_and_writes_nothing(web, card, fake, amount: str, message: str) -> None:
    before = written()
    response = web.post(reverse("funds-add"), {"method": card.pk, "amount": amount})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert written() == before and fake.calls == []


def test_a_customer_reading_spanish_may_write_a_decimal_comma_and_nothing_else_changes(web, card, fake, customer) -> None:
    web.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    for refused in ("10,5,0", "1.000,50", "10,"):
        assert web.post(reverse("funds-add"), {"method": card.pk, "amount": refused}).status_code == 400
    assert not TopUp.objects.exists()
    assert web.post(reverse("funds-add"), {"method": card.pk, "amount": "60,25"}).status_code == 302
    assert TopUp.objects.get(user=customer).amount == Decimal("60.25")


def test_the_form_refuses_a_method_that_is_not_offered_and_writes_nothing(web, card, fake) -> None:
    off = PaymentMethod.objects.create(code="off", kind=PaymentMethod.Kind.SANDBOX, name="Switched off", is_enabled=False)
    euro = PaymentMethod.objects.create(code="eur", kind=PaymentMethod.Kind.SANDBOX, name="Euro", is_enabled=True, currency="EUR")
    before = written()
    for value in (off.pk, euro.pk, 999_999, "abc", ""):
        response = web.post(reverse("funds-add"), {"method": value, "amount": "10"})
        assert response.status_code == 400
        html = response.content.decode()
        assert "This payment method is not available: choose another." in html or "Choose a payment method." in html
    assert written() == before and fake.calls == []


def test_a_manual_transfer_needs_its_reference(web, bank) -> None:
    response = web.post(reverse("funds-add"), {"method": bank.pk, "amount": "20"})
    assert response.status_code == 400
    assert "Enter the reference of your transfer, so staff can find it." in response.content.decode()
    assert not TopUp.objects.exists()


def test_a_manual_transfer_waits_for_staff_on_its_page(web, bank, customer) -> None:
    response = web.post(reverse("funds-add"), {"method": bank.pk, "amount": "20", "reference": "TX-778"}, follow=True)
    topup = TopUp.objects.get(user=customer)
    assert response.redirect_chain == [(reverse("topup-detail", args=[topup.public_id]), 302)]
    html = response.content.decode()
    assert f"Top-up #{topup.pk} sent: staff check your transfer" in html
    assert "Being checked by staff." in html and "TX-778" in html and "IBAN DE00 1234" in html
    assert (topup.state, topup.reference) == (TopUpState.REVIEW, "TX-778")
    assert balance_of(user=customer) == Decimal("100")


def test_a_refusal_of_the_service_shows_on_the_form(web, bank) -> None:
    response = web.post(reverse("funds-add"), {"method": bank.pk, "amount": "20", "reference": "TX\x07 778"})
    assert response.status_code == 400
    assert "A reference is plain text of at most 120 characters." in response.content.decode()
    assert not TopUp.objects.exists()


@pytest.mark.parametrize("error", [GatewayUnavailable("connect timeout"), GatewayError("merchant not activated")])
def test_a_gateway_that_fails_to_start_gives_the_form_back_with_a_message(web, card, fake, customer, error) -> None:
    fake.start_error = error
    response = web.post(reverse("funds-add"), {"method": card.pk, "amount": "60"})
    assert response.status_code == 400
    html = response.content.decode()
    assert GATEWAY_DOWN in html and str(error) not in html
    assert TopUp.objects.get(user=customer).state == TopUpState.FAILED
    assert not LedgerEntry.objects.filter(topup__isnull=False).exists()


# A top-up's page and its live status ----------------------------------------------------------------------------------


def test_the_top_up_page_shows_amounts_state_and_the_pay_link(web, card) -> None:
    topup = start(web, card)
    response = web.get(reverse("topup-detail", args=[topup.public_id]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Waiting for your payment." in html
    assert f'href="{topup.pay_url}"' in html and "Pay 60.00 USD" in html
    for figure in ("60.00 USD", "1.50 USD", "6.00 USD", "64.50 USD"):
        assert figure in html
    assert reverse("topup-status", args=[topup.public_id]) in html and 'data-poll="5000"' in html


def test_the_top_up_page_never_credits_even_when_the_gateway_would_say_paid(
    web, card, fake, customer, queued, django_capture_on_commit_callbacks
) -> None:
    topup = start(web, card)
    fake.fetched = paid(topup)
    with django_capture_on_commit_callbacks(execute=True):
        # The gateway sends the payer back with whatever it likes in the address.
        response = web.get(reverse("topup-detail", args=[topup.public_id]), {"status": "paid", "session_id": topup.gateway_id})
        assert response.status_code == 200 and "Waiting for your payment." in response.content.decode()
        status = web.get(reverse("topup-status", args=[topup.public_id])).json()
    topup.refresh_from_db()
    assert status["state"] == topup.state == TopUpState.PENDING
    assert not LedgerEntry.objects.filter(topup=topup).exists()
    assert balance_of(user=customer) == Decimal("100")
    assert fake.called("fetch") == []  # only the queued task asks the gateway, server to server
    assert queued == [topup.pk]


def test_the_status_json_reports_the_state_and_the_balance_after_a_credit(web, card, customer) -> None:
    topup = start(web, card)
    url = reverse("topup-status", args=[topup.public_id])
    assert web.get(url).json() == {
        "state": "pending",
        "label": "Pending",
        "text": "Waiting for your payment.",
        "open": True,
        "poll_ms": 5000,
        "pay_url": topup.pay_url,
        "balance": "100.0000",
        "balance_text": "100.00 USD",  # as people read it; "balance" keeps the exact figure
    }
    topup_report_apply(method=card, report=paid(topup))
    status = web.get(url).json()
    assert status["state"] == "paid" and status["text"] == "Paid: 64.50 USD added to your balance."
    assert (status["open"], status["poll_ms"], status["pay_url"]) == (False, 0, "")
    assert status["balance_text"] == "164.50 USD"
    html = web.get(reverse("topup-detail", args=[topup.public_id])).content.decode()
    assert "Paid: 64.50 USD added to your balance." in html and topup.pay_url not in html


def test_a_rejected_top_up_shows_the_staff_reason(web, bank, admin_user) -> None:
    topup = start(web, bank, amount="20", reference="TX-1")
    topup_staff_reject(topup=topup, staff=admin_user, reason="No transfer with this reference arrived.")
    html = web.get(reverse("topup-detail", args=[topup.public_id])).content.decode()
    assert "Rejected by staff: No transfer with this reference arrived." in html
    assert web.get(reverse("topup-status", args=[topup.public_id])).json()["open"] is False


def test_another_customer_s_top_up_is_404(client, web, card) -> None:
    topup = start(web, card)
    client.force_login(UserFactory(username="someone-else"))
    for name in ("topup-detail", "topup-status"):
        assert client.get(reverse(name, args=[topup.public_id])).status_code == 404
    topup.refresh_from_db()
    assert topup.checked_at is None  # the stranger's polls claimed no check either


def test_status_polls_queue_one_check_per_15_seconds(web, card, queued, django_capture_on_commit_callbacks) -> None:
    topup = start(web, card)
    url = reverse("topup-status", args=[topup.public_id])
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            assert web.get(url).status_code == 200
    assert queued == [topup.pk]
    topup.refresh_from_db()
    assert topup.checked_at is not None
    TopUp.objects.filter(pk=topup.pk).update(checked_at=timezone.now() - timedelta(seconds=14))
    with django_capture_on_commit_callbacks(execute=True):
        web.get(url)
    assert queued == [topup.pk]
    TopUp.objects.filter(pk=topup.pk).update(checked_at=timezone.now() - timedelta(seconds=16))
    with django_capture_on_commit_callbacks(execute=True):
        web.get(url)
        web.get(url)
    assert queued == [topup.pk, topup.pk]


def test_a_broker_that_is_down_does_not_break_the_status_json(web, card, monkeypatch, django_capture_on_commit_callbacks) -> None:
    topup = start(web, card)

    def broker_down(topup_id: int) -> None:
        raise OperationalError("Connection refused")

    monkeypatch.setattr(tasks.topup_check_task, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = web.get(reverse("topup-status", args=[topup.public_id]))
    assert len(callbacks) == 1
    assert response.status_code == 200 and response.json()["state"] == "pending"


def test_status_polls_of_a_closed_or_staff_top_up_queue_no_check(web, card, bank, queued, django_capture_on_commit_callbacks) -> None:
    manual = start(web, bank, amount="20", reference="TX-2")
    done = start(web, card)
    topup_report_apply(method=card, report=paid(done))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for topup in (manual, done):
            assert web.get(reverse("topup-status", args=[topup.public_id])).status_code == 200
    assert queued == [] and callbacks == []


# History, balance and menu ----------------------------------------------------------------------------------------------


def test_history_lists_the_customer_s_top_ups_newest_first_with_links_and_pages(web, card, customer) -> None:
    TopUp.objects.bulk_create(
        TopUp(user=customer, method=card, amount=Decimal(n + 5), currency="USD", state=TopUpState.EXPIRED) for n in range(51)
    )
    TopUp.objects.create(user=UserFactory(username="stranger"), method=card, amount=Decimal("77"), currency="USD")
    stranger = TopUp.objects.filter(amount=Decimal("77")).get()
    newest = TopUp.objects.filter(user=customer).latest("id")
    html = web.get(reverse("topups")).content.decode()
    assert reverse("topup-detail", args=[newest.public_id]) in html
    assert html.index(f"#{newest.pk}<") < html.index(f"#{newest.pk - 1}<")
    assert len(re.findall(r'href="/funds/[0-9a-f-]{36}/"', html)) == 50 and 'rel="next"' in html
    assert str(stranger.public_id) not in html
    second = web.get(reverse("topups"), {"page": "2"}).content.decode()
    assert second.count("Expired") == 1


def test_the_balance_page_offers_add_funds_and_links_each_top_up_line(web, card, customer) -> None:
    topup = start(web, card)
    topup_report_apply(method=card, report=paid(topup))
    html = web.get(reverse("balance")).content.decode()
    assert "contact support" not in html
    assert f'href="{reverse("funds-add")}"' in html and f'href="{reverse("topups")}"' in html
    link = f'<a href="{reverse("topup-detail", args=[topup.public_id])}">top-up #{topup.pk}</a>'
    for label, amount in (("Top-up", "+60.00<"), ("Payment fee", "-1.50<"), ("Top-up bonus", "+6.00<")):
        assert f"{label} · {link}" in html and amount in html
    assert "164.50 USD" in html and "164.5000" not in html


def test_the_balance_page_reads_top_up_lines_without_a_query_each(web, card, customer, django_assert_max_num_queries) -> None:
    first = start(web, card)
    topup_report_apply(method=card, report=paid(first))
    with django_assert_max_num_queries(50) as few:
        web.get(reverse("balance"))
    baseline = len(few)  # now: the log is cleared by the next request
    assert baseline > 0
    for _ in range(5):
        topup = start(web, card)
        topup_report_apply(method=card, report=paid(topup))
    with django_assert_max_num_queries(baseline):
        web.get(reverse("balance"))


@pytest.mark.parametrize("name", ["services", "orders", "balance", "topups", "funds-add", "api-page"])
def test_add_funds_and_payments_are_in_the_menu_of_every_page(web, name: str) -> None:
    html = web.get(reverse(name)).content.decode()
    nav = html[html.index('<nav class="nav"') : html.index("</nav>")]
    for url, label in ((reverse("funds-add"), "Add funds"), (reverse("topups"), "Payments")):
        assert re.search(rf'<a(?: aria-current="page")? href="{url}">.*?<span>{label}</span></a>', nav), label


def test_a_customer_with_a_zero_balance_is_pointed_to_add_funds(client, web) -> None:
    assert "data-funds-pointer" not in web.get(reverse("order-new")).content.decode()  # 100 USD: no pointer
    client.force_login(UserFactory(username="broke"))
    for name in ("order-new", "balance", "orders"):
        html = client.get(reverse(name)).content.decode()
        assert "data-funds-pointer" in html and "Your balance is empty" in html, name
    assert "data-funds-pointer" not in client.get(reverse("funds-add")).content.decode()


# Notifications ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def gateway_client() -> Client:
    """A gateway's server: no session, and CSRF checks on as for any outside client."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def pending(web, card) -> TopUp:
    return start(web, card)


def test_a_verified_notification_credits_once_and_answers_ok(gateway_client, card, pending, customer) -> None:
    body, headers = notification(topup=pending)
    response = notify(gateway_client, card, body, headers)
    assert (response.status_code, response.content, response["Content-Type"]) == (200, b"ok", "text/plain; charset=utf-8")
    pending.refresh_from_db()
    assert pending.state == TopUpState.PAID
    assert balance_of(user=customer) == Decimal("164.5000")
    assert sorted(LedgerEntry.objects.filter(topup=pending).values_list("kind", flat=True)) == sorted(
        [Kind.TOPUP, Kind.TOPUP_FEE, Kind.TOPUP_BONUS]
    )


def test_replayed_notifications_answer_ok_and_credit_nothing_more(gateway_client, card, pending, customer) -> None:
    body, headers = notification(topup=pending)
    answers = [notify(gateway_client, card, body, headers).status_code for _ in range(4)]
    assert answers == [200] * 4
    assert LedgerEntry.objects.filter(topup=pending, kind=Kind.TOPUP).count() == 1
    assert balance_of(user=customer) == Decimal("164.5000")
    assert TopUpEvent.objects.filter(topup=pending, kind=TopUpEvent.Kind.IGNORED).count() == 3


def test_a_notification_of_an_unknown_payment_answers_ok_and_writes_nothing(gateway_client, card, pending) -> None:
    body = json.dumps({"id": "fake-not-ours", "state": "paid", "amount": "60.00", "currency": "USD"}).encode()
    headers = {"HTTP_X_FAKE_SIGNATURE": fake_gateway.sign(SECRET, body)}
    before = written()
    assert notify(gateway_client, card, body, headers).content == b"ok"
    assert written() == before


def test_a_forged_notification_is_rejected_with_400_and_writes_nothing(gateway_client, card, pending) -> None:
    body, _ = notification(topup=pending)
    before = written()
    for headers in ({}, {"HTTP_X_FAKE_SIGNATURE": fake_gateway.sign("another-secret", body)}, {"HTTP_X_FAKE_SIGNATURE": "0" * 64}):
        response = notify(gateway_client, card, body, headers)
        assert (response.status_code, response.content) == (400, b"rejected")
    tampered = body.replace(b'"60.00"', b'"6000.00"')
    assert notify(gateway_client, card, tampered, notification(topup=pending)[1]).status_code == 400
    assert written() == before


def test_a_notification_to_a_manual_method_is_rejected(gateway_client, bank) -> None:
    response = notify(gateway_client, bank, b"{}", {})
    assert (response.status_code, response.content) == (400, b"rejected")


def test_a_notification_the_gateway_cannot_confirm_answers_503_and_writes_nothing(gateway_client, card, fake, pending) -> None:
    fake.verify_error = GatewayUnavailable("status fetch timed out")
    before = written()
    body, headers = notification(topup=pending)
    assert notify(gateway_client, card, body, headers).status_code == 503
    fake.verify_error = GatewayError("the gateway refused the status fetch")
    assert notify(gateway_client, card, body, headers).status_code == 503
    assert written() == before


def test_a_notification_over_64_kib_is_refused_unread(gateway_client, card, fake, pending) -> None:
    before = written()
    response = notify(gateway_client, card, b"{" + b" " * MAX_NOTIFICATION_BYTES + b"}", {})
    assert response.status_code == 400
    assert fake.called("verify") == [] and written() == before
    assert notify(gateway_client, card, b" " * MAX_NOTIFICATION_BYTES, {}).status_code == 400  # exactly 64 KiB is read (and rejected)
    assert len(fake.called("verify")) == 1


def test_notifications_to_an_unknown_method_are_404_and_only_post_is_allowed(gateway_client, card) -> None:
    assert gateway_client.post("/payments/notify/nope/", b"{}", content_type="application/json").status_code == 404
    url = reverse("payment-notify", args=[card.code])
    assert gateway_client.get(url).status_code == 405
    assert gateway_client.put(url, b"{}").status_code == 405


def test_a_disabled_method_still_accepts_its_notifications(gateway_client, card, pending) -> None:
    PaymentMethod.objects.filter(pk=card.pk).update(is_enabled=False)
    body, headers = notification(topup=pending)
    assert notify(gateway_client, card, body, headers).status_code == 200
    pending.refresh_from_db()
    assert pending.state == TopUpState.PAID


def test_notification_logs_name_the_outcome_without_secrets_or_the_body(gateway_client, card, pending, caplog) -> None:
    caplog.set_level(logging.INFO)
    body, headers = notification(topup=pending)
    marked = body.replace(b'"state"', b'"note": "raw-body-marker", "state"')
    headers = {"HTTP_X_FAKE_SIGNATURE": fake_gateway.sign(SECRET, marked)}
    notify(gateway_client, card, marked, headers)
    notify(gateway_client, card, marked, {"HTTP_X_FAKE_SIGNATURE": "forged"})
    assert f"paid {pending.gateway_id} -> credited" in caplog.text
    assert "payment notification for fake rejected" in caplog.text
    assert "raw-body-marker" not in caplog.text and SECRET not in caplog.text and headers["HTTP_X_FAKE_SIGNATURE"] not in caplog.text
