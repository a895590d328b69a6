"""The customer's refill requests: each with its order, service, when it was asked, its status and, if it failed, a note in plain words."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from shop.orders.display import REFILL_NOTES, REFILL_TONES
from shop.orders.selectors import refill_list_for_user
from shop.storefront.pagination import page_of

REFILLS_PER_PAGE = 25


@login_required
@require_GET
def refills(request: HttpRequest) -> HttpResponse:
    page = page_of(refill_list_for_user(user=request.user), request.GET.get("page"), REFILLS_PER_PAGE)
    # The note by status, never ``Refill.error``: that is the panel's raw text, for admins.
    rows = [(refill, REFILL_TONES.get(refill.status, "neutral"), REFILL_NOTES.get(refill.status, "")) for refill in page.object_list]
    return render(request, "shop/refills.html", {"page": page, "rows": rows})
