"""allauth's sign-up and password reset, each limited per network and per email address (shop/accounts/throttles.py).

The limit counts whether or not an account uses the address, so its answer, like the pages after it, reveals
nothing. A sign-up whose username (or a lookalike) another sign-up took since the form checked is refused with
nothing made.
"""

from __future__ import annotations

from allauth.account import views as allauth_views
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.http import HttpResponse

from shop.accounts.throttles import password_reset_limit_hit, signup_limit_hit
from shop.accounts.usernames import LOOKALIKE
from shop.core.client_address import client_address


class SignupView(allauth_views.SignupView):
    def form_valid(self, form) -> HttpResponse:
        message = signup_limit_hit(address=client_address(self.request), email=form.cleaned_data["email"])
        if message is not None:
            form.add_error(None, message)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        if getattr(form, "account_already_exists", False):
            make_password(form.cleaned_data["password1"])  # the work a new account costs: the answer takes as long
        try:
            with transaction.atomic():
                return super().form_valid(form)
        except IntegrityError:  # a concurrent sign-up took the username or a lookalike since the form checked
            form.add_error("username", LOOKALIKE)
            return self.form_invalid(form)


class PasswordResetView(allauth_views.PasswordResetView):
    def form_valid(self, form) -> HttpResponse:
        message = password_reset_limit_hit(address=client_address(self.request), email=form.cleaned_data["email"])
        if message is not None:
            form.add_error(None, message)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)
