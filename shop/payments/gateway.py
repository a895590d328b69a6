"""The one entry to every payment gateway: the module for a method's kind (as Saleor's ``payment/gateway.py``)."""

from __future__ import annotations

from importlib import import_module

from shop.payments.interface import Gateway
from shop.payments.models import PaymentMethod

MODULES = {
    PaymentMethod.Kind.SANDBOX: "shop.payments.gateways.sandbox",
    PaymentMethod.Kind.MANUAL: "shop.payments.gateways.manual",
    PaymentMethod.Kind.STRIPE: "shop.payments.gateways.stripe_checkout",
    PaymentMethod.Kind.CRYPTOMUS: "shop.payments.gateways.cryptomus",
}


def gateway_for(method: PaymentMethod) -> Gateway:
    """The gateway module of ``method``'s kind; each module is itself the gateway (``start``, ``verify``, ``fetch``)."""
    return import_module(MODULES[PaymentMethod.Kind(method.kind)])  # type: ignore[return-value]
