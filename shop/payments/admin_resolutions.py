"""Staff resolutions of top-ups in admin: credit or reject one under review, collect or write off a reversal left owed.

Buttons on the change page (POST only, CSRF) and bulk actions, for staff with
``shop.change_topup``; each parses the request and calls ``shop.payments.crediting``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from unfold.widgets import UnfoldAdminTextareaWidget

from shop.payments.crediting import (
    Outcome,
    TopUpRefused,
    topup_owed_collect,
    topup_owed_write_off,
    topup_staff_credit,
    topup_staff_reject,
)
from shop.payments.models import PaymentMethod, TopUp, TopUpState

RESOLVE_PERMISSION = "shop.change_topup"
REASON_MAX = 500  # as TopUp.attention_reason and topup_staff_reject


def topup_resolvable(topup: TopUp) -> bool:
    """Whether staff may credit or reject ``topup``: under review, or a manual transfer still pending.

    A gateway's pending payment is the gateway's to decide: rejecting it would leave a later payment uncredited.
    """
    return topup.state == TopUpState.REVIEW or (topup.state == TopUpState.PENDING and topup.method.kind == PaymentMethod.Kind.MANUAL)


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="The customer sees it with the top-up. Nothing is credited.",
    )


class WriteOffForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Why the shop gives up what the reversal left owed (e.g. paid back outside the shop). Nothing is debited.",
    )


class TopUpResolutions:
    """The resolution views of ``TopUpAdmin`` (a ``ModelAdmin``)."""

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RESOLVE_PERMISSION)

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/credit/", self.admin_site.admin_view(self.credit_view), name=f"{info}_credit"),
            path("<path:object_id>/reject/", self.admin_site.admin_view(self.reject_view), name=f"{info}_reject"),
            path("<path:object_id>/collect/", self.admin_site.admin_view(self.collect_view), name=f"{info}_collect"),
            path("<path:object_id>/write-off/", self.admin_site.admin_view(self.write_off_view), name=f"{info}_write_off"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        topup = self.get_object(request, object_id)
        extra = {"resolvable": topup is not None and topup_resolvable(topup), "may_resolve": self.has_resolve_permission(request)}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _resolving(self, request: HttpRequest, object_id: str) -> TopUp:
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        topup = self.get_object(request, object_id)
        if topup is None:
            raise Http404(f"No top-up with id {object_id[:40]!r}.")
        return topup

    def _back(self, topup: TopUp) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[topup.pk]))

    def _not_resolvable(self, request: HttpRequest, topup: TopUp, what: str) -> None:
        self.message_user(
            request,
            f"Top-up #{topup.pk} is {topup.get_state_display().lower()}: nothing was {what}. "
            "Only a top-up under review or a pending manual transfer can be credited or rejected.",
            messages.WARNING,
        )

    def credit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":  # a link or a prefetch never credits
            return HttpResponseNotAllowed(["POST"])
        topup = self._resolving(request, object_id)
        self._credit_one(request, topup)
        return self._back(topup)

    def _credit_one(self, request: HttpRequest, topup: TopUp) -> bool:
        if not topup_resolvable(topup):
            self._not_resolvable(request, topup, "credited")
            return False
        if topup_staff_credit(topup=topup, staff=request.user) != Outcome.CREDITED:
            topup.refresh_from_db()  # changed since it was read: another click, or the gateway
            self._not_resolvable(request, topup, "credited")
            return False
        self.message_user(
            request, f"Top-up #{topup.pk} credited: {topup.credited} {topup.currency} added to {topup.user}'s balance.", messages.SUCCESS
        )
        return True

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        topup = self._resolving(request, object_id)
        if not topup_resolvable(topup):
            self._not_resolvable(request, topup, "rejected")
            return self._back(topup)
        form = RejectForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                topup_staff_reject(topup=topup, staff=request.user, reason=form.cleaned_data["reason"])
            except TopUpRefused as exc:  # a reason with control characters, or rejected or paid meanwhile
                form.add_error("reason" if topup.state in TopUpState.OPEN else None, str(exc))
            else:
                self.message_user(request, f"Top-up #{topup.pk} rejected: {topup.attention_reason}", messages.SUCCESS)
                return self._back(topup)
        return self._reject_page(request, form, [topup], single=True)

    def _reject_page(self, request: HttpRequest, form: RejectForm, topups: list[TopUp], *, single: bool) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": f"Reject top-up #{topups[0].pk}" if single else f"Reject {len(topups)} top-ups",
            "opts": self.opts,
            "form": form,
            "topups": topups,
            "single": single,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/shop/topup/reject.html", context)

    @admin.action(description="Credit the selected top-ups (under review or manual transfers)", permissions=["resolve"])
    def credit_selected(self, request: HttpRequest, queryset: QuerySet[TopUp]) -> None:
        credited = sum(self._credit_one(request, topup) for topup in queryset.select_related("user", "method").order_by("pk"))
        if credited > 1:
            self.message_user(request, f"{credited} top-ups credited.", messages.SUCCESS)

    @admin.action(description="Reject the selected top-ups (with one reason)", permissions=["resolve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[TopUp]) -> TemplateResponse | None:
        topups = list(queryset.select_related("user", "method").order_by("pk"))
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._reject_page(request, form, topups, single=False)
        rejected = 0
        for topup in topups:
            if not topup_resolvable(topup):
                self._not_resolvable(request, topup, "rejected")
                continue
            try:
                topup_staff_reject(topup=topup, staff=request.user, reason=form.cleaned_data["reason"])
            except TopUpRefused as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                rejected += 1
        if rejected:
            self.message_user(request, f"{rejected} top-ups rejected: {form.cleaned_data['reason'].strip()}", messages.SUCCESS)
        return None

    def collect_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Take what a reversal left owed from the balance, now that it covers it (all or nothing)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        topup = self._resolving(request, object_id)
        try:
            topup_owed_collect(topup=topup, staff=request.user)
        except TopUpRefused as exc:
            self.message_user(request, str(exc), messages.WARNING)
        else:
            self.message_user(request, f"Top-up #{topup.pk}: the owed reversal was taken from the balance.", messages.SUCCESS)
        return self._back(topup)

    def write_off_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Give up what a reversal left owed, with a reason; the hold lifts when nothing else is owed."""
        topup = self._resolving(request, object_id)
        if topup.reversal_owed <= 0:
            self.message_user(request, f"Top-up #{topup.pk} owes nothing.", messages.WARNING)
            return self._back(topup)
        form = WriteOffForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                topup_owed_write_off(topup=topup, staff=request.user, reason=form.cleaned_data["reason"])
            except TopUpRefused as exc:
                form.add_error("reason", str(exc))
            else:
                self.message_user(request, f"Top-up #{topup.pk}: the owed reversal was written off.", messages.SUCCESS)
                return self._back(topup)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Write off what top-up #{topup.pk} owes",
            "opts": self.opts,
            "form": form,
            "topups": [topup],
            "single": True,
            "write_off": True,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/shop/topup/reject.html", context)
