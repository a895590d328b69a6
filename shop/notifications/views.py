"""The customer's notifications page: which mails they get."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from shop.notifications.forms import NotificationSettingsForm
from shop.notifications.services import settings_of, settings_save


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    current = settings_of(user=request.user)
    form = NotificationSettingsForm(request.POST or None, instance=current, staff=request.user.is_staff)
    if request.method == "POST" and form.is_valid():
        settings_save(user=request.user, **{name: form.cleaned_data[name] for name in form.fields})
        messages.success(request, _("Notification settings saved."))
        return redirect("notification-settings")
    return render(request, "notifications/settings.html", {"form": form, "email": request.user.email})
