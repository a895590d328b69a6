"""Admin classes every domain uses: a changelist that bad filters cannot break, searches of bounded size, read-only rows.

Every admin of the shop derives from ``ShopAdmin`` (or mixes in ``ShopAdminMixin`` with another base,
as the customer admin does with ``UserAdmin``); ``tests/core/test_admin.py`` checks that none is left out.
``ShopAdmin`` is django-unfold's ``ModelAdmin`` (the admin's theme), so every page of the shop is styled alike.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.admin.views.main import ERROR_FLAG, ChangeList
from django.core.exceptions import FieldDoesNotExist, FieldError, ImproperlyConfigured, SuspiciousOperation, ValidationError
from django.db import models, transaction
from django.db.models.constants import LOOKUP_SEP
from django.db.models.query import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import get_script_prefix
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import get_language
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.admin import checkbox as unfold_checkbox
from unfold.templatetags import unfold_list

from shop.core.paging import LargeTablePaginator

logger = logging.getLogger(__name__)

# A search is one AND of ORs over the search fields per word: 500 words took 37 s on 300,000 orders (issue 17).
SEARCH_MAX_WORDS = 10
SEARCH_MAX_WORD_CHARS = 200
SHOWN_CHARS = 60
SHOWN_FILTERS = 5


def search_bounded(text: str) -> tuple[str, str]:
    """``text`` cut to its first ``SEARCH_MAX_WORDS`` words of at most ``SEARCH_MAX_WORD_CHARS`` each, and what was cut, in words.

    Words are split as the admin's search splits them (``smart_split``: a quoted phrase is one word). The note is "" when nothing was cut.
    """
    words = list(smart_split(text))
    kept = [_word_cut(word) for word in words[:SEARCH_MAX_WORDS]]
    notes = []
    if len(words) > SEARCH_MAX_WORDS:
        notes.append(f"The search used its first {SEARCH_MAX_WORDS} words; the other {len(words) - SEARCH_MAX_WORDS} were ignored.")
    if kept != words[:SEARCH_MAX_WORDS]:
        notes.append(f"Words longer than {SEARCH_MAX_WORD_CHARS} characters were cut to their first {SEARCH_MAX_WORD_CHARS}.")
    if not notes:
        return text, ""
    return " ".join(kept), " ".join(notes)


def search_words(text: str) -> list[str]:
    """The words of an admin's search as Django's admin reads them (a quoted phrase is one word, unquoted), bounded
    as ``search_bounded`` bounds them, without NUL characters."""
    words = []
    for word in smart_split(search_bounded(text.replace("\x00", ""))[0]):
        if word[:1] in "\"'" and len(word) > 1 and word[0] == word[-1]:
            word = unescape_string_literal(word)
        if word:
            words.append(word)
    return words


def _word_cut(word: str) -> str:
    if len(word) <= SEARCH_MAX_WORD_CHARS:
        return word
    quote = word[0]
    if quote in "\"'" and len(word) > 1 and word[-1] == quote:
        # Still one quoted phrase; a trailing backslash would escape the closing quote.
        return quote + word[1 : SEARCH_MAX_WORD_CHARS - 1].rstrip("\\") + quote
    return word[:SEARCH_MAX_WORD_CHARS]


def filter_problem(model: type[models.Model], params: dict[str, list[str]]) -> str:
    """What is wrong with the first filter value that can only fail or find nothing, for people; "" when every one may be tried.

    Caught here, before any query: a NUL character (PostgreSQL refuses it in any text), a value that is
    not one of a field's choices, a regular expression that does not compile. Whatever else is wrong
    shows when Django builds or runs the query (``ShopChangeList``).
    """
    for key, values in params.items():
        lookup = key.rpartition(LOOKUP_SEP)[2]
        for value in values:
            shown = _shown_filter(key, value)
            if "\x00" in key or "\x00" in value:
                return f"the filter {shown} contains a NUL character."
            if lookup in ("regex", "iregex") and not _compiles(value):
                return f"the filter {shown} is not a valid regular expression."
            field = _choice_field(model, key)
            if field is not None:
                allowed = {str(choice) for choice, _ in field.flatchoices} | ({""} if field.blank else set())
                if not set(value.split(",") if lookup == "in" else [value]) <= allowed:
                    return f"the filter {shown} is not one of the choices for {field.verbose_name}."
    return ""


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        return False
    return True


def _choice_field(model: type[models.Model], key: str) -> models.Field | None:
    """The field with choices that ``key`` compares for equality (``status``, ``status__exact``, ``status__in``), if any."""
    path = key.split(LOOKUP_SEP)
    if path[-1] in ("exact", "in"):
        path = path[:-1]
    try:
        field = get_fields_from_path(model, LOOKUP_SEP.join(path))[-1]
    except (FieldDoesNotExist, NotRelationField):
        return None
    return field if isinstance(field, models.Field) and field.choices else None


def _shown_filter(key: str, value: str) -> str:
    """``key='value'`` as a message shows it: cut short, the key quoted too when it holds what cannot be printed."""
    cut = value[:SHOWN_CHARS] + ("…" if len(value) > SHOWN_CHARS else "")
    name = key[:SHOWN_CHARS]
    return f"{name if name.isprintable() else repr(name)}={cut!r}"


def _reason(exc: BaseException) -> str:
    """Why Django could not apply the filters, in words; its own texts where they are meant for people."""
    if isinstance(exc, IncorrectLookupParameters) and exc.args:
        cause = exc.args[0]
        if isinstance(cause, str):  # raised by a list filter of the shop, in words (``CustomerFilter``)
            return cause if cause.endswith((".", "!", "?")) else f"{cause}."
        if isinstance(cause, BaseException):
            exc = cause
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, (FieldDoesNotExist, FieldError)):
        return "There is no such field to filter by."
    return "A value is out of range, or not of the kind the field holds."


class ShopChangeList(ChangeList):
    """Django's changelist, with every bad filter value turned into a message and Django's redirect to the whole list (``?e=1``).

    Django already redirects on most bad values (``IncorrectLookupParameters``) but says nothing; a
    NUL character, a year past 9999 or a number overflowing the database escaped it as a 500 (issue 17).
    As Django does when it applies the filters, every error is taken for a bad value, since nothing else
    validates them, but only while the admin gave filters or a search: the whole list it then redirects
    to has neither, so a fault of the shop or of its database still shows there as one.
    """

    _checked = False
    _search_note = ""

    def get_queryset(self, request: HttpRequest, exclude_parameters: list[str] | None = None) -> QuerySet[Any]:
        if not self._checked:  # once per list: facet counts and actions ask again
            self._checked = True
            self.query, self._search_note = search_bounded(self.query)
            problem = filter_problem(self.model, self.get_filters_params())
            if problem:
                raise self._refused(request, problem)
        try:
            return super().get_queryset(request, exclude_parameters)
        except (SuspiciousOperation, ImproperlyConfigured):
            raise  # Django's 400 for a lookup the admin does not offer; a fault of the shop's code
        except Exception as exc:
            if not (self.get_filters_params() or self.query):
                raise
            raise self._refused_input(request, exc) from exc

    def get_results(self, request: HttpRequest) -> None:
        try:
            # A savepoint: on PostgreSQL a refused statement would break the rest of the request's transaction.
            with transaction.atomic(using=self.queryset.db):
                super().get_results(request)
                len(self.result_list)  # the page's rows, read here (once) so that a refusal is a message, not a 500 while rendering
        except IncorrectLookupParameters as exc:  # a page past the last
            raise self._refused(request, f"there is no page {self.page_num}.") from exc
        except Exception as exc:  # a value the driver cannot send (NUL, a number past 64 bits) or the database refuses
            if not (self.get_filters_params() or self.query):
                raise
            raise self._refused_input(request, exc) from exc
        if self._search_note:  # said only of a list that is shown
            messages.warning(request, self._search_note)

    def _refused_input(self, request: HttpRequest, exc: Exception) -> IncorrectLookupParameters:
        filters = [_shown_filter(key, value) for key, values in self.get_filters_params().items() for value in values]
        logger.info("%s list: filters or search refused (%s)", self.opts.label, type(exc).__name__)
        if filters:
            listed = ", ".join(filters[:SHOWN_FILTERS]) + (", …" if len(filters) > SHOWN_FILTERS else "")
            given = f"the filter{'s' if len(filters) > 1 else ''} {listed}"
        else:
            given = f"the search {self.query[:SHOWN_CHARS]!r}"
        return self._refused(request, f"{given} could not be applied. {_reason(exc)}")

    def _refused(self, request: HttpRequest, reason: str) -> IncorrectLookupParameters:
        text = f"The whole list is shown: {reason}"
        messages.error(request, text)
        return IncorrectLookupParameters(text)


# The row's checkbox, as unfold renders it, split around the primary key: rendering the widget's template for each
# row cost about 0.7 ms, a tenth of a 100-row page. Per language, as its label is translated.
PK_MARK = "__shop_pk__"
_checkbox_parts: dict[str, tuple[str, str]] = {}


def action_checkbox_html(pk: object) -> SafeString:
    """Unfold's action checkbox for the row ``pk``, the same markup without rendering its template again."""
    language = get_language() or ""
    parts = _checkbox_parts.get(language)
    if parts is None:
        before, _, after = unfold_checkbox.render(helpers.ACTION_CHECKBOX_NAME, PK_MARK).partition(PK_MARK)
        parts = _checkbox_parts[language] = (before.replace("{", "{{").replace("}", "}}"), after.replace("{", "{{").replace("}", "}}"))
    return format_html(parts[0] + "{}" + parts[1], str(pk))


