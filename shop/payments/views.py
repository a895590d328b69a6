"""The customer side of payments: add funds, a top-up's page (where gateways send the payer back) and history; gateways' notifications.

Thin views over ``shop.payments.crediting``. The top-up page and its status
JSON never credit: only a verified notification or a server-side status fetch
does. A notification is answered 400 when it fails verification, 503 when the
gateway cannot be asked about it (so it sends it again), else 200.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import urlsplit
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shop.payments import selectors
from shop.payments.crediting import TopUpRefused, topup_create, topup_report_apply
from shop.payments.forms import TopUpForm
from shop.payments.gateway import gateway_for
from shop.payments.interface import GatewayError, NotificationRejected, Urls
from shop.payments.models import PaymentMethod, TopUp, TopUpState
from shop.payments.quotes import cents
from shop.payments.tasks import topup_check_soon
from shop.storefront.pagination import page_of
from shop.storefront.templatetags.shop_format import format_money
from shop.wallet.selectors import balance_of

logger = logging.getLogger(__name__)

TOPUPS_PER_PAGE = 50
MAX_NOTIFICATION_BYTES = 64 * 1024
GATEWAY_DOWN = gettext_noop("The payment gateway did not answer; please try again or choose another method.")  # translated where shown
# How often a top-up's page asks for its state: soon while the payer is at the gateway, slowly while staff check it.
POLL_MS = {TopUpState.PENDING: 5_000, TopUpState.REVIEW: 30_000}


@login_required
@require_http_methods(["GET", "POST"])
def funds_add(request: HttpRequest) -> HttpResponse:
    methods = selectors.methods_offered()
    form = TopUpForm(request.POST or None, methods=methods)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            topup = topup_create(
                user=request.user,
                method=data["method"],
                amount=data["amount"],
                reference=data["reference"],
                urls=lambda topup: _urls(request, topup),
            )
        except TopUpRefused as exc:
            form.add_error(None, str(exc))
        except GatewayError as exc:
            logger.warning("top-up not started: gateway %s failed: %s", data["method"].code, exc)
            form.add_error(None, _(GATEWAY_DOWN))
        else:
            if urlsplit(topup.pay_url).scheme in {"http", "https"}:
                return redirect(topup.pay_url)
            if topup.state == TopUpState.REVIEW:
                messages.success(
                    request, _("Top-up #%(id)s sent: staff check your transfer and then credit your balance.") % {"id": topup.pk}
                )
            return redirect("topup-detail", public_id=topup.public_id)
    offered = list(methods)
    return render(
        request,
        "payments/funds_add.html",
        {
            "form": form,
            "methods": [(method, _terms(method)) for method in offered],
            "methods_data": [_method_json(method) for method in offered],
            "no_manual": all(method.kind != PaymentMethod.Kind.MANUAL for method in offered),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_GET
def topup_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The top-up's page, and where a gateway sends the payer back. It shows the state the database has; it never credits."""
    topup = _own_topup(request, public_id)
    return render(request, "payments/topup_detail.html", {"topup": topup, **_state(topup)})


@login_required
@require_GET
def topup_status_json(request: HttpRequest, public_id: UUID) -> JsonResponse:
    """The top-up's state for its page's live refresh. While pending, it may queue a server-side check (at most every 15 s)."""
    topup = _own_topup(request, public_id)
    if topup.state == TopUpState.PENDING:
        topup_check_soon(topup_id=topup.pk)
    balance = balance_of(user=request.user)
    return JsonResponse({**_state(topup), "balance": str(balance), "balance_text": f"{format_money(balance)} {settings.SHOP_CURRENCY}"})


@login_required
@require_GET
def topups(request: HttpRequest) -> HttpResponse:
    page = page_of(selectors.topups_for_user(user=request.user), request.GET.get("page"), TOPUPS_PER_PAGE)
    return render(request, "payments/topups.html", {"page": page, "rows": [(topup, _state(topup)) for topup in page.object_list]})


