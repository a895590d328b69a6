"""The shop's branding (``shop.storefront.branding``, ``colours``, ``brand_views``, its admin): checks, cache, the two files.

Name, tagline, accent colour and logo are one row edited in admin. Pages read it from the cache (no query once cached);
a save drops the cached copy. The accent must carry white text at 4.5:1; the logo must be a PNG, JPEG or WebP by its
first bytes, at most 256 KB; the logo and the accent's style sheet are served with a version, a long cache and nosniff.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.models import Branding
from shop.storefront.branding import branding_current, branding_load, branding_save, logo_check
from shop.storefront.colours import DARK, LIGHT, accent_clean, accent_css, accent_in, contrast

pytestmark = pytest.mark.django_db
SHOP_CSS = Path(__file__).resolve().parents[2] / "static" / "shop" / "shop.css"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(40)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(40)
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def branding_queries(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if "shop_branding" in query["sql"]]


# The accent colour -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "stored"), [("", ""), ("  ", ""), ("#3450C4", "#3450c4"), ("0f766e", "#0f766e"), ("#000000", "#000000")])
def test_an_accent_is_stored_as_lowercase_hex_or_blank(value: str, stored: str) -> None:
    assert accent_clean(value) == stored


@pytest.mark.parametrize("value", ["red", "#fff", "#12345", "#1234567", "#gg0000", "#3450c4;}", "rgb(0,0,0)"])
def test_an_accent_that_is_not_six_hex_digits_is_refused_with_an_example(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        accent_clean(value)
    assert refused.value.messages == ["Enter the colour as # and six hexadecimal digits, for example #3450c4."]


@pytest.mark.parametrize("value", ["#ffff00", "#7aa2ff", "#3a8f5c", "#ffffff"])
def test_an_accent_too_light_for_white_text_is_refused_with_its_contrast(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        accent_clean(value)
    (message,) = refused.value.messages
    assert f"White text on {value} has a contrast of only {contrast(value, '#ffffff'):.1f}:1" in message
    assert "at least 4.5:1" in message and "darker shade" in message


def test_the_darkest_accepted_and_lightest_refused_greys_straddle_4_5() -> None:
    assert contrast("#767676", "#ffffff") >= 4.5 and accent_clean("#767676") == "#767676"
    assert contrast("#777777", "#ffffff") < 4.5
    with pytest.raises(ValidationError):
        accent_clean("#777777")


@pytest.mark.parametrize("accent", ["#3450c4", "#0f766e", "#767676", "#b0231a", "#6d28d9", "#000000", "#1d4ed8", "#8a4600"])
def test_the_accent_of_each_theme_reads_on_every_background_and_under_its_ink(accent: str) -> None:
    for theme in (LIGHT, DARK):
        shade = accent_in(theme, accent)
        assert all(contrast(shade, background) >= 4.5 for background in theme.backgrounds), (theme.name, shade)
        assert contrast(shade, theme.ink) >= 4.5, (theme.name, shade)


def test_an_accent_that_reads_well_on_the_light_theme_is_kept_as_it_is() -> None:
    assert accent_in(LIGHT, "#0f766e") == "#0f766e"
    assert accent_in(DARK, "#0f766e") != "#0f766e"  # dark text on it would not read: lightened for the dark theme


def test_the_database_refuses_an_accent_that_is_not_a_hex_colour() -> None:
    # The colour goes into a style sheet: whatever writes the row, nothing else gets in.
    with pytest.raises(IntegrityError), transaction.atomic():
        Branding.objects.create(pk=1, accent="red;}{}")


def test_the_database_keeps_a_single_row() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Branding.objects.create(pk=2)


# The theme's colours in shop.css -------------------------------------------------------------------------------------------


def _block(css: str, selector: str) -> dict[str, str]:
    start = css.index(selector + " {") + len(selector) + 2
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-f]{6})", css[start : css.index("}", start)]))


def palettes() -> dict[str, dict[str, str]]:
    css = SHOP_CSS.read_text()
    media = css[css.index("@media (prefers-color-scheme: dark)") :]
    return {
        "light": _block(css, ":root"),
        "dark": _block(css, ":root[data-theme=dark]"),
        "system dark": _block(media, ":root:not([data-theme=light])"),
    }


TEXTS = ("--ink", "--muted", "--accent", "--good", "--bad", "--warn", "--info")
BACKGROUNDS = ("--bg", "--surface", "--surface-2", "--good-bg", "--bad-bg", "--warn-bg", "--info-bg")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_text_colour_of_the_theme_reads_at_4_5_on_every_background(theme: str) -> None:
    palette = palettes()[theme]
    low = [(text, background, round(contrast(palette[text], palette[background]), 2)) for text in TEXTS for background in BACKGROUNDS]
    assert [row for row in low if row[2] < 4.5] == []
    assert contrast(palette["--accent"], palette["--accent-ink"]) >= 4.5
    assert contrast(palette["--bad"], palette["--surface"]) >= 4.5  # .button.danger: --surface text on --bad


def test_the_system_dark_theme_is_the_dark_theme_and_the_accent_checks_know_the_backgrounds() -> None:
    found = palettes()
    assert found["system dark"] == found["dark"]
    for theme in (LIGHT, DARK):
        assert theme.backgrounds == tuple(found[theme.name][name] for name in BACKGROUNDS)
        assert theme.ink == found[theme.name]["--accent-ink"]


# The logo --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "content_type"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp")])
def test_a_logo_is_recognised_by_its_first_bytes(data: bytes, content_type: str) -> None:
    assert logo_check(data) == content_type


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (SVG, "SVG logos are not accepted"),
        (b"  <svg xmlns='http://www.w3.org/2000/svg'/>", "SVG logos are not accepted"),
        (b"GIF89a" + bytes(20), "not a PNG, JPEG or WebP image"),
        (b"<html><script>alert(1)</script></html>", "not a PNG, JPEG or WebP image"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(20), "not a PNG, JPEG or WebP image"),
        (b"", "The file is empty."),
        (PNG + bytes(256 * 1024), "it may be at most 256 KB"),
    ],
)
def test_other_files_are_refused_with_a_reason(data: bytes, words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        logo_check(data)
    assert words in refused.value.messages[0]


def test_a_logo_of_exactly_256_kb_is_accepted() -> None:
    assert logo_check(PNG + bytes(256 * 1024 - len(PNG))) == "image/png"


def test_without_a_logo_its_address_is_404(client) -> None:
    assert client.get(reverse("brand-logo")).status_code == 404
    branding_save(branding=branding_load())
    assert client.get(reverse("brand-logo")).status_code == 404


def test_the_logo_is_served_as_stored_with_a_long_cache_under_its_version_and_nosniff(web) -> None:
    branding_save(branding=branding_load(), logo=(PNG, "image/png"))
    version = branding_current().version
    response = web.get(reverse("brand-logo"), {"v": version})  # signed in: the shop's no-store does not replace it
    assert response.status_code == 200 and response.content == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert set(response["Cache-Control"].split(", ")) == {"public", "max-age=31536000", "immutable"}
    assert response["ETag"] == f'"{version}"'
    again = web.get(reverse("brand-logo"), {"v": version}, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert "immutable" in again["Cache-Control"]
    # Without the current version (an old page, a guessed address), only briefly.
    assert web.get(reverse("brand-logo"), {"v": "old"})["Cache-Control"] == "public, max-age=300"
    assert web.get(reverse("brand-logo"))["Cache-Control"] == "public, max-age=300"


def test_the_logo_and_theme_answer_only_get(client) -> None:
    assert client.post(reverse("brand-logo")).status_code == 405
    assert client.post(reverse("brand-theme")).status_code == 405


# The accent's style sheet ----------------------------------------------------------------------------------------------------


def test_without_an_accent_pages_link_no_brand_style_sheet_and_it_is_empty(client) -> None:
    assert reverse("brand-theme") not in client.get(reverse("services")).content.decode()
    response = client.get(reverse("brand-theme"))
    assert response.status_code == 200 and response.content == b""


def test_the_accent_style_sheet_sets_the_accent_for_both_themes(client) -> None:
    branding_save(branding=Branding(accent="#0f766e"))
    info = branding_current()
    html = client.get(reverse("services")).content.decode()
    assert f'<link rel="stylesheet" href="{reverse("brand-theme")}?v={info.version}">' in html
    response = client.get(reverse("brand-theme"), {"v": info.version})
    css = response.content.decode()
    assert response["Content-Type"] == "text/css; charset=utf-8" and response["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in response["Cache-Control"]
    assert ":root { --accent: #0f766e; --accent-ink: #ffffff; }" in css
    dark = accent_in(DARK, "#0f766e")
    assert f":root[data-theme=dark] {{ --accent: {dark}; --accent-ink: #0b1020; }}" in css
    assert f"@media (prefers-color-scheme: dark) {{ :root:not([data-theme=light]) {{ --accent: {dark};" in css


def test_the_style_sheet_emits_nothing_but_a_hex_colour() -> None:
    assert accent_css("red;} body{display:none") == ""
    assert accent_css("#0f766e").count("#0f766e") == 1


# The cached read ----------------------------------------------------------------------------------------------------------


def test_pages_read_the_branding_once_then_from_the_cache(client) -> None:
    branding_save(branding=Branding(name="Acme Boost", tagline="Growth, delivered"))
    with CaptureQueriesContext(connection) as cold:
        html = client.get(reverse("services")).content.decode()
    assert len(branding_queries(cold)) == 1
    assert "<title>Services · Acme Boost</title>" in html
    assert '<span class="brand-name">Acme Boost</span>' in html and "Growth, delivered" in html
    with CaptureQueriesContext(connection) as warm:
        client.get(reverse("services"))
    assert branding_queries(warm) == []
    # The logo's bytes are never part of a page's read.
    assert '"shop_branding"."logo"' not in branding_queries(cold)[0]


def test_without_a_row_pages_show_the_default_name_and_cache_that_too(client) -> None:
    html = client.get(reverse("services")).content.decode()
    assert "<title>Services · SMM Shop</title>" in html
    with CaptureQueriesContext(connection) as warm:
        client.get(reverse("services"))
    assert branding_queries(warm) == []


def test_a_save_drops_the_cached_branding_once_committed(client, django_capture_on_commit_callbacks) -> None:
    client.get(reverse("services"))  # cached: the default name
    branding = branding_load()
    branding.name = "Acme Boost"
    with django_capture_on_commit_callbacks(execute=True):
        branding_save(branding=branding)
    assert "<title>Services · Acme Boost</title>" in client.get(reverse("services")).content.decode()


def test_a_logo_shows_in_the_menu_and_as_the_icon(client) -> None:
    branding_save(branding=Branding(), logo=(WEBP, "image/webp"))
    version = branding_current().version
    html = client.get(reverse("services")).content.decode()
    assert f'<img src="{reverse("brand-logo")}?v={version}" alt="" height="32">' in html
    assert f'<link rel="icon" href="{reverse("brand-logo")}?v={version}">' in html


# The admin --------------------------------------------------------------------------------------------------------------------


def form(**fields: object) -> dict[str, object]:
    return {"name": "Acme Boost", "tagline": "", "accent": "", **fields}


def test_admin_saves_the_branding_with_a_logo_and_the_pages_show_it(admin_client, client, django_capture_on_commit_callbacks) -> None:
    client.get(reverse("services"))  # cached before the change
    upload = SimpleUploadedFile("logo.png", PNG, content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:shop_branding_add"), form(accent="#0F766E", logo_file=upload))
    assert response.status_code == 302, response.content.decode()[:2000]
    branding = Branding.objects.get()
    assert (branding.pk, branding.name, branding.accent, bytes(branding.logo), branding.logo_type) == (
        1,
        "Acme Boost",
        "#0f766e",
        PNG,
        "image/png",
    )
    html = client.get(reverse("services")).content.decode()
    assert "Acme Boost" in html and reverse("brand-logo") in html and reverse("brand-theme") in html


def test_admin_refuses_a_light_accent_and_changes_nothing(admin_client) -> None:
    response = admin_client.post(reverse("admin:shop_branding_add"), form(accent="#ffff00"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "White text on #ffff00 has a contrast of only 1.1:1" in html and "Pick a darker shade." in html
    assert not Branding.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("logo.svg", SVG, "SVG logos are not accepted"),
        ("logo.png", SVG, "SVG logos are not accepted"),  # the name and the browser's type do not count, the bytes do
        ("logo.gif", b"GIF89a" + bytes(20), "not a PNG, JPEG or WebP image"),
        ("logo.png", PNG + bytes(300 * 1024), "may be at most 256 KB"),
    ],
)
def test_admin_refuses_other_logos_and_keeps_the_current_one(admin_client, name: str, data: bytes, words: str) -> None:
    branding_save(branding=Branding(), logo=(JPEG, "image/jpeg"))
    upload = SimpleUploadedFile(name, data, content_type="image/png")
    response = admin_client.post(reverse("admin:shop_branding_change", args=[1]), form(logo_file=upload))
    assert response.status_code == 200 and words in response.content.decode()
    branding = Branding.objects.get()
    assert (bytes(branding.logo), branding.logo_type, branding.name) == (JPEG, "image/jpeg", "SMM Shop")


def test_admin_removes_the_logo(admin_client) -> None:
    branding_save(branding=Branding(), logo=(PNG, "image/png"))
    response = admin_client.post(reverse("admin:shop_branding_change", args=[1]), form(remove_logo="on"))
    assert response.status_code == 302
    branding = Branding.objects.get()
    assert (branding.logo, branding.logo_type) == (None, "")


def test_admin_has_one_branding_row_to_change_and_none_to_add_or_delete(admin_client) -> None:
    assert admin_client.get(reverse("admin:shop_branding_add")).status_code == 200
    branding_save(branding=Branding())
    assert admin_client.get(reverse("admin:shop_branding_add")).status_code == 403
    assert admin_client.get(reverse("admin:shop_branding_change", args=[1])).status_code == 200
    assert admin_client.get(reverse("admin:shop_branding_delete", args=[1])).status_code == 403


def test_pages_still_show_the_branding_when_the_cache_is_down(db, monkeypatch) -> None:
    """Every page reads the branding: with the cache (Redis) unreachable it comes from the database, not a 500."""
    from shop.storefront import branding

    Branding.objects.create(pk=1, name="Boost Panel")

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(branding.cache, "get", down)
    monkeypatch.setattr(branding.cache, "set", down)
    assert branding_current().name == "Boost Panel"