def headers_once(result_headers: Any) -> Any:
    """Unfold's ``result_headers``, computed once per changelist: unfold asks again for every row (for the labels shown on
    phones), which cost about a sixth of a 100-row page (issue 16)."""

    def once(cl: ChangeList) -> Any:
        headers = getattr(cl, "_shop_headers", None)
        if headers is None:
            headers = cl._shop_headers = list(result_headers(cl))
        return iter(headers)

    once.shop_once = True
    return once


LABELS_KEPT = 512


def labels_once(display_for_label: Any) -> Any:
    """Unfold's ``display_for_label`` (a status badge), rendered once per value, colour and language: unfold renders its
    template for every row, about 0.4 ms each. The badge depends on nothing else."""
    kept: dict[tuple[Any, ...], SafeString] = {}

    def once(value: Any, empty_value_display: str, label: Any) -> SafeString:
        try:
            key = (value, str(empty_value_display), tuple(label.items()) if isinstance(label, dict) else label, get_language())
            hash(key)
        except TypeError:  # a list, a lazy text...: rendered as unfold does
            return display_for_label(value, empty_value_display, label)
        badge = kept.get(key)
        if badge is None:
            badge = display_for_label(value, empty_value_display, label)
            if len(kept) < LABELS_KEPT:
                kept[key] = badge
        return badge

    once.shop_once = True
    once.original = display_for_label
    return once


