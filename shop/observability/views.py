"""The monitoring endpoints: ``/metrics`` for Prometheus and ``/health/`` for uptime checks (README, "Observability")."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.views.decorators.http import require_GET

from shop.observability.access import may_read_health_details, may_read_metrics
from shop.observability.health import health_report
from shop.observability.metrics import metrics_exposition


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_read_metrics(request):
        raise Http404("No such page.")
    body, content_type = metrics_exposition(accept=request.headers.get("Accept", ""))
    response = HttpResponse(body, content_type=content_type)
    add_never_cache_headers(response)
    return response


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 ``{"status": "ok"}`` or 503 ``{"status": "unhealthy"}``; each check's outcome too for the token or staff."""
    report = health_report()
    body: dict[str, object] = {"status": "ok" if report.healthy else "unhealthy"}
    if may_read_health_details(request):
        body["checks"] = {check.name: check.problem or "ok" for check in report.checks}
    response = JsonResponse(body, status=200 if report.healthy else 503)
    add_never_cache_headers(response)
    patch_vary_headers(response, ["Authorization", "Cookie"])
    return response
