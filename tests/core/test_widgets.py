"""Stamped widgets render what their templates render, value for value (shop.core.widgets)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from shop.catalogue.admin import ServiceAdmin
from shop.core.widgets import StampedWidget, stamped
from shop.models import Service
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

VALUES = [None, "", "0", "12.5000", "-3", "a<b>&\"'", "__stamp_value__x", "7"]


def editable_form(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    return ServiceAdmin(Service, admin.site).get_changelist_form(request)(prefix="form-0")


@pytest.mark.parametrize("value", VALUES)
def test_every_editable_field_renders_as_its_template(rf, admin_user, value) -> None:
    form = editable_form(rf, admin_user)
    for name in ServiceAdmin.list_editable:
        widget = form.fields[name].widget
        assert isinstance(widget, StampedWidget), name
        template_render = type(widget).__mro__[2].render  # the widget's own class, past the stamping mixin
        for attrs in ({"id": f"id_form-3-{name}"}, {"id": 'x"<y'}, None):
            for shown in (value, True, False) if name == "is_enabled" else (value,):
                expected = template_render(widget, f"form-3-{name}", shown, attrs)
                assert widget.render(f"form-3-{name}", shown, attrs) == expected, (name, shown, attrs)
                assert widget.render(f"form-3-{name}", shown, attrs) == expected  # from the stamp now


def test_stamped_classes_are_made_once_per_widget_class() -> None:
    from django import forms

    assert stamped(forms.NumberInput) is stamped(forms.NumberInput)
    assert issubclass(stamped(forms.NumberInput), forms.NumberInput)


def test_the_retail_services_list_saves_inline_edits(admin_client) -> None:
    service = ServiceFactory()
    page = admin_client.get(reverse("admin:shop_service_changelist"))
    assert 'name="form-0-markup_percent"' in page.content.decode()
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(service.pk),
        "form-0-markup_percent": "25",
        "form-0-fixed_rate": "",
        "form-0-is_enabled": "on",
        "form-0-position": "4",
        "_save": "Save",
    }
    admin_client.post(reverse("admin:shop_service_changelist"), data)
    service.refresh_from_db()
    assert (str(service.markup_percent), service.is_enabled, service.position) == ("25.00", True, 4)
