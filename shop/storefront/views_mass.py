"""The mass order page: write orders one a line, preview each line's price or error, then place them all at once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID, uuid4

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from django.views.decorators.http import require_http_methods

from shop.orders.mass import BatchPlaced, LineResult, MassPreview, NothingToPlace, PreviewChanged, TooManyLines, mass_place, mass_preview
from shop.storefront.forms import web_wording
from shop.storefront.forms_mass import MassOrderForm
from shop.storefront.templatetags.shop_format import format_money
from shop.wallet.selectors import balance_of, hold_of
from shop.wallet.services import InsufficientFunds, WalletOnHold

# Marked here, translated where it is shown (a plain str, as the tests read it).
PREVIEW_CHANGED = gettext_noop("Prices or services changed since your preview: check the new total and place again. Nothing was placed.")


@dataclass(frozen=True)
class Row:
    """One previewed line as the table shows it."""

    number: int
    service: str
    link: str
    quantity: str
    charge: Decimal | None
    error: str


@dataclass(frozen=True)
class Problem:
    """Why nothing was placed, shown above the preview; ``add_funds``: the balance is short (the page links to Add funds)."""

    text: str
    add_funds: bool = False


@login_required
@require_http_methods(["GET", "POST"])
def order_mass(request: HttpRequest) -> HttpResponse:
    form = MassOrderForm(request.POST or None)
    if request.method == "GET":
        return render(request, "shop/order_mass.html", {"form": form})
    if not form.is_valid():
        return render(request, "shop/order_mass.html", {"form": form}, status=400)
    text, problem = form.cleaned_data["orders"], None
    try:
        if "place" in request.POST:
            outcome = _place(request, text, form.cleaned_data["batch"], form.cleaned_data["digest"])
            if isinstance(outcome, HttpResponse):
                return outcome
            problem = outcome
        preview = mass_preview(user=request.user, text=text)
    except TooManyLines as exc:
        form.add_error("orders", str(exc))
        return render(request, "shop/order_mass.html", {"form": form}, status=400)
    return render(request, "shop/order_mass.html", _preview_context(request, form, text, preview, problem))


def _place(request: HttpRequest, text: str, batch: UUID | None, digest: str | None) -> HttpResponse | Problem:
    """Place the previewed batch and go to the orders, or say why nothing was placed."""
    if batch is None or digest is None:
        return Problem(_("Check the preview below, then place the orders."))
    try:
        placed = mass_place(user=request.user, text=text, batch=batch, confirmed=digest)
    except BatchPlaced as exc:
        messages.info(
            request,
            ngettext(
                "These orders were already placed (%(count)s order). Nothing more was charged.",
                "These orders were already placed (%(count)s orders). Nothing more was charged.",
                exc.orders,
            )
            % {"count": exc.orders},
        )
        return redirect("orders")
    except InsufficientFunds as exc:
        needed, balance, currency = format_money(exc.needed), format_money(exc.available), settings.SHOP_CURRENCY
        short = format_money(exc.needed - exc.available)
        return Problem(
            _("These orders cost %(needed)s and your balance is %(balance)s: add %(short)s %(currency)s to place them. Nothing was placed.")
            % {"needed": needed, "balance": balance, "short": short, "currency": currency},
            True,
        )
    except WalletOnHold as exc:
        return Problem(_("New orders are paused: %(reason)s Please contact support. Nothing was placed.") % {"reason": exc.reason})
    except PreviewChanged:
        return Problem(_(PREVIEW_CHANGED))
    except NothingToPlace:
        return Problem(_("No line can be ordered: nothing was placed. Correct the lines and preview again."))
    total = format_money(sum((order.charge for order in placed), Decimal("0")))
    count = len(placed)
    messages.success(
        request,
        ngettext("%(count)s order placed, total %(total)s %(currency)s.", "%(count)s orders placed, total %(total)s %(currency)s.", count)
        % {"count": count, "total": total, "currency": settings.SHOP_CURRENCY},
    )
    return redirect("orders")


def _preview_context(request: HttpRequest, form: MassOrderForm, text: str, preview: MassPreview, problem: Problem | None) -> dict:
    balance = balance_of(user=request.user)
    total = preview.total
    return {
        "form": form,
        "text": text,
        "batch": uuid4(),  # a new preview, a new batch: placing it twice places it once
        "digest": preview.digest,  # what the customer confirms: placing checks the lines and prices are still these
        "rows": [_row(result) for result in preview.lines],
        "valid": len(preview.valid),
        "refused": [result.line.number for result in preview.refused],
        "total": total,
        "balance": balance,
        "short": max(total - balance, Decimal("0")),
        "hold": hold_of(user=request.user),
        "problem": problem,
    }


def _row(result: LineResult) -> Row:
    line, order = result.line, result.order
    service = f"#{line.service_id}" if line.service_id is not None else ""
    if result.service is not None:
        service = f"#{result.service.pk} {result.service.name}"
    quantity = str(order.total_quantity) if order is not None else line.quantity
    error = web_wording(result.rejected) if result.rejected is not None else ""
    return Row(line.number, service, order.link if order is not None else line.link, quantity, order.charge if order else None, error)
