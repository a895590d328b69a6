"""The referral link (``/r/<code>/``) and the customer's affiliates page with its payout button.

Following a link stores its code in a signed cookie for ``REFERRAL_WINDOW``; a sign-up in that browser within
the window is attributed to the link's owner (``shop.accounts.views.signup``). A customer following their own
link, signed in, sets nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from shop.affiliates.selectors import affiliate_summary, masked
from shop.affiliates.services import PayoutRefused, affiliate_link_of, referral_click, referral_payout
from shop.catalogue.models import ShopSettings
from shop.storefront.templatetags.shop_format import format_money

REFERRAL_COOKIE = "ref"
REFERRAL_SALT = "shop.affiliates.referral"
REFERRAL_WINDOW = timedelta(days=30)


def referral_code_of(request: HttpRequest) -> str | None:
    """The code of the link this browser followed within the window, if any (the cookie is signed: it cannot be forged)."""
    return request.get_signed_cookie(REFERRAL_COOKIE, default=None, salt=REFERRAL_SALT, max_age=REFERRAL_WINDOW)


@require_GET
def referral_landing(request: HttpRequest, code: str) -> HttpResponse:
    link = referral_click(code=code)
    response = redirect("signup" if not request.user.is_authenticated else "home")
    own = link is not None and request.user.is_authenticated and link.user_id == request.user.pk
    if link is not None and not own:
        response.set_signed_cookie(
            REFERRAL_COOKIE,
            link.code,
            salt=REFERRAL_SALT,
            max_age=int(REFERRAL_WINDOW.total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


@login_required
@require_GET
def affiliates(request: HttpRequest) -> HttpResponse:
    summary = affiliate_summary(link=affiliate_link_of(user=request.user))
    shop_settings = ShopSettings.load()
    return render(
        request,
        "affiliates/affiliates.html",
        {
            "summary": summary,
            "url": request.build_absolute_uri(f"/r/{summary.link.code}/"),
            "earnings": [(earning, masked(earning.referral.referee)) for earning in summary.earnings],
            "percent": shop_settings.referral_percent,
            "minimum": shop_settings.referral_payout_minimum,
            "can_pay_out": summary.unpaid >= shop_settings.referral_payout_minimum and summary.unpaid > 0,
        },
    )


@login_required
@require_POST
def affiliates_payout(request: HttpRequest) -> HttpResponse:
    try:
        payout = referral_payout(referrer=request.user)
    except PayoutRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(amount)s added to your balance.") % {"amount": format_money(payout.amount)})
    return redirect("affiliates")
