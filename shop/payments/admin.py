"""Admin for payment methods (write-only credentials, checked settings, notification URL) and top-ups (read-only, credit or reject).

Top-ups change only through ``shop.payments.crediting``: the buttons and actions
here parse the request, check the staff member's permission and call it.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Q, QuerySet, Value
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from unfold.decorators import display
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldAdminURLInputWidget

from shop.backoffice.links import customer_link
from shop.core import forms as core_forms
from shop.core.admin import ReadOnlyAdmin, ShopAdmin
from shop.core.numbers import id_number
from shop.orders.admin import CustomerFilter
from shop.payments.admin_resolutions import TopUpResolutions
from shop.payments.models import PaymentMethod, TopUp, TopUpEvent, TopUpState
from shop.payments.selectors import needs_attention

Kind = PaymentMethod.Kind
# Unfold's label colours per top-up state (every state, as the order statuses' in shop/orders/admin.py).
TOPUP_LABELS = {
    TopUpState.PENDING: "info",
    TopUpState.REVIEW: "warning",
    TopUpState.PAID: "success",
    TopUpState.FAILED: "default",
    TopUpState.EXPIRED: "default",
    TopUpState.REJECTED: "danger",
}
GATEWAYS_WITH_KEYS = (Kind.STRIPE, Kind.CRYPTOMUS)
HISTORY_ROWS = 500
# A secret or restricted key, live or test (as the Stripe gateway reads its mode); a publishable key cannot create sessions.
STRIPE_SECRET_KEY = re.compile(r"^[sr]k_(live|test)_")


def _secret_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=UnfoldAdminPasswordWidget(attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the current one.",
    )


class PaymentMethodForm(forms.ModelForm):
    """The API key and the webhook secret are write-only: never rendered back, blank on edit keeps the stored one.

    No message quotes a secret: a refused form shows the field's rule only, and the field comes back empty.
    """

    new_api_key = _secret_field("API key")
    new_webhook_secret = _secret_field("Webhook secret")
    # Declared for Django 6's default scheme (https) without its deprecation warning.
    api_url = forms.URLField(
        label="API URL",
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text=PaymentMethod._meta.get_field("api_url").help_text,
        widget=UnfoldAdminURLInputWidget,
    )

    class Meta:
        model = PaymentMethod
        fields = [
            "name",
            "code",
            "kind",
            "is_enabled",
            "position",
            "currency",
            "min_amount",
            "max_amount",
            "fee_percent",
            "bonus_percent",
            "bonus_threshold",
            "instructions",
            "api_url",
            "merchant_id",
        ]
        field_classes = {
            name: core_forms.DecimalField for name in ("min_amount", "max_amount", "fee_percent", "bonus_percent", "bonus_threshold")
        }

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        if currency != settings.SHOP_CURRENCY:
            raise forms.ValidationError(f"Must be the shop's currency, {settings.SHOP_CURRENCY}: balances are kept in it.")
        return currency

    def clean_new_api_key(self) -> str:
        return _one_word(self.cleaned_data["new_api_key"])

    def clean_new_webhook_secret(self) -> str:
        return _one_word(self.cleaned_data["new_webhook_secret"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        low, high, fee = data.get("min_amount"), data.get("max_amount"), data.get("fee_percent")
        if low is not None and high is not None and low > high:
            self.add_error("max_amount", "The maximum must be at least the minimum.")
        if fee is not None and fee >= 100:
            self.add_error("fee_percent", "A fee must be below 100%: the customer would get nothing.")
        kind = data.get("kind") or self.instance.kind  # read-only once the method exists
        api_key = data.get("new_api_key") or self.instance.api_key
        webhook_secret = data.get("new_webhook_secret") or self.instance.webhook_secret
        if kind == Kind.STRIPE:
            if data.get("new_api_key") and not STRIPE_SECRET_KEY.match(data["new_api_key"]):
                self.add_error("new_api_key", "Stripe's secret key starts with sk_live_ or sk_test_ (rk_ for a restricted key), not pk_.")
            if data.get("new_webhook_secret") and not data["new_webhook_secret"].startswith("whsec_"):
                self.add_error("new_webhook_secret", "Stripe's webhook signing secret starts with whsec_.")
        if data.get("is_enabled"):
            if kind == Kind.SANDBOX and settings.PRODUCTION:
                self.add_error("is_enabled", "The sandbox gateway cannot be enabled in production: it credits without real money.")
            if kind in GATEWAYS_WITH_KEYS and not api_key:
                self.add_error("new_api_key", f"An enabled {Kind(kind).label} method needs its API key.")
            if kind == Kind.STRIPE and not webhook_secret:
                self.add_error("new_webhook_secret", "An enabled Stripe method needs its webhook signing secret.")
            if kind == Kind.CRYPTOMUS and not data.get("merchant_id", "").strip():
                self.add_error("merchant_id", "An enabled Cryptomus method needs its merchant id.")
        return data

    def save(self, commit: bool = True) -> PaymentMethod:
        method = super().save(commit=False)
        if self.cleaned_data.get("new_api_key"):
            method.api_key = self.cleaned_data["new_api_key"]
        if self.cleaned_data.get("new_webhook_secret"):
            method.webhook_secret = self.cleaned_data["new_webhook_secret"]
        if commit:
            method.save()
        return method


def _one_word(secret: str) -> str:
    if any(char.isspace() or not char.isprintable() for char in secret):
        raise forms.ValidationError("A key is one word of printable characters, without spaces.")
    return secret


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ShopAdmin):
    form = PaymentMethodForm
    list_display = [
        "name",
        "kind",
        "code",
        "is_enabled",
        "currency",
        "min_amount",
        "max_amount",
        "fee_percent",
        "bonus_percent",
        "key_set",
        "notification_url",
    ]
    list_filter = ["kind", "is_enabled"]
    search_fields = ["name", "code"]
    fieldsets = [
        (None, {"fields": ["name", "code", "kind", "is_enabled", "position"]}),
        ("Amounts", {"fields": ["currency", "min_amount", "max_amount", "fee_percent", "bonus_percent", "bonus_threshold"]}),
        (
            "Gateway",
            {
                "fields": [
                    "api_url",
                    "merchant_id",
                    "new_api_key",
                    "key_state",
                    "new_webhook_secret",
                    "webhook_secret_state",
                    "notification_url",
                ]
            },
        ),
        ("Manual transfer", {"fields": ["instructions"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PaymentMethod]:
        # The site's root as the admin reached it, for the absolute notification URL: display callables see the row only.
        return super().get_queryset(request).annotate(site_root=Value(request.build_absolute_uri("/")))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        states = ["key_state", "webhook_secret_state", "notification_url"]
        # Another kind would read the same notifications with another gateway's rules: a new method instead.
        return [*states, "kind"] if obj is not None else states

    @admin.display(description="key set", boolean=True)
    def key_set(self, method: PaymentMethod) -> bool:
        return method.has_api_key

    @admin.display(description="API key")
    def key_state(self, method: PaymentMethod) -> str:
        return "set (hidden)" if method.has_api_key else "not set"

    @admin.display(description="webhook secret")
    def webhook_secret_state(self, method: PaymentMethod) -> str:
        return "set (hidden)" if method.has_webhook_secret else "not set"

    @admin.display(description="notification URL")
    def notification_url(self, method: PaymentMethod) -> str:
        if not method.pk:
            return "Shown once the method is saved."
        if method.kind == Kind.MANUAL:
            return "None: staff credit manual transfers here."
        try:
            where = reverse("payment-notify", args=[method.code])
        except NoReverseMatch:  # a code written around the form's slug check: no URL would reach it
            return "None: the code is not a slug."
        return format_html("<code>{}</code>", getattr(method, "site_root", "/").rstrip("/") + where)


class NeedsAttentionFilter(admin.SimpleListFilter):
    """``?attention=yes``: the top-ups of ``needs_attention()``; any other value is refused with a message."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Needs attention")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[TopUp]) -> QuerySet[TopUp]:
        value = self.value()
        if value is None:
            return queryset
        if value != "yes":
            raise IncorrectLookupParameters("Its only choice is yes.")  # the message names the filter and its value
        return queryset.filter(needs_attention())


