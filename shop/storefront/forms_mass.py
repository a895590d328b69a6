"""The mass order form: the lines as written, the one-time token of the preview they were placed from, and its digest."""

from __future__ import annotations

import re
from uuid import UUID

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shop.orders.mass import MAX_ORDERS, MAX_TEXT

DIGEST = re.compile(r"[0-9a-f]{64}")
PLACEHOLDER = "12 | https://instagram.com/p/abc | 1000\n12 | 500 | https://instagram.com/p/def"


class MassOrderForm(forms.Form):
    orders = forms.CharField(
        label=lazy(lambda: gettext("Orders, one a line (at most %(max)s)") % {"max": MAX_ORDERS}, str)(),
        max_length=MAX_TEXT,
        help_text=_("service id | link | quantity, or service id | quantity | link. A package needs no quantity."),
        widget=forms.Textarea(attrs={"rows": 10, "placeholder": PLACEHOLDER, "spellcheck": "false", "autocomplete": "off"}),
        error_messages={
            "required": _("Write at least one order: service id | link | quantity."),
            "max_length": _("This text is too long."),
        },
    )
    # Made when the preview is shown; a plain Field so a mangled value counts as none rather than refusing the form.
    batch = forms.Field(required=False, widget=forms.HiddenInput)

    def clean_batch(self) -> UUID | None:
        token = self.cleaned_data["batch"]
        try:
            return UUID(token) if isinstance(token, str) and len(token) <= 64 else None
        except ValueError:
            return None

    # The preview's ``MassPreview.digest``, as the page showed it: anything else counts as none.
    digest = forms.Field(required=False, widget=forms.HiddenInput)

    def clean_digest(self) -> str | None:
        digest = self.cleaned_data["digest"]
        return digest if isinstance(digest, str) and DIGEST.fullmatch(digest) else None
