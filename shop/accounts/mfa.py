"""Staff reach the admin only with two-factor authentication (``STAFF_MFA_REQUIRED``).

A staff member without an authenticator is sent to set one up; one who has it but signed in this session without
the second factor (one who turned it on in another session, say) is asked for a code (allauth's reauthentication by MFA).
The code that turns the authenticator on counts as the second factor for the session it was typed in. Customers
choose for themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY as SESSION_METHODS
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode


def second_factor_shown_at_activation(sender, request: HttpRequest, user, authenticator: Authenticator, **kwargs) -> None:
    """Turning on an authenticator app takes one of its codes: that is the second factor, shown in this session."""
    if authenticator.type == Authenticator.Type.TOTP:
        record_authentication(request, user, "mfa", type=authenticator.type, id=authenticator.pk, activated=True)


def signed_in_with_second_factor(request: HttpRequest) -> bool:
    return any(record.get("method") == "mfa" for record in request.session.get(SESSION_METHODS, []))


class StaffNeedTwoFactor:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if settings.STAFF_MFA_REQUIRED and user.is_authenticated and user.is_staff and request.path.startswith(reverse("admin:index")):
            if not is_mfa_enabled(user):
                messages.warning(request, "Staff reach the back office with two-factor authentication: set it up first.")
                return redirect("mfa_activate_totp")
            if not signed_in_with_second_factor(request):
                return redirect(f"{reverse('mfa_reauthenticate')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
