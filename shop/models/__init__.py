"""The shop's models, one module per sub-domain."""

from .api import ApiKey, Refill
from .catalogue import Category, Service, ShopSettings
from .orders import ACTIVE_STATUSES, FINAL_STATUSES, Order, OrderStatus
from .providers import Provider, ProviderService, ServiceChange, UpstreamCall
from .wallet import LedgerEntry, Wallet

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "ApiKey",
    "Category",
    "LedgerEntry",
    "Order",
    "OrderStatus",
    "Provider",
    "ProviderService",
    "Refill",
    "Service",
    "ServiceChange",
    "ShopSettings",
    "UpstreamCall",
    "Wallet",
]
