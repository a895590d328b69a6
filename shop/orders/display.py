"""How an order's figures are shown to its customer (admins see the provider's raw values)."""

from __future__ import annotations


def customer_remains(*, remains: int | None, total_quantity: int) -> int | None:
    """The provider's remains clamped to 0..total quantity; None (not known yet) stays None.

    Panels report over-delivery as negative remains ("-2") and sometimes more than
    was ordered: the customer sees neither.
    """
    if remains is None:
        return None
    return min(max(remains, 0), total_quantity)
