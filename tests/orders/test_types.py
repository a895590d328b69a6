"""The fields each service type takes and how each is cleaned (``shop.orders.types``), as api-v2-notes.md lists them."""

from __future__ import annotations

import pytest

from shop.orders.types import (
    LABELS,
    MAX_LINE,
    MAX_LINES,
    MAX_LINK,
    TYPES,
    FieldError,
    Refusal,
    TypeSpec,
    clean_extra,
    clean_lines,
    clean_link,
    clean_whole,
    type_spec,
)

# type: (its own fields, asks for a quantity, quantity counted from this field, a fixed bundle)
DOCUMENTED = {
    "Default": ((), True, None, False),
    "Package": ((), False, None, True),
    "Custom Comments": (("comments",), False, "comments", False),
    "Custom Comments Package": (("comments",), False, None, True),
    "Mentions": (("usernames",), True, None, False),
    "Mentions with Hashtags": (("usernames", "hashtags"), True, None, False),
    "Mentions Custom List": (("usernames",), False, "usernames", False),
    "Mentions Hashtag": (("hashtag",), True, None, False),
    "Mentions User Followers": (("username",), True, None, False),
    "Mentions Media Likers": (("media",), True, None, False),
    "Comment Likes": (("username",), True, None, False),
    "Poll": (("answer_number",), True, None, False),
    "Invites from Groups": (("groups",), True, None, False),
    "SEO": (("keywords",), True, None, False),
}


def error(call, *args, **kwargs) -> tuple[str, str]:
    """The field and message of the ``FieldError`` the call raises."""
    with pytest.raises(FieldError) as raised:
        call(*args, **kwargs)
    return raised.value.field, raised.value.message


# The types ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_each_type_takes_the_documented_fields(name: str) -> None:
    fields, needs_quantity, quantity_from, package = DOCUMENTED[name]
    spec = type_spec(name)
    assert spec == TypeSpec(fields, needs_link=True, needs_quantity=needs_quantity, quantity_from=quantity_from, package=package)


def test_the_shop_supports_exactly_the_documented_types() -> None:
    assert set(TYPES) == set(DOCUMENTED) | {"Subscriptions"}
    assert type_spec("subscriptions") is None and type_spec("default") is None  # type names are matched exactly


def test_a_subscription_takes_a_username_and_its_own_fields_and_no_link_or_quantity() -> None:
    spec = type_spec("Subscriptions")
    fields = ("username", "min", "max", "posts", "old_posts", "delay", "expiry")
    assert spec == TypeSpec(fields, needs_link=False, needs_quantity=False, subscription=True)
    assert not any(other.subscription for name, other in TYPES.items() if name != "Subscriptions")


def test_every_field_has_a_label_and_a_counted_field_is_one_of_the_types_own() -> None:
    for spec in TYPES.values():
        assert all(field in LABELS for field in spec.fields)
        assert spec.quantity_from is None or spec.quantity_from in spec.fields
        assert not (spec.package and spec.needs_quantity)


# Links -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [
        ("https://instagram.com/p/abc", "https://instagram.com/p/abc"),
        ("  http://t.me/channel  ", "http://t.me/channel"),
        ("HTTPS://EXAMPLE.COM", "HTTPS://EXAMPLE.COM"),
        ("https://example.com?x=1#top", "https://example.com?x=1#top"),
        ("http://localhost:8000/p/1", "http://localhost:8000/p/1"),
        ("https://xn--80ak6aa92e.com/", "https://xn--80ak6aa92e.com/"),
        ("https://a.b/" + "x" * (MAX_LINK - 12), "https://a.b/" + "x" * (MAX_LINK - 12)),
    ],
)
def test_a_link_is_an_http_or_https_address_with_a_host(value: str, cleaned: str) -> None:
    assert clean_link(value) == cleaned


@pytest.mark.parametrize(
    "value",
    [
        "instagram.com/p/abc",
        "ftp://example.com/x",
        "javascript:alert(1)",
        "https://",
        "https://nodot",
        "https://exa mple.com",
        "https://example.com/a b",
        "https://example.com/\x00",
        "https://example.com/\x9b[2J",
        "https://example.com/\x7f",
        "https://a.b/" + "x" * (MAX_LINK - 11),
        12345,
    ],
)
def test_anything_else_is_a_bad_link(value) -> None:
    assert error(clean_link, value) == ("link", "Bad link")


