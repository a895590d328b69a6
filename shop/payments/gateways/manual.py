"""Manual transfer: the customer pays outside the shop and gives a reference; staff approve or reject in admin.

Nothing to start, no notification, nothing to fetch: only staff credit it.
"""

from __future__ import annotations

from collections.abc import Mapping

from shop.payments.interface import Checkout, NotificationRejected, Report, Urls
from shop.payments.models import PaymentMethod, TopUp


def start(*, method: PaymentMethod, topup: TopUp, urls: Urls) -> Checkout:
    return Checkout()


def verify(*, method: PaymentMethod, body: bytes, headers: Mapping[str, str]) -> list[Report]:
    raise NotificationRejected("Manual transfers have no notifications.")


def fetch(*, method: PaymentMethod, topup: TopUp) -> Report | None:
    return None
