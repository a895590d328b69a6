"""The app's models, defined in their domains; Django loads them from here (app label ``shop``, tables unchanged)."""

from shop.accounts.models import UserLanguage, UsernameSkeleton
from shop.affiliates.models import AffiliateLink, Referral, ReferralEarning, ReferralPayout
from shop.backoffice.models import OrderFigures, OrderFiguresChange
from shop.catalogue.models import (
    Category,
    CustomerPrice,
    Provider,
    ProviderService,
    Service,
    ServiceChange,
    ServiceUpdate,
    ShopSettings,
    UpstreamCall,
)
from shop.notifications.models import NotificationSettings
from shop.orders.models import Order, OrderEvent, OrderStatus, Refill
from shop.payments.models import PaymentMethod, TopUp, TopUpEvent, TopUpState
from shop.reseller_api.models import ApiKey
from shop.storefront.models import Branding
from shop.support.models import Ticket, TicketMessage
from shop.wallet.models import LedgerEntry, Wallet

__all__ = [
    "AffiliateLink",
    "ApiKey",
    "Branding",
    "Category",
    "CustomerPrice",
    "LedgerEntry",
    "NotificationSettings",
    "Order",
    "OrderEvent",
    "OrderFigures",
    "OrderFiguresChange",
    "OrderStatus",
    "PaymentMethod",
    "Provider",
    "ProviderService",
    "Referral",
    "ReferralEarning",
    "ReferralPayout",
    "Refill",
    "Service",
    "ServiceChange",
    "ServiceUpdate",
    "ShopSettings",
    "Ticket",
    "TicketMessage",
    "TopUp",
    "TopUpEvent",
    "TopUpState",
    "UpstreamCall",
    "UserLanguage",
    "UsernameSkeleton",
    "Wallet",
]
