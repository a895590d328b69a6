"""Every write the shop makes, as typed keyword-only functions named ``<noun>_<verb>``."""
