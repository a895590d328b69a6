"""One module per payment gateway, each behind the interface in ``shop.payments.interface``."""
