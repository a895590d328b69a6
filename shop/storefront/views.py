"""Customer pages: parse the request, call a selector or service, render."""

from __future__ import annotations

from uuid import uuid4

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from shop.catalogue import selectors as catalogue
from shop.catalogue.pricing import CustomerPrices
from shop.core.numbers import id_number
from shop.orders.display import cancel_refusal, customer_remains, customer_status, refill_refusal
from shop.orders.history import Actor
from shop.orders.models import Order, OrderStatus
from shop.orders.placement import AlreadyPlaced, OrderRejected, order_place
from shop.orders.requests import RequestRefused, order_can_cancel, order_can_refill, order_cancel, order_refill, order_refill_wait
from shop.orders.selectors import STATUS_TABS, order_list_for_user
from shop.orders.subscriptions import posts_done_words
from shop.orders.timeline import order_timeline
from shop.orders.types import CONTROL_RE, LINK_RE, MAX_LINK
from shop.storefront.forms import WEB_WORDING, OrderForm, OrderPrefill, OrderSearchForm, ServiceFilterForm
from shop.storefront.pagination import page_of
from shop.storefront.selectors import customer_dashboard
from shop.storefront.templatetags.shop_format import format_money
from shop.wallet.selectors import balance_of, hold_of, ledger_for_user

SERVICES_PER_PAGE = 100
ORDERS_PER_PAGE = 25
LEDGER_PER_PAGE = 50
SEARCH_LIMIT = 20  # services a search lists at most: more words narrow it down


