"""Forms of the customer pages. They parse input; the services decide."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from uuid import UUID

from django import forms
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from shop.core import forms as core_forms
from shop.orders.placement import OrderRejected
from shop.orders.subscriptions import DELAYS, MAX_OLD_POSTS, MAX_POSTS
from shop.orders.types import LABELS, MAX_LINES, MAX_LINK, Refusal
from shop.storefront.templatetags.shop_format import format_money

TEXT_LIMIT = MAX_LINES * 502

#: The order form's wording of the refusals whose API v2 wording is not for people (``Refusal``), with the
#: refusal's figures in braces. The page's script words its own checks with the same sentences (``order_config``,
#: in the page's language: translations keep the braces).
WEB_WORDING: dict[str, str] = {
    Refusal.BELOW_MIN: _("The minimum for this service is {min}."),
    Refusal.ABOVE_MAX: _("The maximum for this service is {max}."),
    Refusal.BAD_LINK: _("Enter the full link, starting with https://"),
    Refusal.NOT_ORDERABLE: _("This service is not available any more: choose another."),
    Refusal.SHORT_OF_FUNDS: _("This costs {charge} and your balance is {balance}."),
}


def web_wording(rejected: OrderRejected) -> str:
    """Why the order was refused, as the order form says it; the API keeps ``rejected.message``."""
    wording = WEB_WORDING.get(rejected.code)
    if wording is None:
        return rejected.message  # already written for people ("Quantity must be a whole number.", "Link is required.")
    return wording.format(**{name: _figure(value) for name, value in rejected.params.items()})


def _figure(value: object) -> str:
    """A figure as people read it, in the page's language: money with its places (``22.75``), a count grouped (``10,000``)."""
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return number_format(value, use_l10n=True, force_grouping=True)
    return str(value)


def _delay_choices() -> list[tuple[str, str]]:
    """The delays a subscription may wait after each post, worded when the form is shown (in the page's language)."""
    minutes = [(str(m), ngettext("%(count)s minute", "%(count)s minutes", m) % {"count": m}) for m in DELAYS if m]
    return [("", str(_("No delay"))), *minutes]


class OrderForm(forms.Form):
    """Every field any service type can take; which ones apply is the service's type (order_types.TYPES)."""

    # One per rendered form: a second submission of it (double click, Back then submit) places nothing more.
    # A plain Field: CharField's own checks (NUL, length) would refuse the whole form over a mangled hidden value.
    form_token = forms.Field(required=False, widget=forms.HiddenInput)
    service = core_forms.IntegerField(
        min_value=1, max_value=2**62, widget=forms.HiddenInput, error_messages={"required": _("Choose a service.")}
    )
    link = forms.CharField(
        label=LABELS["link"], required=False, max_length=MAX_LINK, widget=forms.URLInput(attrs={"placeholder": "https://"})
    )
    quantity = forms.CharField(label=LABELS["quantity"], required=False, max_length=20, widget=forms.NumberInput(attrs={"min": 1}))
    comments = forms.CharField(
        label=_("Comments (one per line)"), required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 5})
    )
    usernames = forms.CharField(
        label=_("Usernames (one per line)"), required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 4})
    )
    hashtags = forms.CharField(
        label=_("Hashtags (one per line)"), required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 3})
    )
    hashtag = forms.CharField(label=LABELS["hashtag"], required=False, max_length=101)
    username = forms.CharField(label=LABELS["username"], required=False, max_length=101)
    media = forms.CharField(label=LABELS["media"], required=False, max_length=MAX_LINK)
    answer_number = forms.CharField(label=LABELS["answer_number"], required=False, max_length=5)
    groups = forms.CharField(
        label=_("Groups (one per line)"), required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 3})
    )
    keywords = forms.CharField(
        label=_("Keywords (one per line)"), required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 3})
    )
    # Subscriptions: a username's next posts, between min and max on each.
    min = forms.CharField(label=_("Least per post"), required=False, max_length=20, widget=forms.NumberInput(attrs={"min": 1}))
    max = forms.CharField(
        label=_("Most per post"),
        required=False,
        max_length=20,
        widget=forms.NumberInput(attrs={"min": 1}),
        help_text=_("The charge reserves this much on every post."),
    )
    posts = forms.CharField(
        label=_("New posts"),
        required=False,
        max_length=6,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_POSTS}),
        help_text=_("How many new posts to deliver to."),
    )
    old_posts = forms.CharField(
        label=_("Recent posts too (optional)"),
        required=False,
        max_length=6,
        widget=forms.NumberInput(attrs={"min": 0, "max": MAX_OLD_POSTS}),
        help_text=_("Also deliver to this many of the latest posts already there."),
    )
    delay = forms.ChoiceField(label=_("Delay after each post"), required=False, choices=_delay_choices)
    expiry = forms.CharField(
        label=_("Stop on (optional)"),
        required=False,
        max_length=10,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("It ends on this date even if posts are left."),
    )
    dripfeed = forms.BooleanField(label=_("Drip-feed"), required=False)
    runs = forms.CharField(label=LABELS["runs"], required=False, max_length=6, widget=forms.NumberInput(attrs={"min": 2}))
    interval = forms.CharField(label=_("Interval (minutes)"), required=False, max_length=6, widget=forms.NumberInput(attrs={"min": 1}))
    short_of_funds = False  # refused for the balance: the page links to Add funds beside the message

    def clean_form_token(self) -> UUID | None:
        """A token that is not one the shop made (tampered, truncated) counts as none: the order is still placed once."""
        token = self.cleaned_data["form_token"]
        try:
            return UUID(token) if isinstance(token, str) and len(token) <= 64 else None
        except ValueError:
            return None

    def add_rejection(self, rejected: OrderRejected) -> None:
        """Show why ``order_place`` refused the order: next to its field, or above the form (the service, the balance)."""
        self.short_of_funds = rejected.code == Refusal.SHORT_OF_FUNDS
        field = next(iter(rejected.errors))  # one refusal at a time: the first wrong value
        self.add_error(field if field in self.fields and field != "service" else None, web_wording(rejected))

    def placement_data(self) -> dict[str, object]:
        """The cleaned values as ``order_place`` takes them (drip-feed fields only when ticked)."""
        data = dict(self.cleaned_data)
        data.pop("service")
        data["form_token"] = data.pop("form_token", None)
        if not data.pop("dripfeed"):
            data.pop("runs")
            data.pop("interval")
        return {name: value for name, value in data.items() if value not in ("", None) or name == "form_token"}


class OrderPrefill(forms.Form):
    """What a link to the order form may fill in (``?service=&link=&quantity=``, e.g. "Order again"); a bad value is left out."""

    link = forms.CharField(required=False, max_length=MAX_LINK)
    quantity = core_forms.IntegerField(required=False, min_value=1, max_value=10**12)

    @classmethod
    def initial(cls, data: Mapping[str, str]) -> dict[str, object]:
        form = cls(data)
        form.is_valid()  # cleaned_data keeps the fields that were valid
        return {name: value for name, value in form.cleaned_data.items() if value not in ("", None)}


class OrderSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    status = forms.CharField(required=False, max_length=20)


class ServiceFilterForm(forms.Form):
    category = core_forms.IntegerField(required=False, min_value=1, max_value=2**62)
    q = forms.CharField(required=False, max_length=100)
