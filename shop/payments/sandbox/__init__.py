"""A fake payment gateway over real HTTP, for ``make run`` and the tests. Pure standard library: no Django.

`SandboxGateway` (``gateway``) holds one merchant's payments and their state
machine (pending, then paid, declined or expired), `Courier` (``delivery``)
sends the signed notifications with retries from background threads, ``page``
renders the payer's page, and `SandboxServer` (``server``) puts it all on a
socket. ``python -m shop.payments.sandbox`` runs it alone.

The wire format, which ``shop/payments/gateways/sandbox.py`` speaks:

- ``POST /api/payments`` with a JSON body, ``GET /api/payments/<id>``; both
  carry ``X-Sandbox-Merchant: <merchant>`` and ``X-Sandbox-Sign: <hex
  HMAC-SHA256(api key, raw body)>`` (the empty body for a GET).
- ``GET /pay/<id>`` is the payer's page; ``POST /pay/<id>`` with
  ``action=pay|decline|expire`` settles it and redirects (303) to the return URL.
- A notification is ``POST <callback_url>`` with ``{event_id, payment, sent_at}``
  and ``X-Sandbox-Signature: t=<unix>,v1=<hex HMAC-SHA256(webhook secret,
  "<t>.<raw body>")>``.
"""

from .delivery import Courier, Delivery
from .gateway import Payment, Refused, SandboxGateway
from .server import SandboxServer

__all__ = ["Courier", "Delivery", "Payment", "Refused", "SandboxGateway", "SandboxServer"]
