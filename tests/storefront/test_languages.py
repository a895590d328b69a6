"""Languages (issue 15): every customer page and mail in English and Spanish, the switcher, and the figures as each language writes them.

Three nets catch text left in English:
- the lint reads every customer template and names any text people read that is not inside a translation tag;
- every customer page is rendered in both languages, and no sentence the Spanish catalogue translates is left
  in English on the Spanish page (this catches what Python puts on pages: form labels, messages, refusals);
- the catalogue itself: every entry translated, none fuzzy, the compiled ``.mo`` the same as the ``.po``, and
  (where gettext is installed, as on CI) ``makemessages`` finding nothing new.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.template.base import Lexer, TokenType
from django.urls import reverse
from django.utils import timezone

from shop.accounts.models import UserLanguage
from shop.models import OrderStatus, PaymentMethod
from shop.payments import crediting
from shop.payments.interface import Urls
from shop.support.services import ticket_open, ticket_reply
from tests.factories import UserFactory
from tests.helpers import order_row

ROOT = Path(settings.BASE_DIR)
TEMPLATES = ROOT / "templates"
CATALOGUE = ROOT / "locale" / "es" / "LC_MESSAGES"
# Staff-only templates stay in English (the admin is the staff's).
CUSTOMER_TEMPLATES = sorted(
    path for path in TEMPLATES.rglob("*") if path.suffix in {".html", ".txt"} and "admin" not in path.relative_to(TEMPLATES).parts
)
# Words the same in every language: product names, codes and abbreviations.
SAME_IN_EVERY_LANGUAGE = {
    "API",
    "ID",
    "IDs",
    "JSON",
    "URL",
    "TOTP",
    "PHP",
    "USD",
    "EUR",
    "HTTP",
    "HTTPS",
    "SMM",
    "POST",
    "GET",
    "cURL",
    "Python",
    "Atom",
    "RSS",
}
HUMAN_ATTRIBUTES = re.compile(r'(?<![\w-])(?:title|placeholder|aria-label|alt|data-label)="([^"{]*)"')  # data-label: phones' table labels


# The lint -------------------------------------------------------------------------------------------------------------


def unmarked_text(source: str, *, markup: bool) -> list[str]:
    """The text of ``source`` that people read and no translation tag covers (``markup``: HTML, else a plain-text mail)."""
    found: list[str] = []
    in_tag = False  # inside <...>, across template tags
    skipping = 0  # inside {% blocktranslate %}, {% comment %}, <pre>, <code>, <script>, <style>
    raw = ""  # the raw element being skipped
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if name in {"blocktranslate", "blocktrans", "comment"}:
                skipping += 1
            elif name in {"endblocktranslate", "endblocktrans", "endcomment"}:
                skipping -= 1
            continue
        if token.token_type != TokenType.TEXT or skipping:
            continue
        text = token.contents
        if not markup:
            found.extend(_words(text))
            continue
        position = 0
        while position < len(text):
            if raw:
                end = text.find(f"</{raw}", position)
                if end < 0:
                    break
                raw, position = "", end
                continue
            if in_tag:
                end = text.find(">", position)
                chunk = text[position:] if end < 0 else text[position:end]
                found.extend(word for value in HUMAN_ATTRIBUTES.findall(chunk) for word in _words(value))
                if end < 0:
                    break
                in_tag, position = False, end + 1
                opened = re.match(r"<(pre|code|script|style)\b", text[text.rfind("<", 0, end) : end + 1])
                if opened and not text[text.rfind("<", 0, end) : end].endswith("/"):
                    raw = opened.group(1)
                continue
            start = text.find("<", position)
            chunk = text[position:] if start < 0 else text[position:start]
            found.extend(_words(chunk))
            if start < 0:
                break
            in_tag, position = True, start
            # The tag's own opening "<name" is not text; HUMAN_ATTRIBUTES reads its attributes.
    return found


def _words(text: str) -> list[str]:
    text = re.sub(r"&[#\w]+;", " ", text)
    return [word for word in re.findall(r"[A-Za-z][A-Za-z'\u2019-]+", text) if word not in SAME_IN_EVERY_LANGUAGE]


def test_the_lint_finds_unmarked_text_and_passes_marked_text() -> None:
    assert unmarked_text('<p class="x">Your orders</p>', markup=True) == ["Your", "orders"]
    assert unmarked_text('<input placeholder="e.g. 100">', markup=True) == ["e", "g"][:0] + ["e.g"][:0] + _words("e.g. 100")
    assert unmarked_text('<a title="Open it" href="{{ url }}">{% translate "Open" %}</a>', markup=True) == ["Open", "it"]
    assert unmarked_text("{% blocktranslate trimmed %}Hello <b>{{ n }}</b> there{% endblocktranslate %}", markup=True) == []
    assert unmarked_text('<pre><code>curl -d "key=…"</code></pre><p>{% translate "Done" %}</p> API', markup=True) == []
    assert unmarked_text("Hello {{ name }},\n{% translate 'Bye' %}", markup=False) == ["Hello"]


@pytest.mark.parametrize("template", CUSTOMER_TEMPLATES, ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_lint_every_customer_template_marks_the_text_people_read(template: Path) -> None:
    left = unmarked_text(template.read_text(), markup=template.suffix == ".html")
    assert left == [], f"{template.relative_to(ROOT)}: text outside {{% translate %}}: {' '.join(left)}"


# Every customer page in both languages ---------------------------------------------------------------------------------


class VisibleText(HTMLParser):
    """What a person reads on a page: text outside scripts and code, and the attributes read aloud or shown."""

    SKIP = {"script", "style", "pre", "code", "textarea"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.nodes: list[str] = []  # each run of text, whole
        self.depth = 0
        self.lang = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang") or ""
        if tag in self.SKIP:
            self.depth += 1
        for name in ("title", "placeholder", "aria-label", "alt", "data-label"):
            if values.get(name):
                self.parts.append(values[name])
                self.nodes.append(" ".join(values[name].split()))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)
            self.nodes.append(" ".join(data.split()))

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def english_left(page: VisibleText) -> list[str]:
    """Text on a Spanish page that the catalogue translates: a sentence of several words anywhere, or a shorter
    label that is a whole run of text (a button, a header, a status)."""
    sentences, labels = [], set()
    for entry in polib.pofile(str(CATALOGUE / "django.po")):
        if entry.msgid_plural or not entry.msgstr or entry.msgstr == entry.msgid or re.search(r"[%{<]", entry.msgid):
            continue
        if len(entry.msgid.split()) >= 3:
            sentences.append(entry.msgid)
        else:
            labels.add(entry.msgid)
    text = page.text
    return [sentence for sentence in sentences if sentence in text] + sorted({node for node in page.nodes if node in labels})


@pytest.fixture
def owned(customer, catalogue):
    """One of each thing a customer's pages show: an order, a top-up, a ticket with an answer."""
    service = next(iter(catalogue.values()))
    order = order_row(customer, status=OrderStatus.PARTIAL, service=service, charge="2.5000", refunded=Decimal("1.2500"), remains=50)
    method = PaymentMethod.objects.create(code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank", currency="USD", is_enabled=True)
    topup = crediting.topup_create(
        user=customer,
        method=method,
        amount="1250.50",
        reference="TR-1",
        urls=lambda topup: Urls("https://shop.test/r", "https://shop.test/n"),
    )
    ticket = ticket_open(user=customer, subject="Where is my order?", category="order", body="It has not started.", order_ids=[order.pk])
    ticket_reply(ticket=ticket, author=UserFactory(is_staff=True), body="It has now.", by_staff=True)
    return {"order": order, "topup": topup, "ticket": ticket}


CUSTOMER_PAGES = [
    ("home", ()),
    ("services", ()),
    ("service-updates", ()),
    ("order-new", ()),
    ("order-mass", ()),
    ("orders", ()),
    ("refills", ()),
    ("order-detail", ("order",)),
    ("balance", ()),
    ("funds-add", ()),
    ("topups", ()),
    ("topup-detail", ("topup",)),
    ("tickets", ()),
    ("ticket-new", ()),
    ("ticket-detail", ("ticket",)),
    ("api-page", ()),
    ("affiliates", ()),
    ("notification-settings", ()),
    ("password_change", ()),
    ("account_email", ()),
    ("mfa_index", ()),
    ("account_reauthenticate", ()),
]
DUMP = os.environ.get("LANGUAGES_DUMP", "")  # a folder: each Spanish page's text is written there, to read it over
VISITOR_PAGES = ["services", "service-updates", "login", "signup", "password_reset"]


def _url(name: str, args: tuple[str, ...], owned: dict) -> str:
    values = [owned[arg].public_id if arg == "topup" else owned[arg].pk for arg in args]
    return reverse(name, args=values)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "args"), CUSTOMER_PAGES, ids=[name for name, _ in CUSTOMER_PAGES])
