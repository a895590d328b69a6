"""The customer's ticket forms. They parse what was typed; ``shop.support.services`` decides and writes."""

from __future__ import annotations

import re

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shop.core.numbers import id_number
from shop.support.models import BODY_MAX, SUBJECT_MAX, TicketCategory
from shop.support.services import MAX_ORDERS

ORDER_SEPARATORS = re.compile(r"[\s,;]+")
ORDERS_HELP = _("Optional: the numbers of the orders this is about, e.g. 1203, 1207.")


def _too_long(what: str, limit: int):
    """The error of a text over ``limit`` characters, worded when shown (in the page's language)."""
    if what == "subject":
        return lazy(lambda: gettext("The subject is longer than %(max)s characters.") % {"max": limit}, str)()
    return lazy(lambda: gettext("The message is longer than %(max)s characters.") % {"max": limit}, str)()


def _message_field() -> forms.CharField:
    return forms.CharField(
        label=_("Message"),
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": _("Write a message."), "max_length": _too_long("message", BODY_MAX)},
    )


class TicketForm(forms.Form):
    subject = forms.CharField(
        label=_("Subject"),
        max_length=SUBJECT_MAX,
        error_messages={"required": _("Write a subject."), "max_length": _too_long("subject", SUBJECT_MAX)},
    )
    category = forms.ChoiceField(
        label=_("Category"), choices=TicketCategory.choices, error_messages={"invalid_choice": _("Choose a category.")}
    )
    orders = forms.CharField(label=_("Order numbers"), required=False, max_length=400, help_text=ORDERS_HELP)
    message = _message_field()

    def clean_orders(self) -> list[int]:
        words = [word.removeprefix("#") for word in ORDER_SEPARATORS.split(self.cleaned_data["orders"]) if word]
        numbers = [id_number(word) for word in words]
        if any(number is None for number in numbers):
            raise forms.ValidationError(gettext("Write order numbers only, separated by commas, e.g. 1203, 1207."))
        unique = sorted({number for number in numbers if number is not None})
        if len(unique) > MAX_ORDERS:
            raise forms.ValidationError(gettext("A ticket can name at most %(max)s orders.") % {"max": MAX_ORDERS})
        return unique


class ReplyForm(forms.Form):
    message = _message_field()