@pytest.mark.parametrize("field", ["link", "media"])
def test_a_bad_link_carries_its_code_for_pages_that_word_it_for_people(field: str) -> None:
    """The message stays the API's ("Bad link"); the code lets the order form say what a link looks like instead."""
    with pytest.raises(FieldError) as raised:
        clean_link("instagram.com/p/abc", field)
    assert (raised.value.field, raised.value.message, raised.value.code, raised.value.params) == (field, "Bad link", "bad_link", {})
    assert raised.value.code is Refusal.BAD_LINK


@pytest.mark.parametrize(("call", "args"), [(clean_link, ("",)), (clean_whole, ("12abc", "quantity")), (clean_lines, ("", "comments"))])
def test_refusals_already_worded_for_people_carry_no_code(call, args) -> None:
    with pytest.raises(FieldError) as raised:
        call(*args)
    assert (raised.value.code, raised.value.params) == ("", {})


def test_the_refusal_codes_are_the_ones_pages_and_scripts_know() -> None:
    """The order form's wording (shop.storefront.forms.WEB_WORDING) and its script (order-config) are keyed by these values."""
    assert {code.name: code.value for code in Refusal} == {
        "BAD_LINK": "bad_link",
        "BELOW_MIN": "below_min",
        "ABOVE_MAX": "above_max",
        "NOT_ORDERABLE": "not_orderable",
        "SHORT_OF_FUNDS": "short_of_funds",
    }


@pytest.mark.parametrize("value", [None, "", "   \n"])
def test_a_missing_link_is_required_under_its_own_label(value) -> None:
    assert error(clean_link, value) == ("link", "Link is required.")
    assert error(clean_link, value, "media") == ("media", "Media link is required.")


def test_a_link_must_be_text_and_not_absurdly_long() -> None:
    assert error(clean_link, ["https://a.com"]) == ("link", "Link must be text.")
    assert error(clean_link, "https://a.com/" + "x" * (2 * MAX_LINK)) == ("link", "Link is too long.")


# Whole numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number"), [(None, None), ("", None), ("   ", None), ("7", 7), (" 7 ", 7), ("+7", 7), (7, 7), ("007", 7)]
)
def test_a_whole_number_is_read_from_text_or_an_int_and_blank_is_none(value, number) -> None:
    assert clean_whole(value, "quantity") == number


@pytest.mark.parametrize("value", ["1.0", "1.5", "1e3", "0x10", "1_000", "1,000", "12abc", "NaN", "1" * 19, True, False, 1.0, [1]])
def test_anything_else_is_not_a_whole_number(value) -> None:
    assert error(clean_whole, value, "quantity") == ("quantity", "Quantity must be a whole number.")


def test_a_whole_number_is_held_to_its_bounds() -> None:
    assert clean_whole("1" * 18, "quantity", low=1) == int("1" * 18)
    assert clean_whole("-5", "quantity", low=-10) == -5
    assert error(clean_whole, "0", "quantity") == ("quantity", "Quantity must be at least 1.")
    assert error(clean_whole, "-3", "runs", low=2) == ("runs", "Runs must be at least 2.")
    assert clean_whole("1440", "interval", high=1440) == 1440
    assert error(clean_whole, "1441", "interval", high=1440) == ("interval", "Interval must be at most 1440.")


# One-per-line lists --------------------------------------------------------------------------------


def test_lines_split_on_any_line_end_drop_blanks_and_strip_spaces() -> None:
    assert clean_lines("great\r\n  nice \n\n\rwow\r", "comments") == ["great", "nice", "wow"]
    assert clean_lines("only one", "keywords") == ["only one"]


@pytest.mark.parametrize("value", [None, "", "\n \r\n\t"])
def test_a_list_without_a_line_is_required(value) -> None:
    assert error(clean_lines, value, "comments") == ("comments", "Comments is required: one per line.")