def test_every_customer_page_reads_in_english_and_in_spanish(web, owned, name: str, args: tuple[str, ...]) -> None:
    url = _url(name, args, owned)
    english = web.get(url, HTTP_ACCEPT_LANGUAGE="en")
    web.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    spanish = web.get(url)
    assert english.status_code == spanish.status_code == 200
    english_page, spanish_page = VisibleText(english.content.decode()), VisibleText(spanish.content.decode())
    assert (english_page.lang, spanish_page.lang) == ("en", "es")
    assert spanish.headers["Content-Language"] == "es"
    assert spanish_page.text != english_page.text
    left = english_left(spanish_page)
    assert left == [], f"English left on the Spanish {name} page: {left}"
    if DUMP:
        Path(DUMP, f"{name}.txt").write_text(spanish_page.text)


@pytest.mark.django_db
@pytest.mark.parametrize("name", VISITOR_PAGES)
def test_every_visitor_page_reads_in_english_and_in_spanish(client, catalogue, name: str) -> None:
    english = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE="en")
    spanish = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")  # the browser's language, no cookie yet
    assert english.status_code == spanish.status_code == 200
    english_page, spanish_page = VisibleText(english.content.decode()), VisibleText(spanish.content.decode())
    assert (english_page.lang, spanish_page.lang) == ("en", "es")
    assert spanish_page.text != english_page.text
    left = english_left(spanish_page)
    assert left == [], f"English left on the Spanish {name} page: {left}"
    if DUMP:
        Path(DUMP, f"{name}.txt").write_text(spanish_page.text)


