"""The shop's models, one module per sub-domain."""

from .providers import Provider, ProviderService, ServiceChange, UpstreamCall

__all__ = ["Provider", "ProviderService", "ServiceChange", "UpstreamCall"]