def test_a_list_is_held_to_its_line_count_and_length() -> None:
    assert len(clean_lines("\n".join(["x"] * MAX_LINES), "comments")) == MAX_LINES
    assert error(clean_lines, "\n".join(["x"] * (MAX_LINES + 1)), "comments") == ("comments", f"Comments: at most {MAX_LINES} lines.")
    assert clean_lines("y" * MAX_LINE, "groups") == ["y" * MAX_LINE]
    assert error(clean_lines, "ok\n" + "y" * (MAX_LINE + 1), "groups") == (
        "groups",
        f"Groups: each line at most {MAX_LINE} characters, no control characters.",
    )


@pytest.mark.parametrize("line", ["bad\x00line", "bell\x07", "csi\x9b[2J", "del\x7f"])
def test_a_line_with_a_control_character_is_refused(line: str) -> None:
    assert error(clean_lines, f"fine\n{line}", "comments")[0] == "comments"


def test_a_tab_inside_a_line_is_kept() -> None:
    assert clean_lines("a\tb", "keywords") == ["a\tb"]


def test_usernames_are_one_handle_per_line() -> None:
    assert clean_lines("alice\n@bob.b\ncarol_c-3", "usernames") == ["alice", "@bob.b", "carol_c-3"]
    for bad in ["not a username", "al!ce", "a/b"]:
        assert error(clean_lines, f"alice\n{bad}", "usernames") == (
            "usernames",
            "Usernames: one username per line, letters, digits, '.', '_' or '-'.",
        )


# A type's own fields -------------------------------------------------------------------------------


def test_the_fields_of_a_type_are_cleaned_and_nothing_else_is_kept() -> None:
    spec = TYPES["Mentions with Hashtags"]
    cleaned = clean_extra(spec, {"usernames": "alice\r\n\nbob", "hashtags": "#one\n#two", "comments": "not this type's"})
    assert cleaned == {"usernames": "alice\nbob", "hashtags": "#one\n#two"}
    assert clean_extra(TYPES["Default"], {"comments": "ignored"}) == {}


@pytest.mark.parametrize(
    ("type_", "data", "cleaned"),
    [
        ("Poll", {"answer_number": " 2 "}, {"answer_number": 2}),
        ("Poll", {"answer_number": "100"}, {"answer_number": 100}),
        ("Mentions Hashtag", {"hashtag": "#sale"}, {"hashtag": "#sale"}),
        ("Mentions Hashtag", {"hashtag": "sale"}, {"hashtag": "sale"}),
        ("Mentions User Followers", {"username": " @star "}, {"username": "@star"}),
        ("Mentions Media Likers", {"media": "https://instagram.com/p/m"}, {"media": "https://instagram.com/p/m"}),
    ],
)
def test_single_value_fields_are_cleaned(type_: str, data: dict, cleaned: dict) -> None:
    assert clean_extra(TYPES[type_], data) == cleaned


@pytest.mark.parametrize(
    ("type_", "data", "expected"),
    [
        ("Poll", {}, ("answer_number", "Answer number is required.")),
        ("Poll", {"answer_number": "0"}, ("answer_number", "Answer number must be at least 1.")),
        ("Poll", {"answer_number": "101"}, ("answer_number", "Answer number must be at most 100.")),
        ("Mentions Hashtag", {"hashtag": "#two words"}, ("hashtag", "Hashtag is not valid.")),
        ("Mentions Hashtag", {"hashtag": "##"}, ("hashtag", "Hashtag is not valid.")),
        ("Mentions Hashtag", {"hashtag": ""}, ("hashtag", "Hashtag is required.")),
        ("Comment Likes", {"username": "two words"}, ("username", "Username is not valid.")),
        ("Comment Likes", {}, ("username", "Username is required.")),
        ("Mentions Media Likers", {"media": "not a link"}, ("media", "Bad link")),
        ("Mentions with Hashtags", {"usernames": "alice"}, ("hashtags", "Hashtags is required: one per line.")),
    ],
)
def test_a_missing_or_malformed_field_names_itself(type_: str, data: dict, expected: tuple[str, str]) -> None:
    assert error(clean_extra, TYPES[type_], data) == expected
