"""config/wsgi.py: the reseller API's calls take a chain of their own, without the middleware that serves pages."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from prometheus_client import REGISTRY

from config import wsgi
from shop.orders.placement import order_place

LINK = "https://instagram.com/p/chain"


@pytest.fixture(autouse=True)
def _keep_the_test_transaction() -> Iterator[None]:
    """As Django's test client does: a request must not close the connection that holds the test's transaction."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def served(path: str, data: dict[str, str] | None = None, cookie: str = "") -> tuple[str, dict[str, str], bytes]:
    """(status line, headers, body) of one request through the WSGI application gunicorn serves."""
    body = urlencode(data).encode() if data is not None else b""
    environ = {
        "REQUEST_METHOD": "POST" if data is not None else "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "HTTP_ACCEPT_LANGUAGE": "es",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    started: list[tuple[str, list[tuple[str, str]]]] = []
    result = wsgi.application(environ, lambda status, headers, exc_info=None: started.append((status, headers)))
    try:
        content = b"".join(result)
    finally:
        result.close()
    status, headers = started[0]
    return status, {name.lower(): value for name, value in headers}, content


def api_calls() -> float:
    return REGISTRY.get_sample_value("django_http_responses_total", {"view": "api-v2", "method": "POST", "status": "200"}) or 0


@pytest.mark.django_db
def test_an_api_call_is_answered_through_its_own_chain_with_the_same_reply_and_headers(catalogue, customer, key, client) -> None:
    order = order_place(user=customer, service=catalogue["1"], link=LINK, quantity=100)
    params = {"key": key, "action": "status", "orders": f"{order.pk},999999"}
    counted = api_calls()

    status, headers, body = served("/api/v2", params, cookie=f"{settings.SESSION_COOKIE_NAME}=whatever; django_language=es")

    assert status == "200 OK"
    assert api_calls() == counted + 1  # still counted by the request metrics, under the API's view
    # The same reply as through every middleware (the test client's chain).
    assert json.loads(body) == client.post("/api/v2", params).json()
    assert json.loads(body)[str(order.pk)]["status"] == "Pending"
    # The headers an API reply keeps: no caching of balances and orders, no sniffing, no framing, English.
    assert headers["content-type"] == "application/json"
    assert "no-store" in headers["cache-control"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-language"] == "en"
    # Without the page middleware: no session read or written, no language negotiated, no page policy.
    assert "set-cookie" not in headers
    assert "vary" not in headers
    assert "content-security-policy" not in headers


@pytest.mark.django_db
def test_the_api_path_with_a_slash_takes_the_same_chain_and_every_other_path_the_full_one(key) -> None:
    _, api_headers, body = served("/api/v2/", {"key": key, "action": "balance"})
    assert json.loads(body)["balance"] == "100.0000"  # the customer fixture's deposit
    assert "content-security-policy" not in api_headers

    _, page_headers, _ = served("/")
    assert "content-security-policy" in page_headers  # the storefront, through every middleware
    _, near_headers, _ = served("/api/v2x", {"key": key, "action": "balance"})
    assert "content-security-policy" in near_headers


def test_the_api_chain_is_the_api_middleware_and_the_pages_keep_theirs() -> None:
    assert settings.API_MIDDLEWARE[0] == settings.MIDDLEWARE[0]  # the metrics first in both: their time covers the rest
    assert set(settings.API_MIDDLEWARE) < set(settings.MIDDLEWARE)
    # Building the API's chain left the pages' setting as it was.
    assert "django.contrib.sessions.middleware.SessionMiddleware" in settings.MIDDLEWARE
