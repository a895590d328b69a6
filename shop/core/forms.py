"""Form fields every domain uses: numbers typed with the digits 0-9 only (``numbers.other_digits``)."""

from __future__ import annotations

from typing import Any

from django import forms

from shop.core.numbers import DIGITS_ONLY, other_digits


class _DigitsOnly:
    """Refuse a value written with other scripts' digits before Django's own parsing reads it."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and other_digits(value):
            raise forms.ValidationError(DIGITS_ONLY, code="invalid")
        return super().to_python(value)  # type: ignore[misc]


class IntegerField(_DigitsOnly, forms.IntegerField):
    pass


class DecimalField(_DigitsOnly, forms.DecimalField):
    pass
