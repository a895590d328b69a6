"""The add funds form. It parses and checks what the customer typed; ``crediting.topup_create`` decides and writes."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.formats import get_format
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from shop.core.numbers import DIGITS_ONLY, other_digits
from shop.payments.models import PaymentMethod
from shop.payments.quotes import AmountRefused, topup_quote

# Digits and at most one point: "1e3", "NaN", "+5" and "5," are refused here, before Decimal() would read some of them.
AMOUNT_SHAPE = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,12})?")
DECIMAL_COMMA = re.compile(r"[0-9]{1,12},[0-9]{1,12}")
AMOUNT_HELP = gettext_noop("Enter an amount such as 25 or 25.50.")  # translated where it is shown


class TopUpForm(forms.Form):
    method = forms.ModelChoiceField(
        queryset=PaymentMethod.objects.none(),
        empty_label=None,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a payment method."),
            "invalid_choice": _("This payment method is not available: choose another."),
        },
    )
    amount = forms.CharField(
        label=_("Amount to pay"), max_length=20, widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    )
    reference = forms.CharField(
        label=_("Payment reference"),
        max_length=120,
        required=False,
        help_text=_("Manual transfer: the reference or transaction number of your transfer, so staff can find it."),
    )

    def __init__(self, *args: Any, methods: QuerySet[PaymentMethod], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["method"].queryset = methods  # only these can be chosen: a disabled or unknown id is a form error

    def clean_amount(self) -> str:
        text = self.cleaned_data["amount"].strip()
        if get_format("DECIMAL_SEPARATOR") == "," and DECIMAL_COMMA.fullmatch(text):
            text = text.replace(",", ".")  # "25,50" where the page writes a decimal comma; in English a comma stays refused
        if other_digits(text):
            raise forms.ValidationError(DIGITS_ONLY)
        if not AMOUNT_SHAPE.fullmatch(text):
            raise forms.ValidationError(gettext(AMOUNT_HELP))
        return text

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        method, amount = data.get("method"), data.get("amount")
        if method is None:
            return data
        if amount:
            try:
                data["quote"] = topup_quote(method=method, amount=amount)
            except AmountRefused as exc:
                self.add_error("amount", str(exc))
        if method.kind == PaymentMethod.Kind.MANUAL and not data.get("reference", "").strip():
            self.add_error("reference", gettext("Enter the reference of your transfer, so staff can find it."))
        return data