NO_ERRORS_TEMPLATE = "unfold/helpers/form_errors.html"


def no_errors_once(render_to_string: Any) -> Any:
    """Unfold's list renders its errors template under every inline-editable cell (400 renders on a page of 100 services);
    for a field without errors, the only case on a page being read, the template's output is known: empty."""

    def once(template_name: Any, context: Any = None, *args: Any, **kwargs: Any) -> str:
        if template_name == NO_ERRORS_TEMPLATE and context is not None and set(context) == {"errors"} and not context["errors"]:
            return ""
        return render_to_string(template_name, context, *args, **kwargs)

    once.shop_once = True
    return once


# A row's link: its change page, whose path differs from the other rows' only by the primary key.
ROW_URL = re.compile(r"(?P<head>[^?#]*/)(?P<pk>\d+)(?P<tail>/change/)")
URL_SHAPES_KEPT = 512


def preserved_filters_once(add_preserved_filters: Any) -> Any:
    """Django's ``add_preserved_filters`` for each row's link, worked out once per list and filters: it resolves the URL
    against the URLconf to know whether it is the list's own, and unfold calls it for every row (about a tenth of a
    100-row page). Another row's link differs only by its id, which no query string of the result depends on."""
    kept: dict[tuple[Any, ...], tuple[str, str]] = {}

    def once(context: Any, url: str, popup: bool = False, to_field: Any = None) -> str:
        row = ROW_URL.fullmatch(url)
        if row is None or context.get("preserved_qsl"):
            return add_preserved_filters(context, url, popup, to_field)
        key = (row["head"], row["tail"], context.get("opts"), context.get("preserved_filters"), popup, to_field, get_script_prefix())
        shape = kept.get(key)
        if shape is None:
            path = f"{row['head']}0{row['tail']}"
            shaped = add_preserved_filters(context, path, popup, to_field)
            if not shaped.startswith(path):  # never seen: rewritten some other way, so worked out for each row
                return add_preserved_filters(context, url, popup, to_field)
            shape = (row["head"], shaped[len(path) :])
            if len(kept) < URL_SHAPES_KEPT:
                kept[key] = shape
        return f"{shape[0]}{row['pk']}{row['tail']}{shape[1]}"

    once.shop_once = True
    once.original = add_preserved_filters
    return once


