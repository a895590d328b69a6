"""The shop's admin base (``shop/core/admin.py``).

A bad filter value shows the whole list with a message, never a 500; a search takes a bounded number of words.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.text import smart_split

from shop.core.admin import SEARCH_MAX_WORD_CHARS, SEARCH_MAX_WORDS, ShopAdminMixin, search_bounded
from shop.models import Order
from tests.factories import UserFactory
from tests.helpers import messages_of, order_row

pytestmark = pytest.mark.django_db

REFUSED = "The whole list is shown: "
OUT_OF_RANGE = "A value is out of range, or not of the kind the field holds."

# One bad value per list of the shop, each of a kind that gave a 500 (on PostgreSQL, or on both databases)
# or a silent redirect to the whole list: NUL characters, years past 9999, unknown choices, values of the
# wrong kind, regular expressions that do not compile.
BAD_FILTERS = [
    ("shop_order", {"link__contains": "a\x00b"}, "the filter link__contains='a\\x00b' contains a NUL character."),
    ("shop_refill", {"status__exact": "bogus"}, "the filter status__exact='bogus' is not one of the choices for status."),
    ("shop_ledgerentry", {"created_at__year": "99999999999"}, "created_at__year='99999999999' could not be applied"),
    ("shop_wallet", {"updated_at__gte": "99999-01-01"}, "“99999-01-01” value has an invalid format."),
    ("shop_upstreamcall", {"outcome__exact": "ok\x00"}, "contains a NUL character."),
    ("shop_servicechange", {"changed_at__year": "0"}, OUT_OF_RANGE),
    ("shop_provider", {"is_active__exact": "maybe"}, "“maybe” value must be either True or False."),
    ("shop_providerservice", {"is_available__exact": "a\x00b"}, "contains a NUL character."),
    ("shop_shopsettings", {"id__exact": "abc"}, "the filter id__exact='abc' could not be applied."),
    ("shop_category", {"name__regex": "("}, "the filter name__regex='(' is not a valid regular expression."),
    ("shop_service", {"is_enabled__exact": "a\x00b"}, "contains a NUL character."),
    ("shop_apikey", {"revoked_reason__exact": "bogus"}, "is not one of the choices for revoked reason."),
    ("auth_user", {"is_staff__exact": "maybe"}, "“maybe” value must be either True or False."),
    ("shop_paymentmethod", {"kind__exact": "paypal"}, "is not one of the choices for kind."),
    ("shop_topup", {"created_at__year": "0"}, OUT_OF_RANGE),
    ("shop_branding", {"accent__exact": "#00\x00"}, "contains a NUL character."),
    ("shop_customerprice", {"discount_percent__gte": "abc"}, "could not be applied"),
    ("shop_ticket", {"category__exact": "bogus"}, "is not one of the choices for category."),
    ("shop_referral", {"created_at__year": "0"}, OUT_OF_RANGE),
    ("shop_referralearning", {"amount__gte": "abc"}, "could not be applied"),
    ("shop_referralpayout", {"created_at__year": "0"}, OUT_OF_RANGE),
]


def test_every_admin_of_the_shop_shares_the_shop_changelist() -> None:
    shop_admins = {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "shop" or model is get_user_model()
    }
    assert len(shop_admins) >= len(BAD_FILTERS)
    left_out = [type(model_admin).__name__ for model_admin in shop_admins.values() if not isinstance(model_admin, ShopAdminMixin)]
    assert left_out == []
    assert {f"{model._meta.app_label}_{model._meta.model_name}" for model in shop_admins} == {name for name, _, _ in BAD_FILTERS}


@pytest.mark.parametrize(("changelist", "query", "said"), BAD_FILTERS, ids=[name for name, _, _ in BAD_FILTERS])
def test_bad_filter_value_shows_the_whole_list_with_a_message(admin_client, changelist, query, said) -> None:
    url = reverse(f"admin:{changelist}_changelist")
    response = admin_client.get(url, query, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(f"{url}?e=1", 302)]
    assert response.context["cl"].get_filters_params() == {}
    (message,) = messages_of(response)
    assert message.startswith(REFUSED) and said in message, message


def test_unknown_choice_is_refused_and_known_or_blank_ones_filter(admin_client, customer) -> None:
    url = reverse("admin:shop_order_changelist")
    order = order_row(customer, status="pending")
    refused = admin_client.get(url, {"status__in": "pending,bogus"}, follow=True)
    assert messages_of(refused) == [f"{REFUSED}the filter status__in='pending,bogus' is not one of the choices for status."]
    for query in ({"status__exact": "pending"}, {"status__in": "pending,completed"}):
        listed = admin_client.get(url, query)
        assert listed.status_code == 200 and messages_of(listed) == []
        assert list(listed.context["cl"].result_list) == [order]
    blank = admin_client.get(reverse("admin:shop_apikey_changelist"), {"revoked_reason__exact": ""})  # blank=True: "" is a value
    assert blank.status_code == 200 and messages_of(blank) == []


def test_bad_filters_after_djangos_error_mark_show_the_list_not_database_error(admin_client) -> None:
    url = reverse("admin:shop_order_changelist")
    response = admin_client.get(url, {"e": "1", "status__exact": "bogus"}, follow=True)
    assert response.redirect_chain == [(f"{url}?status__exact=bogus", 302), (f"{url}?e=1", 302)]
    assert "Database error" not in response.content.decode()
    assert messages_of(response) == [f"{REFUSED}the filter status__exact='bogus' is not one of the choices for status."]


def test_id_overflowing_the_database_never_gives_an_error_page(admin_client, customer) -> None:
    """PostgreSQL leaves the id out (Django bounds the comparison); SQLite's driver cannot send it, and the list says so."""
    order = order_row(customer)
    url = reverse("admin:shop_order_changelist")
    response = admin_client.get(url, {"id__in": f"{order.pk},{2**64}"}, follow=True)
    assert response.status_code == 200
    if response.redirect_chain:
        assert messages_of(response) == [f"{REFUSED}the filter id__in='{order.pk},{2**64}' could not be applied. {OUT_OF_RANGE}"]
    else:
        assert list(response.context["cl"].result_list) == [order]
    assert Order.objects.filter(pk=order.pk).exists()  # the request's transaction is still usable


