"""The shop's models, one module per sub-domain."""

from .catalogue import Category, Service, ShopSettings
from .orders import ACTIVE_STATUSES, FINAL_STATUSES, Order, OrderStatus
from .providers import Provider, ProviderService, ServiceChange, UpstreamCall
from .wallet import LedgerEntry, Wallet

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "Category",
    "LedgerEntry",
    "Order",
    "OrderStatus",
    "Provider",
    "ProviderService",
    "Service",
    "ServiceChange",
    "ShopSettings",
    "UpstreamCall",
    "Wallet",
]
