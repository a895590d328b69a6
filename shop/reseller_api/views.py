"""The reseller API endpoint and the customer's API page (key and documentation)."""

from __future__ import annotations

import json
import logging
import math
import time

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from shop.core.client_address import client_address
from shop.reseller_api.actions import ACTIONS
from shop.reseller_api.endpoint import api_call
from shop.reseller_api.handlers import INCORRECT_REQUEST, EncodedReply
from shop.reseller_api.keys import api_key_issue
from shop.reseller_api.models import ApiKey

logger = logging.getLogger(__name__)
MAX_JSON_BODY = 2 * 1024 * 1024
#: The session entry that carries a new API key from ``api_key_new`` to its one display on ``api_page``.
NEW_KEY_SESSION = "api_new_key"
# A new key waits in the session only for the redirect that shows it: older, or no longer the working key, it is not shown.
NEW_KEY_SHOWN_WITHIN = 120


@never_cache  # replies carry balances and orders (issue 17)
@csrf_exempt
def api_v2(request: HttpRequest) -> HttpResponse:
    """POST form data (or a JSON object) with key and action; always answers JSON, in English whatever the
    client's Accept-Language: resellers' code compares the API's texts (statuses, errors) as the contract writes them."""
    with translation.override("en"):
        response = _api_v2(request)
    response["Content-Language"] = "en"  # LocaleMiddleware would name the client's language
    return response


def _api_v2(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return JsonResponse({"error": INCORRECT_REQUEST}, status=405)
    params = _params(request)
    if params is None:
        return JsonResponse({"error": INCORRECT_REQUEST})
    try:
        status, reply = api_call(params=params, client_address=client_address(request))
    except Exception:
        # Never an HTML error page for an API client; the traceback goes to the log.
        logger.exception("API call %r failed", params.get("action", "")[:32])
        return JsonResponse({"error": "Internal error, try again later"}, status=500)
    if isinstance(reply, EncodedReply):
        return HttpResponse(reply, status=status, content_type="application/json")
    return JsonResponse(reply, status=status, safe=False)


def _params(request: HttpRequest) -> dict[str, str] | None:
    try:
        if request.content_type == "application/json":
            return _json_params(request.body)
        return {name: request.POST.get(name, "") for name in request.POST}
    # Too big, too many fields, a body not in UTF-8, a broken multipart body, JSON nested deeper than
    # Python's stack (RecursionError, in parsing or in writing a member back as text): a JSON error,
    # not Django's HTML 400 or 500 page.
    except (ValueError, RecursionError, SuspiciousOperation, BadRequest, MultiPartParserError):
        return None


def _json_params(body: bytes) -> dict[str, str] | None:
    """The members of a JSON object, each as text (a non-string as its JSON); None for anything else.

    Strict JSON: Python's parser also takes NaN and Infinity, numbers too large
    for a float (1e999 becomes infinity) and repeated names (the last wins);
    each is refused here, with ValueError, like any other body the API cannot read.
    """
    if len(body) > MAX_JSON_BODY:
        return None
    data = json.loads(body or b"{}", parse_constant=_not_json, parse_float=_finite, object_pairs_hook=_unique_names)
    if not isinstance(data, dict):
        return None
    params = {name: value if isinstance(value, str) else json.dumps(value) for name, value in data.items()}
    # JSON can escape a lone surrogate ("\ud800"): not text, and no database or hash takes it (UnicodeEncodeError).
    "".join([*params, *params.values()]).encode()
    return params


def _not_json(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("a number out of range")
    return number


def _unique_names(pairs: list[tuple[str, object]]) -> dict[str, object]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("a repeated name")
    return members


@never_cache  # it may show a new key: never kept by the browser or a proxy
@login_required
@require_GET
def api_page(request: HttpRequest) -> HttpResponse:
    """The key's state and the documentation; a key just made by ``api_key_new`` is shown here, once."""
    # Carried in the session (stored server-side: SESSION_ENGINE is the database), never in the URL or the messages
    # framework, whose cookie storage would send it back and forth; popped, so a reload no longer shows it.
    waiting = request.session.pop(NEW_KEY_SESSION, None)
    key = ApiKey.objects.filter(user=request.user).first()
    new_key = None
    if isinstance(waiting, dict) and isinstance(waiting.get("key"), str) and isinstance(waiting.get("at"), (int, float)):
        fresh = 0 <= time.time() - waiting["at"] <= NEW_KEY_SHOWN_WITHIN
        working = key is not None and key.revoked_at is None and waiting["key"].startswith(key.prefix)
        new_key = waiting["key"] if fresh and working else None
    endpoint = request.build_absolute_uri(reverse("api-v2"))
    return render(
        request,
        "shop/api.html",
        {
            "key": key,
            "new_key": new_key,
            "endpoint": endpoint,
            "actions": [_doc(definition, endpoint) for definition in ACTIONS],
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def api_key_new(request: HttpRequest) -> HttpResponse:
    """GET asks first (the old key stops working); the confirmation's POST makes the key and redirects to the page that shows it.

    A POST without ``confirm=yes`` changes nothing and asks again; after the redirect a reload repeats only the GET.
    """
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        request.session[NEW_KEY_SESSION] = {"key": api_key_issue(user=request.user), "at": time.time()}
        return redirect("api-page")
    key = ApiKey.objects.filter(user=request.user).first()
    return render(request, "shop/api_key_confirm.html", {"key": key, "working": key is not None and key.revoked_at is None})


def _doc(definition, endpoint: str) -> dict[str, object]:
    fields = {"key": "YOUR_API_KEY", **definition.example}
    curl = "curl -X POST " + endpoint + "".join(f" \\\n  -d {name}={value}" for name, value in fields.items())
    python = f"import requests\n\nreply = requests.post({endpoint!r}, data={fields!r}, timeout=30)\nprint(reply.json())"
    php_fields = ", ".join(f"'{name}' => '{value}'" for name, value in fields.items())
    php = (
        "<?php\n"
        f"$ch = curl_init('{endpoint}');\n"
        "curl_setopt($ch, CURLOPT_POST, true);\n"
        f"curl_setopt($ch, CURLOPT_POSTFIELDS, http_build_query([{php_fields}]));\n"
        "curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);\n"
        "var_dump(json_decode(curl_exec($ch), true));"
    )
    return {
        "definition": definition,
        "anchor": f"{definition.action}-{definition.selector or 'single'}",
        "reply": json.dumps(definition.reply, indent=2),
        "curl": curl,
        "python": python,
        "php": php,
    }
