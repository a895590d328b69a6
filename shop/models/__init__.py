"""The shop's models, one module per sub-domain."""

from .providers import Provider, ProviderService, ServiceChange, UpstreamCall
from .wallet import LedgerEntry, Wallet

__all__ = ["LedgerEntry", "Provider", "ProviderService", "ServiceChange", "UpstreamCall", "Wallet"]