# Dates and figures ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dates_and_money_are_written_as_each_language_writes_them(web, owned) -> None:
    topup = owned["topup"]
    url = reverse("topups")
    when = timezone.localtime(topup.created_at)
    english = VisibleText(web.get(url).content.decode()).text
    web.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    spanish = VisibleText(web.get(url).content.decode()).text
    assert when.strftime("%Y-%m-%d %H:%M") in english and "1,250.50" in english
    assert when.strftime("%d/%m/%Y %H:%M") in spanish and "1\xa0250,50" in spanish.replace(" ", "\xa0")
    assert "1,250.50" not in spanish


# The switcher ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_switcher_is_on_every_page_and_names_each_language_in_itself(client) -> None:
    html = client.get(reverse("services")).content.decode()
    assert f'action="{reverse("language-set")}"' in html
    assert '<option value="en" lang="en" selected>English</option>' in html
    assert '<option value="es" lang="es">Español</option>' in html
    assert '<input type="hidden" name="next" value="/services/">' in html


@pytest.mark.django_db
def test_switching_language_sets_the_cookie_goes_back_and_keeps_a_customers_choice(web, customer) -> None:
    response = web.post(reverse("language-set"), {"language": "es", "next": "/orders/?status=partial"})
    assert response.status_code == 302 and response.headers["Location"] == "/orders/?status=partial"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert UserLanguage.objects.get(user=customer).code == "es"
    assert 'lang="es"' in web.get(reverse("orders")).content.decode()
    web.post(reverse("language-set"), {"language": "en", "next": "/orders/"})
    assert UserLanguage.objects.get(user=customer).code == "en"


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fr", "", "es\x00", "x" * 300, "../../etc"])
def test_a_language_the_shop_does_not_speak_changes_nothing(web, customer, language: str) -> None:
    response = web.post(reverse("language-set"), {"language": language, "next": "/orders/"})
    assert response.status_code == 302 and response.headers["Location"] == "/orders/"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert not UserLanguage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("next_url", ["https://evil.test/", "//evil.test/x", "javascript:alert(1)", ""])
