"""The sign-up form (a username, an email address to confirm, a password), and the admin's user forms with the same username rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AdminUserCreationForm, SetPasswordMixin, UserChangeForm, UsernameField
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from shop.accounts.selectors import username_lookalike_exists
from shop.accounts.usernames import LOOKALIKE, username_scripts_problem

TAKEN = _("A user with that username already exists.")


def username_error(username: str, *, user_id: int | None = None) -> str | None:
    """Why ``username`` may not be used (by the user ``user_id``, when renamed), or None: mixed scripts, or a lookalike of another's."""
    problem = username_scripts_problem(username)
    if problem is None and username_lookalike_exists(username=username, user_id=user_id):
        problem = LOOKALIKE
    return problem


class SignupForm(SetPasswordMixin, forms.Form):
    """Checks what may be said to anyone: the username's rules and whether it is taken, the passwords. Never whether the email is in use."""

    username = UsernameField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("Up to 150 letters of one script, digits and @ . + - _"),
        widget=forms.TextInput(attrs={"autofocus": True}),
    )
    email = forms.EmailField(max_length=254, help_text=_("We mail a link to it to activate your account; also for password resets."))
    password1, password2 = SetPasswordMixin.create_password_fields()

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self) -> dict[str, Any]:
        self.validate_passwords()
        username, email = self.cleaned_data.get("username"), self.cleaned_data.get("email")
        if username:
            self._check_username(username)
        # The password may not resemble the username or the address (UserAttributeSimilarityValidator).
        self.validate_password_for_user(get_user_model()(username=username or "", email=email or ""))
        return self.cleaned_data

    def _check_username(self, username: str) -> None:
        # The same answer whatever the email: an exception for the address's own waiting
        # account would tell whoever types a username which address it was signed up with.
        if get_user_model().objects.filter(username__iexact=username).exists():
            self.add_error("username", TAKEN)
            return
        problem = username_error(username)
        if problem is not None:
            self.add_error("username", problem)


class StaffUserCreationForm(AdminUserCreationForm):
    """The admin's "add user" with the sign-up's username rules."""

    def clean_username(self) -> str | None:
        username = super().clean_username()
        if username:
            problem = username_error(username)
            if problem is not None:
                raise forms.ValidationError(problem)
        return username


class StaffUserChangeForm(UserChangeForm):
    """The admin's user page: a new username follows the sign-up's rules (an unchanged one is left as it is)."""

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if username != self.instance.username:
            problem = username_error(username, user_id=self.instance.pk)
            if problem is not None:
                raise forms.ValidationError(problem)
        return username
