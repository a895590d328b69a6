"""Customer pages: parse the request, call a selector or service, render."""

from __future__ import annotations

from uuid import uuid4

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from shop.catalogue import selectors as catalogue
from shop.core.numbers import id_number
from shop.orders.display import customer_remains
from shop.orders.history import Actor
from shop.orders.models import Order, OrderStatus
from shop.orders.placement import AlreadyPlaced, OrderRejected, order_place
from shop.orders.requests import RequestRefused, order_can_cancel, order_can_refill, order_cancel, order_refill, order_refill_wait
from shop.orders.selectors import STATUS_TABS, order_list_for_user
from shop.orders.timeline import order_timeline
from shop.storefront.forms import OrderForm, OrderSearchForm, ServiceFilterForm
from shop.storefront.pagination import page_of
from shop.wallet.selectors import balance_of, hold_of, ledger_for_user

SERVICES_PER_PAGE = 100
ORDERS_PER_PAGE = 25
LEDGER_PER_PAGE = 50


def services(request: HttpRequest) -> HttpResponse:
    form = ServiceFilterForm(request.GET)
    category_id, query = (form.cleaned_data["category"], form.cleaned_data["q"]) if form.is_valid() else (None, "")
    page = page_of(catalogue.service_search(category_id=category_id, query=query), request.GET.get("page"), SERVICES_PER_PAGE)
    return render(
        request,
        "shop/services.html",
        {
            "page": page,
            "offers": catalogue.service_offers(page.object_list),
            "categories": catalogue.visible_categories(),
            "category_id": category_id,
            "query": query,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_new(request: HttpRequest) -> HttpResponse:
    form = OrderForm(request.POST or None, initial={"form_token": uuid4()})
    if request.method == "POST" and form.is_valid():
        try:
            order = order_place(user=request.user, service=form.cleaned_data["service"], **form.placement_data())
        except AlreadyPlaced as exc:
            messages.info(request, f"This form was already sent: it placed order #{exc.order.pk}. Nothing more was charged.")
            return redirect("order-detail", pk=exc.order.pk)
        except OrderRejected as exc:
            for field, message in exc.errors.items():
                form.add_error(None if field in {"__all__", "service"} or field not in form.fields else field, message)
        else:
            messages.success(request, f"Order #{order.pk} placed: {order.charge} {settings.SHOP_CURRENCY} charged.")
            return redirect("order-detail", pk=order.pk)
    categories = list(catalogue.visible_categories())
    chosen = _chosen_service(request, form)
    asked = ServiceFilterForm(request.GET)
    asked_category = asked.cleaned_data["category"] if asked.is_valid() else None
    category_ids = {category.pk for category in categories}
    if chosen:
        category_id = chosen.category_id
    elif asked_category in category_ids:
        category_id = asked_category
    else:
        category_id = categories[0].pk if categories else None
    offers = catalogue.service_offers(catalogue.service_search(category_id=category_id)) if category_id else []
    return render(
        request,
        "shop/order_new.html",
        {
            "form": form,
            "categories": categories,
            "category_id": category_id,
            "offers": offers,
            "offers_data": [offer.as_json() for offer in offers],
            "chosen_id": chosen.pk if chosen else (offers[0].id if offers else None),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_GET
def services_json(request: HttpRequest) -> JsonResponse:
    form = ServiceFilterForm(request.GET)
    if not form.is_valid() or not form.cleaned_data["category"]:
        return JsonResponse({"error": "Give a category number."}, status=400)
    offers = catalogue.service_offers(catalogue.service_search(category_id=form.cleaned_data["category"]))
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
            "rows": [
                (order, OrderStatus.customer_label(order.status), _remains(order), *_requests_allowed(order)) for order in page.object_list
            ],
            "tabs": [("", "All"), *((key, label) for key, (label, _) in STATUS_TABS.items())],
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
            "status": OrderStatus.customer_label(order.status),
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
@require_http_methods(["POST"])
def order_refill_request(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(Order.objects.select_related("provider", "provider_service"), pk=pk, user=request.user)
    try:
        refill = order_refill(order=order, actor=Actor.web(request.user))
    except RequestRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Refill #{refill.pk} requested; the provider is asked now.")
    return redirect("order-detail", pk=order.pk)


@login_required
@require_http_methods(["POST"])
def order_cancel_request(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(Order.objects.select_related("provider", "provider_service", "user"), pk=pk, user=request.user)
    try:
        order = order_cancel(order=order, actor=Actor.web(request.user))
    except RequestRefused as exc:
        messages.error(request, str(exc))
    else:
        done = order.status == OrderStatus.CANCELED
        messages.success(
            request,
            "Order canceled and refunded."
            if done
            else "Cancellation requested; the provider is asked now and the refund follows when it confirms.",
        )
    return redirect("order-detail", pk=order.pk)


@login_required
@require_GET
def orders_status_json(request: HttpRequest) -> JsonResponse:
    """Current status of some of the customer's own orders, for the pages' live refresh."""
    raw = request.GET.get("ids", "")
    ids = [number for part in raw.split(",") if (number := id_number(part)) is not None][:100]
    rows = Order.objects.filter(user=request.user, pk__in=ids).values(
        "pk", "status", "start_count", "remains", "total_quantity", "refunded"
    )
    return JsonResponse(
        {
            "orders": {
                str(row["pk"]): {
                    "status": OrderStatus.customer_label(row["status"]),
                    "live": row["status"] in OrderStatus.LIVE,
                    "start_count": row["start_count"],
                    "remains": customer_remains(remains=row["remains"], total_quantity=row["total_quantity"]),
                    "refunded": str(row["refunded"]),
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


def _chosen_service(request: HttpRequest, form: OrderForm):
    raw = form.data.get("service") if form.is_bound else request.GET.get("service")
    number = id_number(raw) if raw else None
    if number is None:
        return None
    return catalogue.orderable_services().filter(pk=number).first()


def home(request: HttpRequest) -> HttpResponse:
    return redirect(reverse("order-new") if request.user.is_authenticated else reverse("services"))


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and uptime checks: the web process answers (no database involved)."""
    return JsonResponse({"status": "ok"})
