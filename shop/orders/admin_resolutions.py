"""The two resolutions of an order that needs attention, as buttons on its admin page, and how long it has been stuck.

"Placed" records the provider's order id (found at the provider): the order goes on as pending.
"Not placed" fails it and refunds the whole charge. Each button posts (CSRF) a first time to
show what will happen, and the confirmation posts again to do it; superusers only, as the bulk
action. The work is ``shop.orders.flow``'s, which records the admin on the order's history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import DateTimeField, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.timesince import timesince
from unfold.widgets import UnfoldAdminTextInputWidget

from shop.orders.flow import TransitionError, order_resolve_not_placed, order_resolve_placed
from shop.orders.models import Order, OrderEvent, OrderStatus

PLACED, NOT_PLACED = "placed", "not-placed"
RESOLVE_PERMISSION = "shop.resolve_order"


def needs_attention_since() -> Coalesce:
    """When each order last went to needs attention (its history's event), else its last update: per row, by the timeline index."""
    went = OrderEvent.objects.filter(order=OuterRef("pk"), status=OrderStatus.NEEDS_ATTENTION).order_by("-id").values("created_at")[:1]
    return Coalesce(Subquery(went, output_field=DateTimeField()), F("updated_at"))


def stuck_for(since: datetime | None, now: datetime | None = None) -> str:
    """How long since ``since``, in words ("3 hours, 12 minutes"); "" when unknown."""
    return timesince(since, now or timezone.now()) if since is not None else ""


class PlacedForm(forms.Form):
    upstream_order_id = forms.CharField(
        label="Provider's order id",
        max_length=64,
        widget=UnfoldAdminTextInputWidget,
        help_text="Found the order at the provider? Its id there: the order goes on as placed.",
    )


class OrderResolutions:
    """The resolution views of ``OrderAdmin`` (a ``ModelAdmin``)."""

    def has_resolve_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Money moves (a refund) or an order goes on upstream: the Support and Admin roles (shop.accounts.roles), superusers.
        return request.user.has_perm(RESOLVE_PERMISSION)

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/resolve/<str:outcome>/", self.admin_site.admin_view(self.resolve_view), name=f"{info}_resolve"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        order = self.get_object(request, object_id)
        extra: dict[str, Any] = {}
        if order is not None and order.status == OrderStatus.NEEDS_ATTENTION:
            since = self.get_queryset(request).filter(pk=order.pk).annotate(since=needs_attention_since()).values_list("since", flat=True)
            extra = {
                "attention": True,
                "stuck_for": stuck_for(since.first()),
                "may_resolve": self.has_resolve_permission(request, order),
                "placed_form": PlacedForm(),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _back(self, order: Order) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[order.pk]))

    def resolve_view(self, request: HttpRequest, object_id: str, outcome: str) -> HttpResponse:
        if request.method != "POST":  # a link or a prefetch never resolves
            return HttpResponseNotAllowed(["POST"])
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        if outcome not in (PLACED, NOT_PLACED):
            raise Http404(f"No such resolution: {outcome[:40]!r}.")
        order = self.get_object(request, object_id)
        if order is None:
            raise Http404(f"No order with id {object_id[:40]!r}.")
        if order.status != OrderStatus.NEEDS_ATTENTION:
            self.message_user(request, f"Order #{order.pk} no longer needs attention: nothing was changed.", messages.WARNING)
            return self._back(order)
        form = PlacedForm(request.POST) if outcome == PLACED else None
        if form is not None and not form.is_valid():
            return self._confirm_page(request, order, outcome, form)
        if "confirm" not in request.POST:
            return self._confirm_page(request, order, outcome, form)
        try:
            self._resolve(request, order, outcome, form)
        except TransitionError as exc:  # resolved meanwhile, or the id is another order's
            self.message_user(request, f"{exc} Nothing was changed.", messages.ERROR)
        return self._back(order)

    def _resolve(self, request: HttpRequest, order: Order, outcome: str, form: PlacedForm | None) -> None:
        if form is not None:
            upstream_id = form.cleaned_data["upstream_order_id"]
            order_resolve_placed(order=order, upstream_order_id=upstream_id, admin=request.user)
            self.log_change(request, order, f"Resolved: placed at the provider as {upstream_id}.")
            self.message_user(request, f"Order #{order.pk} recorded as placed (provider's id {upstream_id.strip()}).", messages.SUCCESS)
        else:
            order_resolve_not_placed(order=order, admin=request.user)
            self.log_change(request, order, "Resolved: not placed at the provider; refunded.")
            self.message_user(request, f"Order #{order.pk} declared not placed: {order.charge} refunded to {order.user}.", messages.SUCCESS)

    def _confirm_page(self, request: HttpRequest, order: Order, outcome: str, form: PlacedForm | None) -> TemplateResponse:
        placed = outcome == PLACED
        context = {
            **self.admin_site.each_context(request),
            "title": f"Record order #{order.pk} as placed" if placed else f"Declare order #{order.pk} not placed",
            "opts": self.opts,
            "original": order,
            "outcome": outcome,
            "placed": placed,
            "form": form,
        }
        return TemplateResponse(request, "admin/shop/order/resolve.html", context)

    @staticmethod
    def with_attention_since(queryset: QuerySet[Order]) -> QuerySet[Order]:
        return queryset.annotate(attention_since=needs_attention_since())
