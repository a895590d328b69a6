"""Other apps' admins registered again on unfold's classes: auth groups, allauth's email addresses and authenticators,
periodic tasks and their schedules, login attempts.

Their own ``ModelAdmin`` classes derive from Django's, so their pages would show half-styled
under the admin's theme. As unfold's docs recommend ("User & group models", "django-celery-beat"),
each is registered again as its own class with unfold's ``ModelAdmin`` mixed in, its inlines with
unfold's. The customers' (users') admin is the shop's own: ``shop/accounts/admin.py``.
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.auth.models import Group
from django.db.models import Model
from django.http import HttpRequest
from django_celery_beat.admin import PeriodicTaskForm, TaskSelectWidget
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

RESTYLED: tuple[type[Model], ...] = (
    Group,
    EmailAddress,
    PeriodicTask,
    IntervalSchedule,
    CrontabSchedule,
    SolarSchedule,
    ClockedSchedule,
    AccessAttempt,
    AccessLog,
    AccessFailureLog,
)


class UnfoldTaskSelectWidget(UnfoldAdminSelectWidget, TaskSelectWidget):
    """The registered tasks to choose from, as django-celery-beat lists them, in unfold's select."""


class PeriodicTaskUnfoldForm(PeriodicTaskForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["task"].widget = UnfoldAdminTextInputWidget()
        self.fields["regtask"].widget = UnfoldTaskSelectWidget()


FORMS = {PeriodicTask: PeriodicTaskUnfoldForm}


def _restyled_inline(inline: type[InlineModelAdmin]) -> type[InlineModelAdmin]:
    if issubclass(inline, (TabularInline, StackedInline)):
        return inline
    base = TabularInline if issubclass(inline, admin.TabularInline) else StackedInline
    return type(inline.__name__, (inline, base), {"__module__": __name__})


def restyled(model_admin: type[admin.ModelAdmin], *, form: type | None = None) -> type[ModelAdmin]:
    """``model_admin`` with unfold's ``ModelAdmin`` (and inlines) mixed in: its own options and actions, unfold's pages."""
    attrs: dict[str, Any] = {"__module__": __name__, "inlines": [_restyled_inline(inline) for inline in model_admin.inlines]}
    if form is not None:
        attrs["form"] = form
    return type(model_admin.__name__, (model_admin, ModelAdmin), attrs)


def restyle(site: admin.AdminSite, models: tuple[type[Model], ...] = RESTYLED) -> None:
    """Register each of ``models`` that ``site`` has, and whose admin is not unfold's, again with ``restyled``."""
    for model in models:
        if not site.is_registered(model):  # e.g. axes' admin, off with AXES_ENABLE_ADMIN = False
            continue
        current = site.get_model_admin(model)
        if isinstance(current, ModelAdmin):
            continue
        site.unregister(model)
        site.register(model, restyled(type(current), form=FORMS.get(model)))


class AuthenticatorAdmin(ModelAdmin):
    """Who has which second factor, never its secret (allauth's own admin shows ``data``: the TOTP secret and the
    recovery codes' seed). Staff delete a lost one, after making sure who asks; its owner then sets up a new one."""

    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type",)
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
    fields = readonly_fields = ("user", "type", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Authenticator | None = None) -> bool:
        return False


restyle(admin.site)
if admin.site.is_registered(Authenticator):
    admin.site.unregister(Authenticator)
admin.site.register(Authenticator, AuthenticatorAdmin)