def unfold_speedups() -> None:
    """Installed from the app's ``ready()``; idempotent. ``tests/core/test_admin_speed.py`` checks the pages are the same."""
    if not getattr(unfold_list.render_to_string, "shop_once", False):
        unfold_list.render_to_string = no_errors_once(unfold_list.render_to_string)
    if not getattr(unfold_list.result_headers, "shop_once", False):
        unfold_list.result_headers = headers_once(unfold_list.result_headers)
    if not getattr(unfold_list.add_preserved_filters, "shop_once", False):
        unfold_list.add_preserved_filters = preserved_filters_once(unfold_list.add_preserved_filters)
    if not getattr(unfold_list.display_for_label, "shop_once", False):
        unfold_list.display_for_label = labels_once(unfold_list.display_for_label)


class ShopAdminMixin:
    """What every admin of the shop shares: ``ShopChangeList``, searches of at most ``SEARCH_MAX_WORDS`` words, and
    lists that never count more than ``LargeTablePaginator`` reads (no second count of the whole table either)."""

    paginator = LargeTablePaginator
    show_full_result_count = False
    # Unfold's list asks every row for ``cl.model_admin.list_sections``; its ModelAdmin has none, and each failed template
    # lookup lists the admin's attributes (``dir``) to tell a missing one from a broken property: 200 a page of 100 rows,
    # about a tenth of its rendering. None declared, rendered the same.
    list_sections: tuple[Any, ...] = ()

    def action_checkbox(self, obj: models.Model) -> SafeString:
        return action_checkbox_html(obj.pk)

    action_checkbox.__dict__.update(UnfoldModelAdmin.action_checkbox.__dict__)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ShopChangeList

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> tuple[QuerySet[Any], bool]:
        # Bounded here too for every other caller (autocomplete); the changelist has bounded it already and said so.
        # A NUL reaches no database (PostgreSQL refuses it in text): dropped, as the changelist's own check would refuse it.
        return super().get_search_results(request, queryset, search_bounded(search_term.replace("\x00", ""))[0])  # type: ignore[misc]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if ERROR_FLAG in request.GET and len(request.GET) > 1:
            # "e" is the mark of Django's redirect after bad filters; with filters of its own, their failure would show
            # Django's "Database error" page instead of the list. Dropped, the filters are tried as usual.
            query = request.GET.copy()
            query.pop(ERROR_FLAG)
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        return super().changelist_view(request, extra_context)  # type: ignore[misc]


class ShopAdmin(ShopAdminMixin, UnfoldModelAdmin):
    """The base of the shop's model admins: unfold's ``ModelAdmin`` with the shop's changelist and bounded searches."""


class ReadOnlyAdmin(ShopAdmin):
    """Rows written only by the shop itself: admins read them, never edit them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
