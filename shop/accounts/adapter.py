"""The shop's rules inside django-allauth's flows: usernames of one script and no lookalikes, the username's
skeletons, the referral and the language recorded with the new account, and mail that never fails a request.

allauth does the rest (https://docs.allauth.org/en/latest/account/advanced.html#custom-redirects): the sign-up
that answers the same whether or not the address is registered (``ACCOUNT_PREVENT_ENUMERATION``), verification
by a mailed link before the first login, password reset and change, and two-factor authentication.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from allauth.mfa.utils import is_mfa_enabled
from django import forms
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.forms import BaseForm
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from shop.accounts.forms import username_error
from shop.accounts.languages import language_save
from shop.accounts.usernames import username_skeletons_set
from shop.storefront.branding import branding_current

logger = logging.getLogger(__name__)


class ShopAccountAdapter(DefaultAccountAdapter):
    error_messages = {**DefaultAccountAdapter.error_messages, "username_taken": _("A user with that username already exists.")}

    def clean_username(self, username: str, shallow: bool = False) -> str:
        username = super().clean_username(username, shallow=shallow)
        problem = username_error(username)
        if problem is not None:
            raise forms.ValidationError(problem)
        return username

    def save_user(self, request: HttpRequest, user: AbstractBaseUser, form: BaseForm, commit: bool = True) -> AbstractBaseUser:
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            # In the sign-up's transaction (shop.accounts.views.SignupView): a lookalike taken meanwhile undoes it.
            username_skeletons_set(user=user)
            _refer(request, user)
            # The language the sign-up form was read in is the customer's, for their mails too.
            language_save(user=user, code=get_language())
        return user

    def is_login_by_code_required(self, login) -> bool:
        """A staff member without an authenticator also types a code mailed to their confirmed address: whoever holds
        only their password cannot set up the second factor the admin asks for (and keep the owner out with it)."""
        user = login.user
        if settings.STAFF_MFA_REQUIRED and user is not None and user.is_staff and not is_mfa_enabled(user):
            return True
        return super().is_login_by_code_required(login)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # allauth's mails greet "from {{ current_site.name }}": the shop's name (Branding), not the host name.
        request = allauth_context.request
        site = SimpleNamespace(name=branding_current().name, domain=request.get_host() if request is not None else "")
        try:
            super().send_mail(template_prefix, email, {"current_site": site, **context})
        except Exception as exc:
            # As Django's password reset does: the page answers the same. Only the error's kind is logged: an SMTP
            # refusal's text names the recipient.
            logger.error("Could not send the %s mail: %s", template_prefix.rsplit("/", 1)[-1], type(exc).__name__)


def _refer(request: HttpRequest, user: AbstractBaseUser) -> None:
    from shop.affiliates.services import ReferralRefused, referral_attach
    from shop.affiliates.views import referral_code_of

    code = referral_code_of(request)
    if not code:
        return
    try:
        referral_attach(referee=user, code=code)
    except ReferralRefused as exc:
        logger.info("sign-up of user %s not attributed to link %s: %s", user.pk, code, exc)