def services(request: HttpRequest) -> HttpResponse:
    form = ServiceFilterForm(request.GET)
    category_id, query = (form.cleaned_data["category"], form.cleaned_data["q"]) if form.is_valid() else (None, "")
    page = page_of(catalogue.service_search(category_id=category_id, query=query), request.GET.get("page"), SERVICES_PER_PAGE)
    return render(
        request,
        "shop/services.html",
        {
            "page": page,
            "offers": catalogue.service_offers(page.object_list, prices=catalogue.customer_prices(user=request.user)),
            "categories": catalogue.visible_categories(),
            "category_id": category_id,
            "query": query,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_new(request: HttpRequest) -> HttpResponse:
    # A link may fill in the form (?service=&link=&quantity=: "Order again"); what the customer posts wins.
    form = OrderForm(request.POST or None, initial={"form_token": uuid4(), **OrderPrefill.initial(request.GET)})
    if request.method == "POST" and form.is_valid():
        try:
            order = order_place(user=request.user, service=form.cleaned_data["service"], **form.placement_data())
        except AlreadyPlaced as exc:
            messages.info(
                request, _("This form was already sent: it placed order #%(id)s. Nothing more was charged.") % {"id": exc.order.pk}
            )
            return redirect("order-detail", pk=exc.order.pk)
        except OrderRejected as exc:
            form.add_rejection(exc)  # in people's words; the reseller API keeps the API's
        else:
            amount = f"{format_money(order.charge)} {settings.SHOP_CURRENCY}"
            if order.posts_done is not None:  # a subscription: the charge is a reserve
                messages.success(
                    request,
                    _("Order #%(id)s placed: %(amount)s reserved; the part not used comes back when it ends.")
                    % {"id": order.pk, "amount": amount},
                )
            else:
                messages.success(request, _("Order #%(id)s placed: %(amount)s charged.") % {"id": order.pk, "amount": amount})
            return redirect("order-detail", pk=order.pk)
    chosen = _chosen_service(request, form)
    if request.method == "GET" and request.GET.get("service") and chosen is None:
        # "Order again" of a service no longer offered: the link and quantity must not land on another service.
        messages.warning(request, _("That service is not available any more: choose another."))
        form = OrderForm(initial={"form_token": form.initial["form_token"]})
    context = {
        "form": form,
        **_order_choices(request, chosen),
        # What the page's script checks as the customer types: the server's own rules and wording.
        "order_config": {
            "currency": settings.SHOP_CURRENCY,
            "link_pattern": LINK_RE.pattern,
            "control_pattern": CONTROL_RE.pattern,
            "max_link": MAX_LINK,
            "wording": WEB_WORDING,
        },
    }
    return render(request, "shop/order_new.html", context, status=400 if request.method == "POST" else 200)


@login_required
@require_GET
def services_json(request: HttpRequest) -> JsonResponse:
    """One category's services (``?category=``), or those matching ``?q=`` by name or number in every category (at most
    ``SEARCH_LIMIT``; ``more`` says whether others match too)."""
    form = ServiceFilterForm(request.GET)
    if not form.is_valid() or not (form.cleaned_data["category"] or form.cleaned_data["q"]):
        return JsonResponse({"error": _("Give a category number, or a search of at most 100 characters.")}, status=400)
    prices = catalogue.customer_prices(user=request.user)
    if query := form.cleaned_data["q"]:
        offers, more = _service_search(query, prices)
        return JsonResponse({"services": [offer.as_json() for offer in offers], "more": more})
    offers = catalogue.service_offers(catalogue.service_search(category_id=form.cleaned_data["category"]), prices=prices)
    return JsonResponse({"services": [offer.as_json() for offer in offers]})


@login_required
@require_GET
def orders(request: HttpRequest) -> HttpResponse:
    form = OrderSearchForm(request.GET)
    tab, query = (form.cleaned_data["status"], form.cleaned_data["q"]) if form.is_valid() else ("", "")
    tab = tab if tab in STATUS_TABS else ""
    page = page_of(order_list_for_user(user=request.user, tab=tab, query=query), request.GET.get("page"), ORDERS_PER_PAGE)
    return render(
        request,
        "shop/orders.html",
        {
            "page": page,
            "rows": [(order, customer_status(order.status), _remains(order), *_requests_allowed(order)) for order in page.object_list],
            # The tabs' names are the customer labels, in English in STATUS_TABS (marked in OrderStatus.CUSTOMER_LABELS).
            "tabs": [("", _("All")), *((key, _(label)) for key, (label, __) in STATUS_TABS.items())],
            "tab": tab,
            "query": query,
            "live": any(order.status in OrderStatus.LIVE for order in page.object_list),
        },
    )


@login_required
@require_GET
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(Order.objects.select_related("service", "provider_service"), pk=pk, user=request.user)
    can_refill = order_can_refill(order=order)
    # A refill under way, or the cooldown after the last one: the page says why instead of offering the button.
    refill_wait = order_refill_wait(order=order) if can_refill else None
    return render(
        request,
        "shop/order_detail.html",
        {
            "order": order,
            "status": customer_status(order.status),
            "remains": _remains(order),
            "live": order.status in OrderStatus.LIVE,
            "refills": list(order.refills.all()[:20]),
            "timeline": order_timeline(order=order),
            "can_refill": can_refill and not refill_wait,
            "refill_wait": refill_wait,
            "can_cancel": order_can_cancel(order=order),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_refill_request(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks first (and changes nothing); the confirmation's POST asks the provider for the refill."""
    order = get_object_or_404(Order.objects.select_related("service", "provider", "provider_service"), pk=pk, user=request.user)
    if request.method == "GET":
        return _order_confirm(request, order, action="refill", refusal=refill_refusal(order=order))
    try:
        refill = order_refill(order=order, actor=Actor.web(request.user))
    except RequestRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Refill #%(id)s requested; the provider is asked now.") % {"id": refill.pk})
    return redirect("order-detail", pk=order.pk)


@login_required
@require_http_methods(["GET", "POST"])
def order_cancel_request(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks first (and changes nothing); the confirmation's POST cancels, or asks the provider to."""
    order = get_object_or_404(Order.objects.select_related("service", "provider", "provider_service", "user"), pk=pk, user=request.user)
    if request.method == "GET":
        return _order_confirm(request, order, action="cancel", refusal=cancel_refusal(order=order))
    try:
        order = order_cancel(order=order, actor=Actor.web(request.user))
    except RequestRefused as exc:
        messages.error(request, str(exc))
    else:
        done = order.status == OrderStatus.CANCELED
        messages.success(
            request,
            _("Order canceled and refunded.")
            if done
            else _("Cancellation requested; the provider is asked now and the refund follows when it confirms."),
        )
    return redirect("order-detail", pk=order.pk)


def _order_confirm(request: HttpRequest, order: Order, *, action: str, refusal: str | None) -> HttpResponse:
    """The confirmation step of a cancel or a refill: what will happen, or plainly why it cannot."""
    back = reverse("orders") if request.GET.get("from") == "orders" else reverse("order-detail", args=[order.pk])
    context = {
        "order": order,
        "status": customer_status(order.status),
        "action": action,
        "refusal": refusal,
        "back": back,
        "cancels_at_once": order.status == OrderStatus.AWAITING,
    }
    return render(request, "shop/order_confirm.html", context)


@login_required
@require_GET
def orders_status_json(request: HttpRequest) -> JsonResponse:
    """Current status of some of the customer's own orders, for the pages' live refresh."""
    raw = request.GET.get("ids", "")
    ids = [number for part in raw.split(",") if (number := id_number(part)) is not None][:100]
    rows = Order.objects.filter(user=request.user, pk__in=ids).values(
        "pk", "status", "start_count", "remains", "total_quantity", "refunded", "posts_done"
    )
    return JsonResponse(
        {
            "orders": {
                str(row["pk"]): {
                    "status": (status := customer_status(row["status"])).label,
                    "tone": status.tone,
                    "live": row["status"] in OrderStatus.LIVE,
                    "start_count": row["start_count"],
                    "remains": customer_remains(remains=row["remains"], total_quantity=row["total_quantity"]),
                    "posts": posts_done_words(row["posts_done"]),  # subscriptions only
                    "refunded": str(row["refunded"]),
                    # As the pages show it (the money filter); "refunded" stays the exact figure.
                    "refunded_shown": format_money(row["refunded"]),
                }
                for row in rows
            }
        }
    )


@login_required
@require_GET
def balance(request: HttpRequest) -> HttpResponse:
    # Top-up lines link to their top-up's page, by its public id: read in the same query.
    page = page_of(ledger_for_user(user=request.user).select_related("topup"), request.GET.get("page"), LEDGER_PER_PAGE)
    context = {"page": page, "balance": balance_of(user=request.user), "hold": hold_of(user=request.user)}
    return render(request, "shop/balance.html", context)


def _remains(order: Order) -> int | None:
    return customer_remains(remains=order.remains, total_quantity=order.total_quantity)


def _requests_allowed(order: Order) -> tuple[bool, bool]:
    return order_can_refill(order=order), order_can_cancel(order=order)


def _service_search(query: str, prices: CustomerPrices) -> tuple[list[catalogue.ServiceOffer], bool]:
    """The first ``SEARCH_LIMIT`` services matching ``query`` in every category, priced for the customer, and whether more match."""
    offers = catalogue.service_offers(catalogue.service_search(query=query)[: SEARCH_LIMIT + 1], prices=prices)
    return offers[:SEARCH_LIMIT], len(offers) > SEARCH_LIMIT


def _order_choices(request: HttpRequest, chosen) -> dict[str, object]:
    """What the order page offers: a search's matches in every category (``?q=``), else the services of one category
    (the chosen service's, the asked one, or the first), and the service chosen in the list."""
    asked = ServiceFilterForm(request.GET)
    category_id, query = (asked.cleaned_data["category"], asked.cleaned_data["q"]) if asked.is_valid() else (None, "")
    categories = list(catalogue.visible_categories())
    prices = catalogue.customer_prices(user=request.user)
    found, more = _service_search(query, prices) if query else ([], False)
    offers = found if chosen is None or any(offer.id == chosen.pk for offer in found) else []
    if not offers:
        if chosen is not None:
            category_id = chosen.category_id
        elif category_id not in {category.pk for category in categories}:
            category_id = categories[0].pk if categories else None
        offers = catalogue.service_offers(catalogue.service_search(category_id=category_id), prices=prices) if category_id else []
    offers_data = [offer.as_json() for offer in offers]
    chosen_data = next((data for data in offers_data if chosen is None or data["id"] == chosen.pk), None)  # else the first
    return {
        "categories": categories,
        "category_id": chosen_data["category"] if chosen_data else category_id,
        "query": query,
        "found": found,
        "more": more,
        "offers_data": offers_data,
        "chosen": chosen_data,
        "chosen_id": chosen_data["id"] if chosen_data else None,
    }


def _chosen_service(request: HttpRequest, form: OrderForm):
    raw = form.data.get("service") if form.is_bound else request.GET.get("service")
    number = id_number(raw) if raw else None
    if number is None:
        return None
    return catalogue.orderable_services().filter(pk=number).first()


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in customer's dashboard; visitors go to the services."""
    if not request.user.is_authenticated:
        return redirect("services")
    return render(request, "shop/home.html", {"dashboard": customer_dashboard(user=request.user)})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and uptime checks: the web process answers (no database involved)."""
    return JsonResponse({"status": "ok"})