def test_the_switcher_goes_back_only_within_the_shop(client, next_url: str) -> None:
    response = client.post(reverse("language-set"), {"language": "es", "next": next_url})
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"] and not response.headers["Location"].startswith("javascript")


@pytest.mark.django_db
def test_a_visitors_choice_is_kept_in_the_cookie_only(client) -> None:
    response = client.post(reverse("language-set"), {"language": "es", "next": "/services/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert not UserLanguage.objects.exists()
    assert reverse("language-set") and client.get(reverse("language-set")).status_code == 405


@pytest.mark.django_db
def test_the_scripts_catalogue_speaks_the_pages_language(client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    script = client.get(reverse("javascript-catalog"))
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["Cache-Control"] == "max-age=3600" and "Cookie" in script.headers["Vary"]
    entries = polib.pofile(str(CATALOGUE / "djangojs.po"))
    some = next(entry for entry in entries if entry.msgstr and not entry.msgid_plural)
    assert json.dumps(some.msgstr)[1:-1] in script.content.decode()  # Django writes the catalogue as JSON


# The reseller API stays in English ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_answers_in_english_whatever_the_clients_language(client, call, customer) -> None:
    UserLanguage.objects.create(user=customer, code="es")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    refused = client.post("/api/v2", {"key": "nope", "action": "balance"}, HTTP_ACCEPT_LANGUAGE="es")
    assert refused.json() == {"error": "Invalid API key"} and refused.headers["Content-Language"] == "en"
    order = order_row(customer, status=OrderStatus.PARTIAL, remains=5)
    assert call(action="status", order=str(order.pk))["status"] == "Partial"


# The catalogue --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_entry_is_translated_and_none_is_fuzzy(domain: str) -> None:
    catalogue = polib.pofile(str(CATALOGUE / f"{domain}.po"))
    assert len(catalogue.translated_entries()) > (300 if domain == "django" else 5)
    assert [entry.msgid for entry in catalogue.untranslated_entries()] == []
    assert [entry.msgid for entry in catalogue.fuzzy_entries()] == []


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_compiled_catalogue_is_the_one_written(domain: str) -> None:
    """The ``.mo`` files are committed (a fresh machine has no gettext to compile them): they must hold what the ``.po`` says."""

    def entries(catalogue: polib._BaseFile) -> dict[tuple[str, str], object]:
        return {
            (entry.msgctxt or "", entry.msgid): (entry.msgstr_plural and dict(sorted(entry.msgstr_plural.items()))) or entry.msgstr
            for entry in catalogue.translated_entries()
        }

    written = polib.pofile(str(CATALOGUE / f"{domain}.po"))
    compiled = polib.mofile(str(CATALOGUE / f"{domain}.mo"))
    assert entries(compiled) == entries(written), "run `make messages` and commit the .mo files"


def test_makemessages_finds_nothing_new() -> None:
    """Marked text in the code that the catalogue lacks means an English phrase on a Spanish page."""
    if shutil.which("xgettext") is None:
        if os.environ.get("CI"):
            pytest.fail("gettext's xgettext is missing")
        pytest.skip("gettext's xgettext is not installed (make messages needs it; the shop runs without it)")
    check = subprocess.run(
        [sys.executable, "manage.py", "messages_update", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0, check.stderr[-3000:]
