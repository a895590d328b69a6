"""Migration 0008: every existing user gets the skeletons of their username; existing lookalikes do not stop the upgrade."""

from __future__ import annotations

import pytest

from tests.migrations.steps import latest, migrate_to

BEFORE = [("shop", "0007_api_key_revoked")]


@pytest.mark.django_db(transaction=True)
def test_existing_users_get_their_skeletons_and_the_older_of_two_lookalikes_keeps_the_shared_one() -> None:
    newest = latest()
    try:
        apps = migrate_to(BEFORE).loader.project_state(BEFORE).apps
        User = apps.get_model("auth", "User")
        demo = User.objects.create(username="demo")
        twin = User.objects.create(username="d\u0435mo")  # a Cyrillic e (U+0435), accepted by earlier releases
        ivan = User.objects.create(username="Ivan")
        migrate_to(newest)
    finally:
        migrate_to(newest)

    from shop.models import UsernameSkeleton

    held = {}
    for user_id, value in UsernameSkeleton.objects.values_list("user_id", "skeleton"):
        held.setdefault(user_id, set()).add(value)
    assert held == {demo.pk: {"derno"}, ivan.pk: {"lvan", "ivan"}}  # the twin keeps its name, without the look demo holds
    assert twin.pk not in held
