"""What one simulated customer does, for bench/load.py (locust, headless).

Each customer is a real account of the throw-away shop that load.py prepared:
logged in (a session cookie made beforehand, so no password hashing skews the
figures), with money and an API key. It reads pages, orders through the web
form and through the API, and polls its orders' statuses as a reseller's
script would. A reply that is not what a working shop answers counts as a
failure in locust's figures.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from urllib.parse import urlsplit

from locust import HttpUser, between, task

with open(os.environ["LOAD_ACCOUNTS"]) as accounts_file:
    SETUP = json.load(accounts_file)
ACCOUNTS = itertools.cycle(SETUP["accounts"])
SERVICES = SETUP["services"]
ORDER_URL = re.compile(r"/orders/(\d+)/$")


class Customer(HttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        account = next(ACCOUNTS)
        self.key = account["key"]
        self.client.cookies.set("sessionid", account["session"], domain=urlsplit(self.host).hostname)
        self.orders: list[int] = []

    def _link(self) -> str:
        return f"https://instagram.com/p/{random.randrange(10**9)}"

    # Pages -----------------------------------------------------------------------------
    @task(3)
    def services_page(self) -> None:
        self.client.get("/services/")

    @task(3)
    def orders_page(self) -> None:
        self.client.get("/orders/")

    @task(1)
    def balance_page(self) -> None:
        self.client.get("/balance/")

    @task(2)
    def order_through_the_form(self) -> None:
        service = random.choice(SERVICES)
        self.client.get(f"/order/?service={service['id']}", name="/order/?service=[id]")
        data = {
            "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
            "service": service["id"],
            "link": self._link(),
            "quantity": str(service["min"]),
        }
        with self.client.post("/order/", data=data, name="/order/ [place]", catch_response=True) as reply:
            placed = ORDER_URL.search(reply.url or "")
            if reply.status_code != 200 or not placed:
                reply.failure(f"not placed: HTTP {reply.status_code} at {reply.url}")
            else:
                self.orders.append(int(placed.group(1)))

    # API -------------------------------------------------------------------------------
    def _api(self, name: str, **params: str) -> object:
        with self.client.post("/api/v2", data={"key": self.key, **params}, name=f"/api/v2 {name}", catch_response=True) as reply:
            try:
                body = reply.json()
            except ValueError:
                reply.failure(f"not JSON: HTTP {reply.status_code}")
                return None
            if reply.status_code != 200 or (isinstance(body, dict) and "error" in body):
                reply.failure(f"HTTP {reply.status_code}: {body}")
                return None
            return body

    @task(2)
    def api_add(self) -> None:
        service = random.choice(SERVICES)
        body = self._api("add", action="add", service=str(service["id"]), link=self._link(), quantity=str(service["min"]))
        if isinstance(body, dict) and "order" in body:
            self.orders.append(int(body["order"]))

    @task(3)
    def api_status(self) -> None:
        if self.orders:
            self._api("status (many)", action="status", orders=",".join(map(str, self.orders[-100:])))

    @task(1)
    def api_balance(self) -> None:
        self._api("balance", action="balance")

    @task(1)
    def api_services(self) -> None:
        self._api("services", action="services")
