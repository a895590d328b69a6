"""Sign-up that never tells whether an email address is registered, and activation by a mailed link.

Every sign-up that passes the form gets the same answer ("check your inbox"),
and the address gets one mail:

- an address no account uses: a new, inactive account and an activation link;
- an address of an account still awaiting activation: that account is left as
  it is, and its own activation link is mailed again, naming its username. The
  username and password just given are not used: whoever knows only someone's
  address must not be able to set the credentials of the account that person
  is about to activate;
- an address of an account in use: no account is made, and the owner is told
  that someone tried to sign up with it ("if it was you, log in or reset your
  password"). The password is hashed anyway, so this answer takes as long.

The link is signed and expires like Django's password reset links
(``PASSWORD_RESET_TIMEOUT``); following it activates the account once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from shop.accounts.models import PendingActivation
from shop.accounts.throttles import signup_limit_hit
from shop.accounts.usernames import LOOKALIKE, username_skeletons_set

logger = logging.getLogger(__name__)


class SignupRefused(Exception):
    """The sign-up was refused, with the message the visitor sees; nothing was created or sent."""


class TooManySignups(SignupRefused):
    """Over the sign-up limit of the network or of the email address."""


class ActivationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset tokens, salted apart, over what activation changes: a link works once, and only for the latest sign-up."""

    key_salt = "shop.accounts.signup.ActivationTokenGenerator"

    def _make_hash_value(self, user: AbstractBaseUser, timestamp: int) -> str:
        return f"{user.pk}{user.password}{user.is_active}{user.get_username()}{user.email}{timestamp}"


activation_tokens = ActivationTokenGenerator()


@dataclass(frozen=True)
class _Mail:
    template: str  # registration/<template>_subject.txt and registration/<template>_email.txt
    user: AbstractBaseUser
    context: dict[str, str]


def signup_register(*, username: str, email: str, password: str, address: str, site_url: str, referral_code: str | None = None) -> None:
    """Sign up ``username`` with ``email`` and ``password`` from the client ``address``, and send the one mail (see the module).

    ``site_url`` is the scheme and host the links in the mail start with.
    Raises ``TooManySignups`` over a limit, and ``SignupRefused`` when another
    sign-up took the username, or one that looks like it, in the meantime.
    A new account is attributed to the owner of the referral link ``referral_code`` (when the link exists and
    the referral is allowed: ``shop.affiliates.services.referral_attach``); the answer is the same either way.
    """
    email = email.strip().lower()
    message = signup_limit_hit(address=address, email=email)
    if message is not None:
        raise TooManySignups(message)
    user_model = get_user_model()
    try:
        with transaction.atomic():
            users = list(user_model.objects.filter(email__iexact=email).order_by("pk"))
            # Waiting: never activated. (An account an admin activated by hand may still have its row: it is in use.)
            pending = set(PendingActivation.objects.filter(user__in=users, user__is_active=False).values_list("user_id", flat=True))
            in_use = [user for user in users if user.pk not in pending]
            waiting = [user for user in users if user.pk in pending]
            if in_use:
                make_password(password)  # the work a sign-up does: the answer takes as long
                mail = _Mail("signup_exists", in_use[0], _links_for_owner(site_url))
            elif waiting:
                make_password(password)
                links = {"activation_url": site_url + activation_path(waiting[0]), **_links_for_owner(site_url)}
                mail = _Mail("signup_pending", waiting[0], links)
            else:
                user = user_model(email=email, username=username, is_active=False)
                user.set_password(password)
                user.save()
                PendingActivation.objects.create(user=user)
                username_skeletons_set(user=user)
                if referral_code:
                    _refer(user, referral_code)
                mail = _Mail("signup_activation", user, {"activation_url": site_url + activation_path(user)})
    except IntegrityError as exc:  # a concurrent sign-up took the username or a lookalike since the form checked
        raise SignupRefused(LOOKALIKE) from exc
    _send(mail)


def _refer(user: AbstractBaseUser, code: str) -> None:
    from shop.affiliates.services import ReferralRefused, referral_attach

    try:
        referral_attach(referee=user, code=code)
    except ReferralRefused as exc:
        logger.info("sign-up of user %s not attributed to link %s: %s", user.pk, code, exc)


def activation_link_lifetime() -> str:
    """How long a link works, in words: "3 days" by default."""
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    return f"{hours // 24} days" if hours >= 48 else f"{max(hours, 1)} hour{'s' if hours > 1 else ''}"


def activation_path(user: AbstractBaseUser) -> str:
    """The path of the user's activation link, valid from now for ``PASSWORD_RESET_TIMEOUT`` seconds."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("signup-activate", args=[uid, activation_tokens.make_token(user)])


def signup_activate(*, uidb64: str, token: str) -> AbstractBaseUser | None:
    """Activate the account the link names if the link is valid: the user, or None (unknown, used, expired or not pending)."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, OverflowError):
        return None
    user_model = get_user_model()
    user = user_model.objects.filter(pk=pk, is_active=False, pending_activation__isnull=False).first()
    if user is None or not activation_tokens.check_token(user, token):
        return None
    with transaction.atomic():
        # Whoever deletes the row activates: two clicks at once activate once.
        claimed, _ = PendingActivation.objects.filter(user=user).delete()
        if not claimed:
            return None
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def _links_for_owner(site_url: str) -> dict[str, str]:
    return {"login_url": site_url + reverse("login"), "password_reset_url": site_url + reverse("password_reset")}


def _send(mail: _Mail) -> None:
    context = {"username": mail.user.get_username(), "link_lifetime": activation_link_lifetime(), **mail.context}
    subject = "".join(render_to_string(f"registration/{mail.template}_subject.txt", context).splitlines())
    body = render_to_string(f"registration/{mail.template}_email.txt", context)
    try:
        send_mail(subject, body, None, [mail.user.email])
    except Exception:
        # As Django's password reset does: the page answers the same; the log names the user, not the address.
        logger.exception("Could not send the %s mail to user %s", mail.template, mail.user.pk)
