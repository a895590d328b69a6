"""The public service updates page and its Atom feed: new services, disabled and enabled again, retail price changes."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from shop.catalogue.models import ServiceUpdate
from shop.catalogue.selectors import ServiceNotice, service_notices, service_updates_visible
from shop.storefront.branding import branding_current
from shop.storefront.pagination import page_of
from shop.storefront.templatetags.shop_format import format_money, format_rate

UPDATES_PER_PAGE = 50
FEED_ITEMS = 50
Kind = ServiceUpdate.Kind


@require_GET
def service_updates(request: HttpRequest) -> HttpResponse:
    page = page_of(service_updates_visible(), request.GET.get("page"), UPDATES_PER_PAGE)
    return render(request, "shop/updates.html", {"page": page, "notices": service_notices(page.object_list)})


def price_words(rate: object, *, package: bool) -> str:
    """``1.25 USD per 1000``, or a package's flat price ``25.00 USD``."""
    if package:
        return f"{format_money(rate)} {settings.SHOP_CURRENCY}"
    return _("%(rate)s %(currency)s per 1000") % {"rate": format_rate(rate), "currency": settings.SHOP_CURRENCY}


def notice_words(notice: ServiceNotice) -> str:
    """What changed, in one sentence: the feed's entry text."""
    new = price_words(notice.new_rate, package=notice.package) if notice.new_rate is not None else ""
    if notice.kind == Kind.NEW:
        return _("New service, at %(price)s.") % {"price": new}
    if notice.kind == Kind.DISABLED:
        return _("No longer available to order.")
    if notice.kind == Kind.ENABLED:
        if notice.old_rate is not None and notice.old_rate != notice.new_rate:
            old = price_words(notice.old_rate, package=notice.package)
            return _("Available again, at %(price)s (was %(old)s).") % {"price": new, "old": old}
        return _("Available again, at %(price)s.") % {"price": new}
    return _("Price changed from %(old)s to %(price)s.") % {"old": price_words(notice.old_rate, package=notice.package), "price": new}


class ServiceUpdatesFeed(Feed):
    """The newest ``FEED_ITEMS`` updates as Atom; readers poll it, so it is as cheap as one page."""

    feed_type = Atom1Feed

    def title(self) -> str:
        return _("%(shop)s: service updates") % {"shop": branding_current().name}

    def subtitle(self) -> str:
        return _("New services, services disabled and available again, and price changes.")

    def link(self) -> str:
        return reverse("service-updates")

    def items(self) -> list[ServiceNotice]:
        return service_notices(service_updates_visible()[:FEED_ITEMS])

    def item_title(self, item: ServiceNotice) -> str:
        return f"#{item.service_id} {item.service}: {item.label.lower()}"  # the label: ServiceUpdate.Kind's, translated

    def item_description(self, item: ServiceNotice) -> str:
        return notice_words(item)

    def item_link(self, item: ServiceNotice) -> str:
        return f"{reverse('service-updates')}#update-{item.id}"

    def item_pubdate(self, item: ServiceNotice) -> datetime:
        return item.created_at

    def item_updateddate(self, item: ServiceNotice) -> datetime:
        return item.created_at