@csrf_exempt  # a gateway's server posts here; the signature check in verify() is what authenticates it
@require_POST
def payment_notify(request: HttpRequest, code: str) -> HttpResponse:
    method = selectors.method_by_code(code=code)
    if method is None:
        raise Http404("No such payment method.")
    if _content_length(request) > MAX_NOTIFICATION_BYTES or len(body := request.body) > MAX_NOTIFICATION_BYTES:
        logger.warning("payment notification for %s refused: body over %s bytes", method.code, MAX_NOTIFICATION_BYTES)
        return _plain("too large", status=400)
    try:
        reports = gateway_for(method).verify(method=method, body=body, headers=request.headers)
    except NotificationRejected as exc:
        logger.warning("payment notification for %s rejected: %s", method.code, exc)
        return _plain("rejected", status=400)
    except GatewayError as exc:  # the gateway could not be asked to confirm it: nothing written, it sends it again
        logger.warning("payment notification for %s not applied, gateway unavailable: %s", method.code, exc)
        return _plain("unavailable", status=503)
    applied = []
    for report in reports:
        outcome = topup_report_apply(method=method, report=report)
        applied.append(f"{report.state.value} {report.gateway_id or report.reference or '-'} -> {outcome.value}")
    logger.info("payment notification for %s: %s", method.code, ", ".join(applied) or "no reports")
    return _plain("ok")


def _own_topup(request: HttpRequest, public_id: UUID) -> TopUp:
    topup = selectors.topup_for_user(user=request.user, public_id=public_id)
    if topup is None:
        raise Http404("No such top-up.")
    return topup


def _urls(request: HttpRequest, topup: TopUp) -> Urls:
    return Urls(
        notify=request.build_absolute_uri(reverse("payment-notify", args=[topup.method.code])),
        back=request.build_absolute_uri(reverse("topup-detail", args=[topup.public_id])),
    )


def _state(topup: TopUp) -> dict[str, object]:
    """The top-up's state as the customer reads it (in the page's language), for its page, the history and the status JSON alike."""
    money = f"{format_money(topup.credited)} {topup.currency}"
    words = {
        TopUpState.PENDING: _("Waiting for your payment."),
        TopUpState.REVIEW: _("Being checked by staff. Your balance is credited when they confirm the payment."),
        TopUpState.PAID: _("Paid: %(amount)s added to your balance.") % {"amount": money},
        TopUpState.FAILED: _("The payment failed. Nothing was added to your balance."),
        TopUpState.EXPIRED: _("The payment expired before it was paid. Nothing was added to your balance."),
        # The reason is the staff member's own words, shown as they wrote it.
        TopUpState.REJECTED: _("Rejected by staff: %(reason)s.") % {"reason": topup.attention_reason.rstrip(".") or _("no reason given")},
    }
    label = _("Being checked") if topup.state == TopUpState.REVIEW else str(topup.get_state_display())
    return {
        "state": topup.state,
        "label": label,
        "text": words.get(topup.state, label),
        "open": topup.state in TopUpState.OPEN,
        "poll_ms": POLL_MS.get(topup.state, 0),
        "pay_url": topup.pay_url if topup.state == TopUpState.PENDING and topup.pay_url else "",
    }


def _terms(method: PaymentMethod) -> str:
    """A method's limits, fee and bonus in one line, e.g. "5.00 to 500.00 USD · fee 2.5% · bonus 10% from 50.00 USD"."""
    currency = method.currency
    terms = [
        _("%(min)s to %(max)s %(currency)s") % {"min": _amount(method.min_amount), "max": _amount(method.max_amount), "currency": currency},
        _("fee %(percent)s%%") % {"percent": _percent(method.fee_percent)},
    ]
    if method.bonus_percent:
        percent = _percent(method.bonus_percent)
        if method.bonus_threshold:
            threshold = _amount(method.bonus_threshold)
            terms.append(
                _("bonus %(percent)s%% from %(threshold)s %(currency)s")
                % {"percent": percent, "threshold": threshold, "currency": currency}
            )
        else:
            terms.append(_("bonus %(percent)s%%") % {"percent": percent})
    return " · ".join(terms)


def _amount(value: Decimal) -> str:
    """An amount with its 2 places, in the page's language's decimal mark (``5.00``, ``5,00``), ungrouped as before."""
    return number_format(cents(value), decimal_pos=2, use_l10n=True)


def _percent(value: Decimal) -> str:
    return number_format(f"{value.normalize():f}", use_l10n=True)


def _method_json(method: PaymentMethod) -> dict[str, object]:
    """What the add funds page's script needs to show a quote as ``quotes.topup_quote`` computes it."""
    return {
        "id": method.pk,
        "manual": method.kind == PaymentMethod.Kind.MANUAL,
        "currency": method.currency,
        "min": str(method.min_amount),
        "max": str(method.max_amount),
        "fee_percent": str(method.fee_percent),
        "bonus_percent": str(method.bonus_percent),
        "bonus_threshold": str(method.bonus_threshold),
    }


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _plain(text: str, *, status: int = 200) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
