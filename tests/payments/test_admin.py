"""The payments back office (``shop/payments/admin.py``): methods with write-only credentials, top-ups staff credit or reject, holds.

Top-ups are written straight to their table in the state a test needs; every change goes through ``crediting``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shop.models import LedgerEntry, PaymentMethod, TopUp, TopUpEvent, TopUpState, Wallet
from shop.payments.crediting import topup_staff_reject
from shop.wallet.services import wallet_credit, wallet_hold
from tests.factories import UserFactory
from tests.helpers import messages_of

pytestmark = pytest.mark.django_db

STRIPE_KEY = "sk_test_51AdminFormSecretKey0000"
STRIPE_WHSEC = "whsec_AdminFormWebhookSecret0000"
REFUSED = "The whole list is shown: "
PAID_AT = datetime(2025, 1, 2, tzinfo=UTC)


@pytest.fixture
def manual(db) -> PaymentMethod:
    """A manual transfer method: 2% fee, 5% bonus from 50."""
    return PaymentMethod.objects.create(
        code="bank",
        kind=PaymentMethod.Kind.MANUAL,
        name="Bank transfer",
        is_enabled=True,
        fee_percent=Decimal("2"),
        bonus_percent=Decimal("5"),
        bonus_threshold=Decimal("50"),
        instructions="IBAN XX00 0000",
    )


def topup(user, method: PaymentMethod, *, state: str = TopUpState.REVIEW, amount: str = "100", **fields) -> TopUp:
    """A top-up as the shop would have created it (fee and bonus of ``manual`` for 100), in ``state``."""
    values = {"fee": Decimal("2"), "bonus": Decimal("5"), "currency": "USD", "reference": "TRX-1", **fields}
    return TopUp.objects.create(user=user, method=method, amount=Decimal(amount), state=state, **values)


def change_url(row: TopUp) -> str:
    return reverse("admin:shop_topup_change", args=[row.pk])


def credit_url(row: TopUp) -> str:
    return reverse("admin:shop_topup_credit", args=[row.pk])


def reject_url(row: TopUp) -> str:
    return reverse("admin:shop_topup_reject", args=[row.pk])


def entries(row: TopUp) -> list[tuple[str, Decimal]]:
    return sorted(LedgerEntry.objects.filter(topup=row).values_list("kind", "amount"))


def staff_client(*codenames: str) -> Client:
    clerk = UserFactory(username=f"clerk-{'-'.join(codenames) or 'none'}", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(content_type__app_label="shop", codename__in=codenames))
    client = Client()
    client.force_login(clerk)
    return client


# Payment methods ---------------------------------------------------------------------------------


def method_form(**fields: str) -> dict[str, str]:
    form = {
        "name": "Card (Stripe)",
        "code": "stripe",
        "kind": "stripe",
        "is_enabled": "on",
        "position": "0",
        "currency": "USD",
        "min_amount": "5",
        "max_amount": "1000",
        "fee_percent": "2.9",
        "bonus_percent": "0",
        "bonus_threshold": "0",
        "instructions": "",
        "api_url": "",
        "merchant_id": "",
        "new_api_key": STRIPE_KEY,
        "new_webhook_secret": STRIPE_WHSEC,
    }
    return {key: value for key, value in {**form, **fields}.items() if value is not None}


def test_keys_are_stored_but_never_in_a_page_after_saving(admin_client) -> None:
    saved = admin_client.post(reverse("admin:shop_paymentmethod_add"), method_form(), follow=True)
    assert saved.status_code == 200 and "was added successfully" in saved.content.decode()
    method = PaymentMethod.objects.get(code="stripe")
    assert (method.api_key, method.webhook_secret) == (STRIPE_KEY, STRIPE_WHSEC)

    pages = [
        saved,
        admin_client.get(reverse("admin:shop_paymentmethod_change", args=[method.pk])),
        admin_client.get(reverse("admin:shop_paymentmethod_changelist")),
        admin_client.get(reverse("admin:shop_paymentmethod_history", args=[method.pk])),
    ]
    for page in pages:
        html = page.content.decode()
        assert STRIPE_KEY not in html and STRIPE_WHSEC not in html
        assert STRIPE_KEY[8:] not in html  # nor a part of it
    change = pages[1].content.decode()
    assert change.count("set (hidden)") == 2
    assert 'name="new_api_key"' in change and 'type="password"' in change


def test_a_refused_form_does_not_render_the_typed_keys_back(admin_client) -> None:
    refused = admin_client.post(reverse("admin:shop_paymentmethod_add"), method_form(min_amount="50", max_amount="10"))
    html = refused.content.decode()
    assert refused.status_code == 200 and "The maximum must be at least the minimum." in html
    assert STRIPE_KEY not in html and STRIPE_WHSEC not in html
    assert not PaymentMethod.objects.exists()


def test_blank_keys_keep_the_stored_ones(admin_client) -> None:
    method = PaymentMethod.objects.create(code="stripe", kind="stripe", name="Card", api_key=STRIPE_KEY, webhook_secret=STRIPE_WHSEC)
    url = reverse("admin:shop_paymentmethod_change", args=[method.pk])
    response = admin_client.post(url, method_form(name="Card (renamed)", kind=None, new_api_key="", new_webhook_secret=""))
    assert response.status_code == 302
    method.refresh_from_db()
    assert (method.name, method.api_key, method.webhook_secret) == ("Card (renamed)", STRIPE_KEY, STRIPE_WHSEC)

    admin_client.post(url, method_form(kind=None, new_api_key="sk_live_replaced", new_webhook_secret=""))
    method.refresh_from_db()
    assert (method.api_key, method.webhook_secret) == ("sk_live_replaced", STRIPE_WHSEC)


def test_the_kind_cannot_change_once_the_method_exists(admin_client, manual) -> None:
    url = reverse("admin:shop_paymentmethod_change", args=[manual.pk])
    form = method_form(
        code="bank", kind="stripe", name="Bank transfer", fee_percent="2", new_api_key="", new_webhook_secret="", is_enabled=None
    )
    assert admin_client.post(url, form).status_code == 302
    manual.refresh_from_db()
    assert manual.kind == PaymentMethod.Kind.MANUAL
    assert 'name="kind"' not in admin_client.get(url).content.decode()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"min_amount": "20", "max_amount": "10"}, "The maximum must be at least the minimum."),
        ({"fee_percent": "100"}, "A fee must be below 100%"),
        ({"currency": "EUR"}, "Must be the shop&#x27;s currency, USD"),
        ({"new_api_key": ""}, "An enabled Stripe Checkout method needs its API key."),
        ({"new_webhook_secret": ""}, "An enabled Stripe method needs its webhook signing secret."),
        ({"new_api_key": "pk_test_publishable"}, "starts with sk_live_ or sk_test_ (rk_ for a restricted key), not pk_."),
        ({"new_webhook_secret": "not-a-whsec"}, "Stripe&#x27;s webhook signing secret starts with whsec_."),
        ({"new_api_key": "sk_test_with space"}, "A key is one word of printable characters, without spaces."),
        ({"kind": "cryptomus", "code": "crypto", "merchant_id": ""}, "An enabled Cryptomus method needs its merchant id."),
        (
            {"kind": "cryptomus", "code": "crypto", "merchant_id": "m-1", "new_api_key": ""},
            "An enabled Cryptomus method needs its API key.",
        ),
    ],
)
def test_a_method_that_could_not_work_is_refused(admin_client, fields: dict[str, str], error: str) -> None:
    response = admin_client.post(reverse("admin:shop_paymentmethod_add"), method_form(**fields))
    html = response.content.decode()
    assert response.status_code == 200 and error in html, error
    assert not PaymentMethod.objects.exists()


def test_keys_are_needed_only_to_enable_a_gateway(admin_client) -> None:
    form = method_form(is_enabled=None, new_api_key="", new_webhook_secret="")
    assert admin_client.post(reverse("admin:shop_paymentmethod_add"), form).status_code == 302
    method = PaymentMethod.objects.get()
    assert (method.is_enabled, method.api_key) == (False, "")


def test_sandbox_cannot_be_enabled_in_production(admin_client, settings) -> None:
    form = method_form(kind="sandbox", code="sandbox", name="Test payments", new_api_key="", new_webhook_secret="")
    settings.PRODUCTION = True
    refused = admin_client.post(reverse("admin:shop_paymentmethod_add"), form)
    assert "The sandbox gateway cannot be enabled in production" in refused.content.decode()
    assert not PaymentMethod.objects.exists()
    assert admin_client.post(reverse("admin:shop_paymentmethod_add"), {**form, "is_enabled": ""}).status_code == 302  # disabled: kept
    settings.PRODUCTION = False
    assert admin_client.post(reverse("admin:shop_paymentmethod_add"), {**form, "code": "sandbox2"}).status_code == 302
    assert PaymentMethod.objects.get(code="sandbox2").is_enabled


def test_the_notification_url_is_absolute_for_the_gateways_dashboard(admin_client, manual) -> None:
    stripe = PaymentMethod.objects.create(code="card", kind="stripe", name="Card")
    change = admin_client.get(reverse("admin:shop_paymentmethod_change", args=[stripe.pk])).content.decode()
    assert "<code>http://testserver/payments/notify/card/</code>" in change
    listed = admin_client.get(reverse("admin:shop_paymentmethod_changelist")).content.decode()
    assert "http://testserver/payments/notify/card/" in listed
    assert "None: staff credit manual transfers here." in listed
    add = admin_client.get(reverse("admin:shop_paymentmethod_add")).content.decode()
    assert "Shown once the method is saved." in add


# Top-ups: credit and reject ------------------------------------------------------------------------


def test_credit_from_review_credits_once_however_often_it_is_clicked(admin_client, admin_user, customer, manual) -> None:
    row = topup(customer, manual)
    page = admin_client.get(change_url(row)).content.decode()
    assert f'action="{credit_url(row)}"' in page and "Credit 103" in page

    first = admin_client.post(credit_url(row), follow=True)
    assert messages_of(first) == [f"Top-up #{row.pk} credited: 103.0000 USD added to {customer}'s balance."]
    second = admin_client.post(credit_url(row), follow=True)
    assert messages_of(second) == [
        f"Top-up #{row.pk} is paid: nothing was credited. "
        "Only a top-up under review or a pending manual transfer can be credited or rejected."
    ]

    assert entries(row) == [("topup", Decimal("100")), ("topup_bonus", Decimal("5")), ("topup_fee", Decimal("-2"))]
    assert Wallet.objects.get(user=customer).balance == Decimal("203")  # 100 before, 103 credited
    row.refresh_from_db()
    assert row.state == TopUpState.PAID and row.paid_at is not None
    paid = TopUpEvent.objects.get(topup=row, kind=TopUpEvent.Kind.PAID)
    assert (paid.actor, paid.actor_user) == (TopUpEvent.Actor.STAFF, admin_user)
    assert 'id="topup-credit"' not in admin_client.get(change_url(row)).content.decode()  # no button on a paid top-up


def test_credit_is_post_only(admin_client, customer, manual) -> None:
    row = topup(customer, manual)
    assert admin_client.get(credit_url(row)).status_code == 405
    row.refresh_from_db()
    assert row.state == TopUpState.REVIEW and entries(row) == []


def test_credit_needs_the_csrf_token(admin_user, customer, manual) -> None:
    row = topup(customer, manual)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(credit_url(row)).status_code == 403
    assert entries(row) == []


def test_a_gateway_payment_still_pending_cannot_be_credited_by_staff(admin_client, customer) -> None:
    stripe = PaymentMethod.objects.create(code="card", kind="stripe", name="Card")
    row = topup(customer, stripe, state=TopUpState.PENDING, gateway_id="cs_test_1")
    assert 'id="topup-credit"' not in admin_client.get(change_url(row)).content.decode()
    response = admin_client.post(credit_url(row), follow=True)
    assert messages_of(response)[0].startswith(f"Top-up #{row.pk} is pending: nothing was credited.")
    assert entries(row) == []
    assert admin_client.post(reject_url(row), {"reason": "no"}).status_code == 302
    row.refresh_from_db()
    assert row.state == TopUpState.PENDING


def test_reject_asks_a_reason_then_rejects_with_it(admin_client, admin_user, customer, manual) -> None:
    row = topup(customer, manual)
    form = admin_client.get(reject_url(row))
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    row.refresh_from_db()
    assert row.state == TopUpState.REVIEW  # asking wrote nothing

    done = admin_client.post(reject_url(row), {"reason": "No transfer with reference TRX-1 arrived."}, follow=True)
    assert messages_of(done) == [f"Top-up #{row.pk} rejected: No transfer with reference TRX-1 arrived."]
    row.refresh_from_db()
    assert (row.state, row.attention_reason) == (TopUpState.REJECTED, "No transfer with reference TRX-1 arrived.")
    event = TopUpEvent.objects.get(topup=row, kind=TopUpEvent.Kind.REJECTED)
    assert (event.actor_user, event.detail) == (admin_user, {"reason": "No transfer with reference TRX-1 arrived."})
    assert entries(row) == []
    assert Wallet.objects.get(user=customer).balance == Decimal("100")
    late = admin_client.post(credit_url(row), follow=True)
    assert messages_of(late)[0].startswith(f"Top-up #{row.pk} is rejected: nothing was credited.")
    assert entries(row) == []


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501, "line\x00break"])
def test_reject_without_a_plain_reason_is_refused(admin_client, customer, manual, reason: str) -> None:
    row = topup(customer, manual)
    response = admin_client.post(reject_url(row), {"reason": reason})
    html = response.content.decode()
    assert response.status_code == 200 and "Nothing was rejected" in html and "errorlist" in html
    row.refresh_from_db()
    assert row.state == TopUpState.REVIEW
    assert not TopUpEvent.objects.filter(topup=row).exists()


def test_staff_without_the_permission_see_no_buttons_and_are_refused(customer, manual) -> None:
    row = topup(customer, manual)
    reader = staff_client("view_topup")
    page = reader.get(change_url(row))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="topup-credit"' not in html and 'id="topup-reject"' not in html
    assert "Only staff with the permission to change top-ups can credit or reject it." in html
    assert reader.post(credit_url(row)).status_code == 403
    assert reader.post(reject_url(row), {"reason": "Not mine to decide"}).status_code == 403
    listed = reader.get(reverse("admin:shop_topup_changelist")).content.decode()
    assert "credit_selected" not in listed and "reject_selected" not in listed
    refused = reader.post(reverse("admin:shop_topup_changelist"), {"action": "credit_selected", "_selected_action": [row.pk]}, follow=True)
    assert refused.status_code == 200
    row.refresh_from_db()
    assert row.state == TopUpState.REVIEW and entries(row) == [] and not TopUpEvent.objects.filter(topup=row).exists()


def test_staff_with_the_permission_credit(customer, manual) -> None:
    row = topup(customer, manual)
    clerk = staff_client("view_topup", "change_topup")
    assert 'id="topup-credit"' in clerk.get(change_url(row)).content.decode()
    assert clerk.post(credit_url(row)).status_code == 302
    assert len(entries(row)) == 3


def test_no_one_adds_edits_or_deletes_a_top_up(admin_client, customer, manual) -> None:
    row = topup(customer, manual)
    assert admin_client.get(reverse("admin:shop_topup_add")).status_code == 403
    assert admin_client.post(change_url(row), {"amount": "1000", "state": "paid"}).status_code == 403
    assert admin_client.post(reverse("admin:shop_topup_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert (row.amount, row.state) == (Decimal("100"), TopUpState.REVIEW)


def test_history_shows_each_event_with_the_staff_member(admin_client, admin_user, customer, manual) -> None:
    row = topup(customer, manual)
    topup_staff_reject(topup=row, staff=admin_user, reason="Sent twice")
    html = admin_client.get(change_url(row)).content.decode()
    assert "Rejected" in html and f"Staff: {admin_user}" in html and "Sent twice" in html


def test_bulk_credit_credits_those_under_review_and_says_why_others_were_not(admin_client, customer, manual) -> None:
    review = [topup(customer, manual), topup(customer, manual, reference="TRX-2")]
    paid = topup(customer, manual, reference="TRX-3")
    admin_client.post(credit_url(paid))
    data = {"action": "credit_selected", "_selected_action": [row.pk for row in [*review, paid]]}
    response = admin_client.post(reverse("admin:shop_topup_changelist"), data, follow=True)
    said = messages_of(response)
    assert "2 top-ups credited." in said
    assert any(text.startswith(f"Top-up #{paid.pk} is paid: nothing was credited.") for text in said)
    assert all(len(entries(row)) == 3 for row in [*review, paid])
    assert LedgerEntry.objects.filter(topup__in=[*review, paid], kind="topup").count() == 3


def test_bulk_reject_asks_one_reason_for_all(admin_client, customer, manual) -> None:
    rows = [topup(customer, manual), topup(customer, manual, reference="TRX-2")]
    url = reverse("admin:shop_topup_changelist")
    data = {"action": "reject_selected", "_selected_action": [row.pk for row in rows]}
    asked = admin_client.post(url, data)
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    blank = admin_client.post(url, {**data, "apply": "Reject", "reason": ""})
    assert "Nothing was rejected" in blank.content.decode()
    assert set(TopUp.objects.values_list("state", flat=True)) == {TopUpState.REVIEW}

    done = admin_client.post(url, {**data, "apply": "Reject", "reason": "Duplicate requests"}, follow=True)
    assert "2 top-ups rejected: Duplicate requests" in messages_of(done)
    assert set(TopUp.objects.values_list("state", "attention_reason")) == {(TopUpState.REJECTED, "Duplicate requests")}


# Top-ups: the list ----------------------------------------------------------------------------------


@pytest.fixture
def listed(customer, manual) -> dict[str, TopUp]:
    stripe = PaymentMethod.objects.create(code="card", kind="stripe", name="Card")
    other = UserFactory(username="zoe", email="zoe@mail.example")
    wallet_credit(user=other, amount=Decimal("1"), kind=LedgerEntry.Kind.DEPOSIT)
    return {
        "review": topup(customer, manual),
        "pending": topup(other, stripe, state=TopUpState.PENDING, gateway_id="cs_test_pending", reference=""),
        "paid": topup(
            other, stripe, state=TopUpState.PAID, gateway_id="cs_test_paid", gateway_payment="pi_paid", paid_at=PAID_AT, reference=""
        ),
        "owed": topup(
            customer, stripe, state=TopUpState.PAID, gateway_id="cs_test_owed", reversal_owed=Decimal("3"), paid_at=PAID_AT, reference=""
        ),
        "rejected": topup(other, manual, state=TopUpState.REJECTED, attention_reason="No transfer"),
    }


def shown(client, **query: str) -> set[int]:
    response = client.get(reverse("admin:shop_topup_changelist"), query)
    assert response.status_code == 200 and messages_of(response) == [], messages_of(response)
    return {row.pk for row in response.context["cl"].result_list}


def test_needs_attention_lists_reviews_and_uncovered_reversals(admin_client, listed) -> None:
    assert shown(admin_client, attention="yes") == {listed["review"].pk, listed["owed"].pk}
    assert shown(admin_client) == {row.pk for row in listed.values()}


def test_filters_by_method_state_customer_and_date(admin_client, listed, customer) -> None:
    stripe = listed["pending"].method
    assert shown(admin_client, method__id__exact=str(stripe.pk)) == {listed[name].pk for name in ("pending", "paid", "owed")}
    assert shown(admin_client, state__exact="paid") == {listed["paid"].pk, listed["owed"].pk}
    assert shown(admin_client, user__id__exact=str(customer.pk)) == {listed["review"].pk, listed["owed"].pk}
    assert shown(admin_client, created_at__gte="2000-01-01 00:00:00+00:00") == {row.pk for row in listed.values()}
    assert shown(admin_client, created_at__lt="2000-01-01 00:00:00+00:00") == set()
    assert shown(admin_client, created_at__year=str(timezone.localdate().year)) == {row.pk for row in listed.values()}


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"attention": "bogus"}, "the filter attention='bogus' could not be applied. Its only choice is yes."),
        ({"state__exact": "bogus"}, "is not one of the choices for state."),
        ({"method__id__exact": "abc"}, "could not be applied"),
        ({"created_at__gte": "99999-01-01"}, "could not be applied"),
        ({"user__id__exact": "x"}, "Not a customer id: 'x'."),
    ],
)
def test_a_bad_filter_value_gives_a_message_not_an_error(admin_client, listed, query: dict[str, str], said: str) -> None:
    url = reverse("admin:shop_topup_changelist")
    response = admin_client.get(url, query, follow=True)
    assert response.status_code == 200 and response.redirect_chain == [(f"{url}?e=1", 302)]
    (message,) = messages_of(response)
    assert message.startswith(REFUSED) and said in message, message


@pytest.mark.parametrize(
    ("term", "names"),
    [
        ("cs_test_pending", {"pending"}),
        ("CS_TEST_PAID", {"paid"}),
        ("pi_paid", {"paid"}),
        ("TRX-1", {"review", "rejected"}),  # a manual transfer's reference
        ("zoe", {"pending", "paid", "rejected"}),
        ("zoe@mail.example", {"pending", "paid", "rejected"}),
        ("nothing-like-it", set()),
    ],
)
def test_search_finds_by_gateway_ids_reference_and_customer(admin_client, listed, term: str, names: set[str]) -> None:
    assert shown(admin_client, q=term) == {listed[name].pk for name in names}


def test_search_finds_by_public_id_and_number(admin_client, listed) -> None:
    paid = listed["paid"]
    assert shown(admin_client, q=str(paid.public_id)) == {paid.pk}
    assert shown(admin_client, q=str(paid.public_id).upper()) == {paid.pk}
    assert shown(admin_client, q=f"#{paid.pk}") == {paid.pk}


def test_the_list_does_not_count_every_row_and_shows_the_columns(admin_client, listed) -> None:
    response = admin_client.get(reverse("admin:shop_topup_changelist"), {"q": "cs_test"})
    assert response.context["cl"].show_full_result_count is False
    html = admin_client.get(reverse("admin:shop_topup_changelist")).content.decode()
    for column in ("customer", "method", "amount", "state_badge", "fee", "bonus", "gateway_id", "created_at", "paid_at"):
        assert f"column-{column}" in html, column


# Holds ---------------------------------------------------------------------------------------------------


@pytest.fixture
def held(customer) -> Wallet:
    wallet_hold(user=customer, reason="Top-up #7 was reversed and the balance could not cover it.")
    return Wallet.objects.get(user=customer)


def test_wallet_list_filters_balances_on_hold(admin_client, held) -> None:
    other = UserFactory(username="free")
    wallet_credit(user=other, amount=Decimal("1"), kind=LedgerEntry.Kind.DEPOSIT)
    url = reverse("admin:shop_wallet_changelist")
    on_hold = admin_client.get(url, {"on_hold": "yes"})
    assert [wallet.pk for wallet in on_hold.context["cl"].result_list] == [held.pk]
    assert "Top-up #7 was reversed" in on_hold.content.decode()
    assert [w.pk for w in admin_client.get(url, {"on_hold": "no"}).context["cl"].result_list] == [Wallet.objects.get(user=other).pk]
    bad = admin_client.get(url, {"on_hold": "maybe"}, follow=True)
    assert messages_of(bad) == [f"{REFUSED}the filter on_hold='maybe' could not be applied. Its choices are yes and no."]


def test_lift_the_hold_action_releases_it_and_leaves_a_trace(admin_client, admin_user, held, customer) -> None:
    data = {"action": "lift_hold", "_selected_action": [held.pk]}
    response = admin_client.post(reverse("admin:shop_wallet_changelist"), data, follow=True)
    assert messages_of(response) == ["1 holds lifted; new orders are accepted again."]
    held.refresh_from_db()
    assert held.hold_reason == ""
    trace = LogEntry.objects.get(object_id=str(held.pk))
    assert trace.user == admin_user and "Lifted the hold: Top-up #7 was reversed" in trace.get_change_message()


def test_lift_the_hold_button_on_the_wallet_page(admin_client, held, customer) -> None:
    page = admin_client.get(reverse("admin:shop_wallet_change", args=[held.pk])).content.decode()
    assert "Top-up #7 was reversed" in page and 'id="wallet-lift-hold"' in page
    url = reverse("admin:shop_wallet_lift_hold", args=[held.pk])
    assert admin_client.get(url).status_code == 405
    assert messages_of(admin_client.post(url, follow=True)) == [f"{customer}: the hold is lifted; new orders are accepted again."]
    assert messages_of(admin_client.post(url, follow=True)) == [f"{customer}: the balance was not on hold."]
    assert Wallet.objects.get(pk=held.pk).hold_reason == ""


def test_staff_without_the_permission_cannot_lift_a_hold(held) -> None:
    reader = staff_client("view_wallet")
    page = reader.get(reverse("admin:shop_wallet_change", args=[held.pk])).content.decode()
    assert "Top-up #7 was reversed" in page and 'id="wallet-lift-hold"' not in page
    assert reader.post(reverse("admin:shop_wallet_lift_hold", args=[held.pk])).status_code == 403
    reader.post(reverse("admin:shop_wallet_changelist"), {"action": "lift_hold", "_selected_action": [held.pk]})
    assert Wallet.objects.get(pk=held.pk).hold_reason != ""


def test_customer_page_shows_the_hold_with_the_way_to_lift_it(admin_client, held, customer) -> None:
    html = admin_client.get(reverse("admin:auth_user_change", args=[customer.pk])).content.decode()
    assert "Balance on hold: Top-up #7 was reversed" in html
    assert reverse("admin:shop_wallet_change", args=[held.pk]) in html
    other = UserFactory(username="free")
    assert "Balance on hold" not in admin_client.get(reverse("admin:auth_user_change", args=[other.pk])).content.decode()


def owing(customer, manual) -> TopUp:
    """A paid top-up whose full refund the balance could not cover: 103.00 owed, the balance on hold."""
    from shop.payments.crediting import topup_report_apply, topup_staff_credit
    from shop.payments.interface import Report, ReportState
    from shop.wallet.services import wallet_adjust

    row = topup(customer, manual, gateway_id="g-owing")
    topup_staff_credit(topup=row, staff=UserFactory(is_staff=True))
    wallet_adjust(user=customer, amount=Decimal("103"), direction="debit", reason="spent", admin=UserFactory(is_staff=True))
    topup_report_apply(method=manual, report=Report(state=ReportState.REVERSED, gateway_id="g-owing", reversed_total=Decimal("100")))
    row.refresh_from_db()
    assert row.reversal_owed == Decimal("103")
    return row


def test_an_owed_reversal_shows_collect_and_write_off_and_collect_takes_it_once_the_balance_covers_it(
    admin_client, customer, manual
) -> None:
    row = owing(customer, manual)
    page = admin_client.get(change_url(row)).content.decode()
    assert 'id="topup-collect"' in page and 'id="topup-write-off"' in page
    collect = reverse("admin:shop_topup_collect", args=[row.pk])
    assert admin_client.get(collect).status_code == 405
    refused = admin_client.post(collect, follow=True)
    assert "cannot cover the 103.0000 USD owed yet" in " ".join(messages_of(refused))
    wallet_credit(user=customer, amount=Decimal("110"), kind=LedgerEntry.Kind.DEPOSIT)
    done = admin_client.post(collect, follow=True)
    assert "the owed reversal was taken from the balance" in " ".join(messages_of(done))
    assert Wallet.objects.get(user=customer).balance == Decimal("107") and Wallet.objects.get(user=customer).hold_reason == ""
    again = admin_client.post(collect, follow=True)
    assert "owes nothing" in " ".join(messages_of(again))
    assert Wallet.objects.get(user=customer).balance == Decimal("107")


def test_write_off_asks_a_reason_and_lifts_the_hold(admin_client, admin_user, customer, manual) -> None:
    row = owing(customer, manual)
    url = reverse("admin:shop_topup_write_off", args=[row.pk])
    assert "Write off the 103.0000 USD" in admin_client.get(url).content.decode()
    blank = admin_client.post(url, {"reason": "  "})
    assert blank.status_code == 200 and TopUp.objects.get(pk=row.pk).reversal_owed == Decimal("103")
    admin_client.post(url, {"reason": "Settled by bank transfer."})
    row.refresh_from_db()
    assert row.reversal_owed == 0 and Wallet.objects.get(user=customer).hold_reason == ""
    event = row.events.last()
    assert (event.kind, event.actor_user_id, event.detail["reason"]) == ("written_off", admin_user.pk, "Settled by bank transfer.")


def test_staff_without_the_permission_cannot_collect_or_write_off(customer, manual) -> None:
    row = owing(customer, manual)
    client = staff_client("view_topup")
    assert 'id="topup-collect"' not in client.get(change_url(row)).content.decode()
    assert client.post(reverse("admin:shop_topup_collect", args=[row.pk])).status_code == 403
    assert client.post(reverse("admin:shop_topup_write_off", args=[row.pk]), {"reason": "x"}).status_code == 403
    assert TopUp.objects.get(pk=row.pk).reversal_owed == Decimal("103")
