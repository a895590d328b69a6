"""The sandbox panel's API actions: one handler per action, answering with a reply or a panel error.

`PanelActions` is the half of `SandboxPanel` that reads parameters and state
and answers; every change it decides on goes through `_record` as an event.
`SandboxPanel.handle` calls these under its lock, after the key check and
with refunds settled, so a handler sees a consistent panel at one `now`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from .catalogue import SandboxService
from .orders import Order, OrderView, draw_outcome, money, order_view, refill_status_word
from .subscriptions import draw_units
from .validation import AddError, echo_id, err, id_list, parse_add

__all__ = ["PanelActions"]


class PanelActions:
    """The action handlers of `SandboxPanel`, which owns the state named below."""

    _seed: int
    _stage: float
    _currency: str
    _reject_duplicates: bool
    _balance: Decimal
    _services: dict[int, SandboxService]
    _services_json: bytes | None
    _orders: dict[int, Order]
    _by_link: defaultdict[str, list[int]]
    _refills: dict[int, tuple[int, float]]
    _next_order: int
    _next_refill: int
    _record: Callable[[dict[str, Any]], None]

    def _do_services(self, params: Mapping[str, str], now: float) -> bytes:
        if self._services_json is None:
            payload = [service.to_api() for service in self._services.values()]
            self._services_json = json.dumps(payload, separators=(",", ":")).encode()
        return self._services_json

    def _do_balance(self, params: Mapping[str, str], now: float) -> object:
        return {"balance": money(self._balance), "currency": self._currency}

    def _do_add(self, params: Mapping[str, str], now: float) -> object:
        raw_id = (params.get("service") or "").strip()
        service = self._services.get(int(raw_id)) if raw_id.isascii() and raw_id.isdigit() else None
        if service is None:
            return err("Incorrect service ID")
        try:
            request = parse_add(service, params, now)
        except AddError as exc:
            return err(str(exc))
        if self._reject_duplicates and any(not self._view(self._orders[oid], now).final for oid in self._by_link[request.link]):
            return err("You have active order with this link. Please wait until order being completed.")
        if request.charge > self._balance:
            return err("Not enough funds on balance")
        order_id = self._next_order
        outcome, remains, start_count = draw_outcome(self._seed, order_id, request.quantity)
        sub = request.subscription
        subscription: dict[str, object] = {}
        if sub is not None:
            subscription = {"sub": asdict(sub), "units": draw_units(self._seed, order_id, sub), "rate": str(service.rate)}
        self._record(
            {
                **subscription,
                "ev": "add",
                "id": order_id,
                "service": service.service,
                "type": service.type,
                "link": request.link,
                "quantity": request.quantity,
                "charge": str(request.charge),
                "created": now,
                "outcome": outcome,
                "remains": remains,
                "start_count": start_count,
                "refill": service.refill,
                "cancel": service.cancel,
            }
        )
        return {"order": order_id}

    def _do_status(self, params: Mapping[str, str], now: float) -> object:
        single = (params.get("order") or "").strip()
        if single:
            order = self._find(single)
            return self._status_reply(order, now) if order else err("Incorrect order ID")
        tokens = id_list(params.get("orders"))
        if tokens is None:
            return err("Incorrect request")
        replies: dict[str, object] = {}
        for token in tokens:
            order = self._find(token)
            replies[token] = self._status_reply(order, now) if order else err("Incorrect order ID")
        return replies

    def _do_refill(self, params: Mapping[str, str], now: float) -> object:
        single = (params.get("order") or "").strip()
        if single:
            result = self._refill_one(single, now)
            return {"refill": str(result)} if isinstance(result, int) else err(result)
        tokens = id_list(params.get("orders"))
        if tokens is None:
            return err("Incorrect request")
        replies = []
        for token in tokens:
            result = self._refill_one(token, now)
            value = result if isinstance(result, int) else err(result)
            replies.append({"order": echo_id(token), "refill": value})
        return replies

    def _do_refill_status(self, params: Mapping[str, str], now: float) -> object:
        single = (params.get("refill") or "").strip()
        if single:
            status = self._refill_status(single, now)
            return {"status": status} if status else err("Refill not found")
        tokens = id_list(params.get("refills"))
        if tokens is None:
            return err("Incorrect request")
        return [{"refill": echo_id(token), "status": self._refill_status(token, now) or err("Refill not found")} for token in tokens]

    def _do_cancel(self, params: Mapping[str, str], now: float) -> object:
        tokens = id_list(params.get("orders"))
        if tokens is None:
            return err("Incorrect request")
        replies = []
        for token in tokens:
            order = self._find(token)
            value: object
            if order is None:
                value = err("Incorrect order ID")
            elif not order.cancel_ok or self._view(order, now).final:
                value = err("Order not eligible for cancel.")
            else:
                self._record({"ev": "cancel", "id": order.id, "at": now})
                value = 1
            replies.append({"order": echo_id(token), "cancel": value})
        return replies

    # -- reading orders and refills -------------------------------------------

    def _view(self, order: Order, now: float) -> OrderView:
        return order_view(order, now, self._stage)

    def _status_reply(self, order: Order, now: float) -> dict[str, object]:
        view = self._view(order, now)
        if order.subscription is not None:
            # As panels answer for subscriptions: no charge or remains; the orders made for its posts so far.
            return {"status": view.status, "posts": str(view.posts), "orders": [order.id * 10_000 + n for n in range(1, view.posts + 1)]}
        return {
            "charge": "0" if view.status == "Canceled" else money(view.charge),
            "start_count": str(view.start_count),
            "status": view.status,
            "remains": str(view.remains),
            "currency": self._currency,
        }

    def _find(self, token: str) -> Order | None:
        token = token.strip()
        return self._orders.get(int(token)) if token.isascii() and token.isdigit() else None

    def _refill_one(self, token: str, now: float) -> int | str:
        order = self._find(token)
        if order is None:
            return "Incorrect order ID"
        view = self._view(order, now)
        if not (order.refill_ok and view.final and view.status in ("Completed", "Partial")):
            return "Order not eligible for refill."
        refill_id = self._next_refill
        self._record({"ev": "refill", "id": refill_id, "order": order.id, "created": now})
        return refill_id

    def _refill_status(self, token: str, now: float) -> str | None:
        token = token.strip()
        refill = self._refills.get(int(token)) if token.isascii() and token.isdigit() else None
        if refill is None:
            return None
        return refill_status_word(refill[1], now, self._stage)
