"""Storefront views: parse the request, call a selector or service, render."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from shop.selectors import provider_service_categories


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/home.html", {"categories": provider_service_categories()})
