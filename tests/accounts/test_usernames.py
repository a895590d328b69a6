"""Usernames: UTS #39 skeletons, the one-script rule, and skeletons held once in the database."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from shop.accounts.selectors import username_lookalike_exists
from shop.accounts.usernames import skeleton, username_scripts_problem, username_skeletons, username_skeletons_set
from shop.models import UsernameSkeleton
from tests.factories import UserFactory


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("demo", "d\u0435mo"),  # a Cyrillic e (U+0435)
        ("demo", "derno"),  # rn for m
        ("paypal", "paypaI"),  # capital I for l
        ("copa", "\u0441\u043e\u0440\u0430"),  # all four letters Cyrillic
        ("bill", "biII"),  # capital I for l, twice
        ("bob0", "bobO"),  # zero for capital O
    ],
)
def test_lookalikes_share_a_skeleton(one: str, other: str) -> None:
    assert one != other and skeleton(one) == skeleton(other)


@pytest.mark.parametrize(("one", "other"), [("demo", "demos"), ("alice", "alice2"), ("bob", "rob")])
def test_different_names_have_different_skeletons(one: str, other: str) -> None:
    assert skeleton(one) != skeleton(other)


def test_a_username_holds_its_skeleton_as_written_and_case_folded() -> None:
    assert username_skeletons("demo") == {"derno"}
    assert username_skeletons("Ivan") == {"lvan", "ivan"}  # looks like "lvan", and is "ivan" in another case


@pytest.mark.parametrize("username", ["demo", "Demo_2", "a.b@c+d-e", "Алиса", "δημήτρης", "東京たワー", "서울中", "12345"])
def test_one_script_and_its_writing_systems_are_accepted(username: str) -> None:
    assert username_scripts_problem(username) is None


@pytest.mark.parametrize(
    ("username", "scripts"), [("d\u0435mo", "Cyrillic and Latin"), ("payp\u0430l", "Cyrillic and Latin"), ("alphaβ", "Greek and Latin")]
)
def test_mixed_scripts_are_refused_with_the_scripts_named(username: str, scripts: str) -> None:
    assert (
        username_scripts_problem(username)
        == f"Use letters of one script only: this name mixes {scripts}, which can make it look like another."
    )


@pytest.mark.django_db
def test_a_lookalike_of_another_users_name_is_found_and_ones_own_is_not() -> None:
    demo = UserFactory(username="demo")
    username_skeletons_set(user=demo)
    assert username_lookalike_exists(username="DEMO")
    assert username_lookalike_exists(username="derno")
    assert not username_lookalike_exists(username="Demo", user_id=demo.pk)  # renaming oneself in another case


@pytest.mark.django_db
def test_renaming_replaces_the_users_skeletons() -> None:
    user = UserFactory(username="Ivan")
    username_skeletons_set(user=user)
    user.username = "olga"
    user.save()
    username_skeletons_set(user=user)
    assert set(UsernameSkeleton.objects.filter(user=user).values_list("skeleton", flat=True)) == {"olga"}


@pytest.mark.django_db
def test_the_database_refuses_a_second_user_with_the_same_skeleton() -> None:
    username_skeletons_set(user=UserFactory(username="demo"))
    twin = UserFactory(username="d\u0435mo")  # written past the checks, as a race would
    with pytest.raises(IntegrityError), transaction.atomic():
        username_skeletons_set(user=twin)
    assert not UsernameSkeleton.objects.filter(user=twin).exists()
