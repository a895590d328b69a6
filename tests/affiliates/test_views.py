"""The referral link and the affiliates page: a visit through a link marks the browser for 30 days, a sign-up there is
attributed, one's own link marks nothing; the page shows the link and figures, and pays out."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse

from shop.affiliates.models import AffiliateLink, Referral, ReferralEarning
from shop.affiliates.services import affiliate_link_of, referral_attach
from shop.affiliates.views import REFERRAL_COOKIE, REFERRAL_WINDOW
from shop.payments.crediting import topup_create, topup_staff_credit
from shop.payments.models import PaymentMethod
from tests.accounts.test_views import sign_up
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_following_a_link_counts_it_and_marks_the_browser_for_30_days(client) -> None:
    link = affiliate_link_of(user=UserFactory(username="alice"))
    response = client.get(reverse("referral-landing", args=[link.code]))
    assert response.status_code == 302 and response["Location"] == reverse("signup")
    cookie = response.cookies[REFERRAL_COOKIE]
    assert cookie["max-age"] == int(REFERRAL_WINDOW.total_seconds()) and cookie["httponly"]
    assert AffiliateLink.objects.get(pk=link.pk).clicks == 1


def test_a_sign_up_after_following_a_link_is_attributed_to_its_owner(client) -> None:
    alice = UserFactory(username="alice")
    client.get(reverse("referral-landing", args=[affiliate_link_of(user=alice).code]))
    sign_up(client, "newbie", "new@example.com")
    assert Referral.objects.get().referrer == alice and Referral.objects.get().referee.username == "newbie"


def test_a_sign_up_without_a_link_or_with_a_forged_cookie_is_nobodys(client) -> None:
    alice = UserFactory(username="alice")
    client.cookies[REFERRAL_COOKIE] = affiliate_link_of(user=alice).code  # unsigned: not the shop's
    sign_up(client, "newbie", "new@example.com")
    assert not Referral.objects.exists()


def test_an_unknown_code_marks_nothing_and_ones_own_link_signed_in_marks_nothing(client) -> None:
    response = client.get(reverse("referral-landing", args=["nope"]))
    assert response.status_code == 302 and REFERRAL_COOKIE not in response.cookies
    alice = UserFactory(username="alice")
    client.force_login(alice)
    own = client.get(reverse("referral-landing", args=[affiliate_link_of(user=alice).code]))
    assert own.status_code == 302 and own["Location"] == reverse("home") and REFERRAL_COOKIE not in own.cookies


def test_the_page_shows_the_link_and_figures_and_pays_out(client) -> None:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    referral_attach(referee=bob, code=affiliate_link_of(user=alice).code)
    manual = PaymentMethod.objects.create(
        code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank", is_enabled=True, currency=settings.SHOP_CURRENCY
    )
    topup = topup_create(user=bob, method=manual, amount="300", reference="TRX", urls=lambda topup: None)
    topup_staff_credit(topup=topup, staff=UserFactory(is_staff=True, is_superuser=True))
    client.force_login(alice)
    html = client.get(reverse("affiliates")).content.decode()
    shown = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)  # a random token may hold any three letters
    assert f"/r/{affiliate_link_of(user=alice).code}/" in html and "bo•••" in html and "bob" not in shown.replace("bo•••", "")
    assert "Move 15.00" in html
    paid = client.post(reverse("affiliates-payout"), follow=True)
    assert "15.00 added to your balance." in paid.content.decode()
    assert ReferralEarning.objects.get().payout is not None
    again = client.post(reverse("affiliates-payout"), follow=True)
    assert "no earnings to pay out" in again.content.decode()
    assert client.get(reverse("affiliates-payout")).status_code == 405


def test_visitors_are_sent_to_log_in(client) -> None:
    for name in ("affiliates", "affiliates-payout"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