@pytest.mark.postgres
def test_value_postgresql_itself_refuses_shows_the_list_and_leaves_the_transaction_usable(admin_client, customer) -> None:
    order = order_row(customer)
    url = reverse("admin:shop_order_changelist")
    # Python compiles it; PostgreSQL's regular expressions repeat at most 255 times.
    response = admin_client.get(url, {"link__regex": "a{1,256}"}, follow=True)
    assert response.redirect_chain == [(f"{url}?e=1", 302)]
    assert messages_of(response) == [f"{REFUSED}the filter link__regex='a{{1,256}}' could not be applied. {OUT_OF_RANGE}"]
    assert list(response.context["cl"].result_list) == [order]
    assert Order.objects.filter(pk=order.pk).exists()


def test_page_past_the_last_shows_the_list_with_a_message(admin_client, customer, monkeypatch) -> None:
    monkeypatch.setattr(admin.site._registry[Order], "list_per_page", 2)
    for _ in range(3):
        order_row(customer)
    url = reverse("admin:shop_order_changelist")
    response = admin_client.get(url, {"p": "9"}, follow=True)
    assert response.redirect_chain == [(f"{url}?e=1", 302)]
    assert messages_of(response) == [f"{REFUSED}there is no page 9."]


def test_search_keeps_its_first_words_and_says_what_it_dropped() -> None:
    words = [f"w{i}" for i in range(500)]
    text, note = search_bounded(" ".join(words))
    assert text.split() == words[:SEARCH_MAX_WORDS]
    assert note == f"The search used its first {SEARCH_MAX_WORDS} words; the other {500 - SEARCH_MAX_WORDS} were ignored."
    assert search_bounded('  "needs attention"  instagram  ') == ('  "needs attention"  instagram  ', "")  # within bounds: as typed


def test_search_cuts_long_words_and_a_cut_phrase_stays_one_quoted_phrase() -> None:
    long = "x" * (SEARCH_MAX_WORD_CHARS + 50)
    text, note = search_bounded(f'{long} "a phrase of {long}\\\\" short')
    phrase = '"a phrase of ' + "x" * (SEARCH_MAX_WORD_CHARS - len('"a phrase of "')) + '"'
    assert list(smart_split(text)) == ["x" * SEARCH_MAX_WORD_CHARS, phrase, "short"]
    assert len(phrase) == SEARCH_MAX_WORD_CHARS
    assert note == f"Words longer than {SEARCH_MAX_WORD_CHARS} characters were cut to their first {SEARCH_MAX_WORD_CHARS}."


def test_customer_search_of_many_words_is_cut_with_a_message(admin_client) -> None:
    response = admin_client.get(reverse("admin:auth_user_changelist"), {"q": " ".join(["admin"] * 30)})
    assert response.status_code == 200
    assert response.context["cl"].query == " ".join(["admin"] * SEARCH_MAX_WORDS)
    assert messages_of(response) == [f"The search used its first {SEARCH_MAX_WORDS} words; the other 20 were ignored."]
    assert "admin" in [user.username for user in response.context["cl"].result_list]


@pytest.mark.django_db
def test_an_autocomplete_search_with_a_nul_answers_instead_of_failing(admin_client) -> None:
    """The autocomplete of a customer on the orders page searches the customers' admin: PostgreSQL refuses NUL in text."""
    UserFactory(username="ab")
    response = admin_client.get(
        "/admin/autocomplete/", {"app_label": "shop", "model_name": "order", "field_name": "user", "term": "a\x00b"}
    )
    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == ["ab"]
