"""The customer's ticket forms. They parse what was typed; ``shop.support.services`` decides and writes."""

from __future__ import annotations

import re

from django import forms

from shop.core.numbers import id_number
from shop.support.models import BODY_MAX, SUBJECT_MAX, TicketCategory
from shop.support.services import MAX_ORDERS

ORDER_SEPARATORS = re.compile(r"[\s,;]+")
ORDERS_HELP = "Optional: the numbers of the orders this is about, e.g. 1203, 1207."


def _message_field() -> forms.CharField:
    return forms.CharField(
        label="Message",
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": "Write a message.", "max_length": f"The message is longer than {BODY_MAX} characters."},
    )


class TicketForm(forms.Form):
    subject = forms.CharField(
        max_length=SUBJECT_MAX,
        error_messages={"required": "Write a subject.", "max_length": f"The subject is longer than {SUBJECT_MAX} characters."},
    )
    category = forms.ChoiceField(choices=TicketCategory.choices, error_messages={"invalid_choice": "Choose a category."})
    orders = forms.CharField(label="Order numbers", required=False, max_length=400, help_text=ORDERS_HELP)
    message = _message_field()

    def clean_orders(self) -> list[int]:
        words = [word.removeprefix("#") for word in ORDER_SEPARATORS.split(self.cleaned_data["orders"]) if word]
        numbers = [id_number(word) for word in words]
        if any(number is None for number in numbers):
            raise forms.ValidationError("Write order numbers only, separated by commas, e.g. 1203, 1207.")
        unique = sorted({number for number in numbers if number is not None})
        if len(unique) > MAX_ORDERS:
            raise forms.ValidationError(f"A ticket can name at most {MAX_ORDERS} orders.")
        return unique


class ReplyForm(forms.Form):
    message = _message_field()
