"""Admin for the audit trail of provider calls, and the provider health panel computed from it (``shop.observability.panel``)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from shop.catalogue.models import UpstreamCall
from shop.core.admin import ReadOnlyAdmin
from shop.observability.panel import provider_health_panel


@admin.register(UpstreamCall)
class UpstreamCallAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "provider", "action", "outcome", "http_status", "duration_ms", "error"]
    list_filter = ["outcome", "action", "provider"]
    search_fields = ["error", "excerpt"]
    list_select_related = ["provider"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [path("health/", self.admin_site.admin_view(self.health_view), name=f"{info}_health"), *super().get_urls()]

    def health_view(self, request: HttpRequest) -> HttpResponse:
        """The provider health panel (``shop.observability.panel``): whoever may read the audit records."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Provider health",
            "opts": self.opts,
            "panel": provider_health_panel(),
        }
        return TemplateResponse(request, "admin/shop/upstreamcall/health.html", context)
