"""One API call from parameters to reply: the key, the limits, the action, the handler."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from shop.core.limits import Limit, rate_limit_count, rate_limit_hit
from shop.reseller_api.actions import action_find
from shop.reseller_api.handlers import INCORRECT_REQUEST, INVALID_KEY, TOO_MANY, ApiError
from shop.reseller_api.keys import api_key_caller

BAD_KEY_WINDOW = 600


def api_call(*, params: Mapping[str, str], client_address: str) -> tuple[int, object]:
    """Answer one API call: (HTTP status, JSON-able reply). Never raises for bad input."""
    action = params.get("action", "").strip()
    definition = action_find(action, params)
    # What the action reads first comes in the key's statement (status, add); the limits are counted before it acts.
    reader = definition.reader(params) if definition is not None and definition.reader is not None else None
    user, read = api_key_caller(key=params.get("key", ""), read=reader)
    if user is None:
        # Guessing keys costs: past the limit an address gets no answers for a
        # while. (A valid key is answered anyway: it proves nothing is guessed.)
        bad_keys = Limit(f"api-bad-key:{client_address}", settings.API_BAD_KEY_LIMIT, BAD_KEY_WINDOW)
        if bad_keys.limit > 0 and rate_limit_count(bad_keys) >= bad_keys.limit:
            return 429, {"error": TOO_MANY}
        if rate_limit_hit(bad_keys)[0]:
            return 429, {"error": TOO_MANY}
        return 200, {"error": INVALID_KEY}
    # All calls count against one limit, orders against a second, the order and refill ids a call
    # names against a third (orders=1,...,100 counts 100); all in one round trip.
    limits = [Limit(f"api:{user.pk}", settings.API_RATE_LIMIT, 60)]
    if action == "add":
        limits.append(Limit(f"api-add:{user.pk}", settings.API_ADD_RATE_LIMIT, 60))
    if definition is not None and (ids := definition.ids_touched(params)):
        limits.append(Limit(f"api-ids:{user.pk}", settings.API_IDS_RATE_LIMIT, 60, cost=ids))
    if any(rate_limit_hit(*limits)):
        return 429, {"error": TOO_MANY}
    if definition is None:
        return 200, {"error": INCORRECT_REQUEST}
    try:
        return 200, definition.handler(user, params) if reader is None else definition.handler(user, params, read)
    except ApiError as exc:
        return 200, {"error": exc.message}
