"""allauth's password change and reset views, each also revoking the customer's API key.

Whoever learnt the old password may have issued themselves a key: a new
password must shut them out of the API too. The revocation is an explicit
call here (and in the customer admin), not a signal on the password field:
Django re-hashes a password on login when its hasher changes, which must not
revoke anything.
"""

from __future__ import annotations

from allauth.account import views as allauth_views
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from shop.reseller_api.keys import api_key_revoke
from shop.reseller_api.models import Revocation


def key_revoked_notice(request: HttpRequest) -> None:
    messages.warning(
        request,
        format_html(
            _('Your API key was revoked because your password changed; issue a new one on the <a href="{url}">API page</a>.'),
            url=reverse("api-page"),
        ),
    )


class PasswordChangeView(allauth_views.PasswordChangeView):
    def form_valid(self, form) -> HttpResponse:
        # The password and the key change together or not at all.
        with transaction.atomic():
            response = super().form_valid(form)
            revoked = api_key_revoke(user=form.user, reason=Revocation.PASSWORD_CHANGED)
        if revoked:
            key_revoked_notice(self.request)
        return response


class PasswordResetFromKeyView(allauth_views.PasswordResetFromKeyView):
    def form_valid(self, form) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)
            revoked = api_key_revoke(user=self.reset_user, reason=Revocation.PASSWORD_RESET)
        if revoked:
            key_revoked_notice(self.request)
        return response
