"""What accounts keep beside Django's user: the skeletons of usernames, and sign-ups awaiting activation."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UsernameSkeleton(models.Model):
    """A username's confusable skeleton (UTS #39), unique over all users: no username may look like another.

    A user has one row per distinct skeleton of their username, as written and
    case-folded (``shop.accounts.usernames.username_skeletons``), so a new
    username is checked with one indexed lookup and two users racing for
    lookalike names cannot both commit.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="username_skeletons")
    skeleton = models.TextField(unique=True)

    def __str__(self) -> str:
        return self.skeleton


class UserLanguage(models.Model):
    """The language a customer chose with the switcher (or signed up in): their pages after a new login, and their mails."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="language")
    code = models.CharField("language", max_length=8)  # one of settings.LANGUAGES (shop.accounts.languages checks)

    def __str__(self) -> str:
        return f"{self.user}: {self.code}"