def _actor(event: TopUpEvent) -> str:
    if event.actor_user_id is not None:
        return f"{event.get_actor_display()}: {event.actor_user}"
    return event.get_actor_display()


@admin.register(TopUp)
class TopUpAdmin(TopUpResolutions, ReadOnlyAdmin):
    list_display = ["id", "customer", "method", "amount", "state_badge", "fee", "bonus", "gateway_id", "created_at", "paid_at"]
    list_filter = [NeedsAttentionFilter, "state", "method", CustomerFilter, "created_at"]
    search_fields = ["=gateway_id", "=gateway_payment", "=reference", "user__username", "user__email"]
    list_select_related = ["user", "method"]
    actions = ["credit_selected", "reject_selected"]
    readonly_fields = [*(f.name for f in TopUp._meta.fields), "history"]
    change_form_template = "admin/shop/topup/change_form.html"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[TopUp], search_term: str) -> tuple[QuerySet[TopUp], bool]:
        found, duplicates = super().get_search_results(request, queryset, search_term)
        # The public id (in the customer's URL and sent to the gateway) and the number, each an indexed exact lookup.
        term = search_term.strip().removeprefix("#")
        exact = Q()
        if (number := id_number(term)) is not None:
            exact |= Q(pk=number)
        try:
            exact |= Q(public_id=uuid.UUID(term))
        except ValueError:
            pass
        if exact:
            found = found | queryset.filter(exact)
        return found, duplicates

    @admin.display(description="customer", ordering="user__username")
    def customer(self, topup: TopUp) -> str:
        return customer_link(topup.user)

    @display(description="state", ordering="state", label=TOPUP_LABELS)
    def state_badge(self, topup: TopUp) -> tuple[str, str]:
        return topup.state, topup.get_state_display()

    @admin.display(description="history")
    def history(self, topup: TopUp) -> str:
        """Every event of the top-up, oldest first: what happened, who or what caused it, the state after, the facts."""
        events = topup.events.select_related("actor_user").order_by("id")[:HISTORY_ROWS]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                    event.get_kind_display(),
                    _actor(event),
                    event.state,
                    json.dumps(event.detail, ensure_ascii=False),
                )
                for event in events
            ),
        )
        head = "<thead><tr><th>When</th><th>What</th><th>Who</th><th>State after</th><th>Detail</th></tr></thead>"
        return format_html('<table class="topup-history">{}<tbody>{}</tbody></table>', mark_safe(head), rows)  # noqa: S308
