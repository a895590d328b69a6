"""django-axes' lockout per username and address, plus a higher one per address across usernames.

Axes counts failed logins per ``AXES_LOCKOUT_PARAMETERS`` group but compares
every group with the one ``AXES_FAILURE_LIMIT`` (its maintainers point to a
custom handler for a second limit, django-axes issue 661). Listing
``"ip_address"`` as a group would lock a whole office out after five typos,
and a successful login would then reset the address's count, so one working
account would wipe the trail of guesses at every other.

So the groups stay ``[["username", "ip_address"]]`` and this handler adds the
address's failures over all usernames within the cool-off, scaled so that
``LOGIN_ADDRESS_FAILURE_LIMIT`` of them reach ``AXES_FAILURE_LIMIT``: axes
then locks the address out, for every username, until the cool-off ends. A
successful login still resets only its own username's failures.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class LoginLockoutHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials: dict | None = None) -> int:
        per_username = super().get_failures(request, credentials)
        limit, address_limit = settings.AXES_FAILURE_LIMIT, settings.LOGIN_ADDRESS_FAILURE_LIMIT
        if address_limit <= 0 or not isinstance(limit, int):
            return per_username
        attempts = AccessAttempt.objects.filter(ip_address=request.axes_ip_address)
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        per_address = attempts.aggregate(failures=Sum("failures_since_start"))["failures"] or 0
        # In units of AXES_FAILURE_LIMIT, the one number axes compares: floor(n * L / A) >= L exactly when n >= A.
        return max(per_username, per_address * limit // address_limit)


def login_username(request, credentials: dict | None = None) -> str | None:
    """The name axes counts failures under: what was typed in allauth's "login" field (a username or an address).

    allauth hands ``authenticate`` a ``username`` or an ``email`` credential, never ``login``, so axes' default
    (``AXES_USERNAME_FORM_FIELD`` looked up in the credentials) would count every failure under no name at all.
    """
    for key in ("username", "email"):
        if credentials and credentials.get(key):
            return str(credentials[key]).strip().lower()
    typed = request.POST.get("login") or request.POST.get("username") if request is not None else None
    return typed.strip().lower() if typed else None
