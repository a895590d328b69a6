"""Editable admin lists that render fast: each kind of field rendered once per page, then stamped per row (issue 16).

The retail services list edits four fields on each of its 100 rows; Django renders every one of those
400 widgets through its template, 0.7 ms each with unfold's: most of the page's time. A stamped widget
renders its template once for each shape (the widget's class and template, its attributes but the id,
whether it has a value, the language) with markers for the name, id and value, and then fills the
markers of each row with its own, escaped as the template would have. ``tests/core/test_widgets.py``
checks that the stamped output is the template's, value for value.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

NAME, ID, VALUE = "__stamp_name__", "__stamp_id__", "__stamp_value__"
STAMPS_KEPT = 256


class StampedWidget:
    """A mixin for a widget whose template shows its name, id and value only as they are (no filter changes them)."""

    _stamps: dict[tuple[Any, ...], str]

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        context = self.get_context(name, value, attrs)  # type: ignore[attr-defined]
        widget = context["widget"]
        shown_id, shown_value = widget["attrs"].get("id"), widget["value"]
        if not (isinstance(name, str) and isinstance(shown_id, str | None) and isinstance(shown_value, str | None)):
            return self._render(self.template_name, context, renderer)  # type: ignore[attr-defined]
        try:
            attrs_key = tuple(sorted((key, str(item)) for key, item in widget["attrs"].items() if key != "id"))
        except TypeError:
            return self._render(self.template_name, context, renderer)  # type: ignore[attr-defined]
        key = (self.template_name, attrs_key, shown_id is None, shown_value is None, get_language(), id(renderer))  # type: ignore[attr-defined]
        stamp = self._stamps.get(key)
        if stamp is None:
            widget["name"] = NAME
            if shown_id is not None:
                widget["attrs"]["id"] = ID
            if shown_value is not None:
                widget["value"] = VALUE
            stamp = str(self._render(self.template_name, context, renderer))  # type: ignore[attr-defined]
            if len(self._stamps) < STAMPS_KEPT:
                self._stamps[key] = stamp
        html = stamp.replace(NAME, escape(name))
        if shown_id is not None:
            html = html.replace(ID, escape(shown_id))
        if shown_value is not None:
            html = html.replace(VALUE, escape(shown_value))
        return mark_safe(html)  # noqa: S308 - the template's own output, the filled values escaped


_stamped: dict[type, type] = {}


def stamped(widget_class: type[forms.Widget]) -> type[forms.Widget]:
    """``widget_class`` with ``StampedWidget``'s rendering (one class per widget class, sharing its stamps)."""
    made = _stamped.get(widget_class)
    if made is None:
        made = _stamped[widget_class] = type(f"Stamped{widget_class.__name__}", (StampedWidget, widget_class), {"_stamps": {}})
    return made


def stamp_fields(form: forms.BaseForm, names: list[str]) -> None:
    """Give the fields ``names`` of ``form`` (its own copies) stamped widgets."""
    for field_name in names:
        field = form.fields.get(field_name)
        if field is not None and not isinstance(field.widget, StampedWidget):
            field.widget.__class__ = stamped(type(field.widget))
