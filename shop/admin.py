"""Django admin's entry point for the app: each domain registers its own models in its ``admin`` module."""

from shop.accounts import admin as accounts_admin  # noqa: F401
from shop.affiliates import admin as affiliates_admin  # noqa: F401
from shop.backoffice import admin as backoffice_admin  # noqa: F401
from shop.backoffice import admin_others  # noqa: F401  (other apps' admins on the admin's theme)
from shop.catalogue import admin as catalogue_admin  # noqa: F401
from shop.catalogue import admin_calls as catalogue_admin_calls  # noqa: F401
from shop.catalogue import admin_prices as catalogue_admin_prices  # noqa: F401
from shop.orders import admin as orders_admin  # noqa: F401
from shop.payments import admin as payments_admin  # noqa: F401
from shop.reseller_api import admin as reseller_api_admin  # noqa: F401
from shop.storefront import admin as storefront_admin  # noqa: F401
from shop.support import admin as support_admin  # noqa: F401
from shop.wallet import admin as wallet_admin  # noqa: F401
