"""A service's average time in words (``shop.catalogue.facts``) and in the API's minutes."""

from __future__ import annotations

import pytest

from shop.catalogue.facts import average_time_words, minutes_of


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, "not enough data"),
        (0, "less than a minute per 1000"),
        (59, "less than a minute per 1000"),
        (60, "about 1 minute per 1000"),
        (7800, "about 2 hours 10 minutes per 1000"),
        (3600, "about 1 hour per 1000"),
        (86_370, "about 1 day per 1000"),  # 23 h 59.5 min rounds up to a day, not "24 hours"
        (90_000, "about 1 day 1 hour per 1000"),
        (3 * 86_400, "about 3 days per 1000"),
    ],
)
def test_average_time_words(seconds: int | None, words: str) -> None:
    assert average_time_words(seconds) == words


def test_a_packages_time_is_per_order() -> None:
    assert average_time_words(5400, package=True) == "about 1 hour 30 minutes per order"


@pytest.mark.parametrize(("seconds", "minutes"), [(None, None), (0, 0), (89, 1), (90, 2), (7800, 130)])
def test_the_apis_figure_is_whole_minutes(seconds: int | None, minutes: int | None) -> None:
    assert minutes_of(seconds) == minutes
