"""Forms of the customer pages. They parse input; the services decide."""

from __future__ import annotations

from uuid import UUID

from django import forms

from shop.core import forms as core_forms
from shop.orders.types import LABELS, MAX_LINES, MAX_LINK

TEXT_LIMIT = MAX_LINES * 502


class OrderForm(forms.Form):
    """Every field any service type can take; which ones apply is the service's type (order_types.TYPES)."""

    # One per rendered form: a second submission of it (double click, Back then submit) places nothing more.
    # A plain Field: CharField's own checks (NUL, length) would refuse the whole form over a mangled hidden value.
    form_token = forms.Field(required=False, widget=forms.HiddenInput)
    service = core_forms.IntegerField(
        min_value=1, max_value=2**62, widget=forms.HiddenInput, error_messages={"required": "Choose a service."}
    )
    link = forms.CharField(
        label=LABELS["link"], required=False, max_length=MAX_LINK, widget=forms.URLInput(attrs={"placeholder": "https://"})
    )
    quantity = forms.CharField(label=LABELS["quantity"], required=False, max_length=20, widget=forms.NumberInput(attrs={"min": 1}))
    comments = forms.CharField(
        label="Comments (one per line)", required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 5})
    )
    usernames = forms.CharField(
        label="Usernames (one per line)", required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 4})
    )
    hashtags = forms.CharField(
        label="Hashtags (one per line)", required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 3})
    )
    hashtag = forms.CharField(label=LABELS["hashtag"], required=False, max_length=101)
    username = forms.CharField(label=LABELS["username"], required=False, max_length=101)
    media = forms.CharField(label=LABELS["media"], required=False, max_length=MAX_LINK)
    answer_number = forms.CharField(label=LABELS["answer_number"], required=False, max_length=5)
    groups = forms.CharField(label="Groups (one per line)", required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 3}))
    keywords = forms.CharField(
        label="Keywords (one per line)", required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 3})
    )
    dripfeed = forms.BooleanField(label="Drip-feed", required=False)
    runs = forms.CharField(label=LABELS["runs"], required=False, max_length=6, widget=forms.NumberInput(attrs={"min": 2}))
    interval = forms.CharField(label="Interval (minutes)", required=False, max_length=6, widget=forms.NumberInput(attrs={"min": 1}))

    def clean_form_token(self) -> UUID | None:
        """A token that is not one the shop made (tampered, truncated) counts as none: the order is still placed once."""
        token = self.cleaned_data["form_token"]
        try:
            return UUID(token) if isinstance(token, str) and len(token) <= 64 else None
        except ValueError:
            return None

    def placement_data(self) -> dict[str, object]:
        """The cleaned values as ``order_place`` takes them (drip-feed fields only when ticked)."""
        data = dict(self.cleaned_data)
        data.pop("service")
        data["form_token"] = data.pop("form_token", None)
        if not data.pop("dripfeed"):
            data.pop("runs")
            data.pop("interval")
        return {name: value for name, value in data.items() if value not in ("", None) or name == "form_token"}


class OrderSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    status = forms.CharField(required=False, max_length=20)


class ServiceFilterForm(forms.Form):
    category = core_forms.IntegerField(required=False, min_value=1, max_value=2**62)
    q = forms.CharField(required=False, max_length=100)
