"""Helpers several test modules share: the thread-race harness, a service of any type, orders, the ledger check, admin messages, mails."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from django.db import connection
from django.utils import timezone

from panelapi.sandbox import Fault
from shop.models import Category, LedgerEntry, Order, OrderStatus, ProviderService, Service, Wallet
from shop.orders.placement import order_place
from shop.orders.readings import POLLED_FIELDS, PolledOrder, Reading, orders_finish
from shop.orders.submission import order_submit
from shop.wallet.selectors import ledger_differences
from tests.factories import ServiceFactory

T = TypeVar("T")


def race(threads: int, action: Callable[[], T]) -> list[T | Exception]:
    """Run ``action`` in ``threads`` real threads released at the same instant, each on its own database connection.

    Returns each thread's result, or the exception it raised, so a test can
    count outcomes. Needs ``django_db(transaction=True)``: the threads commit
    for real, as concurrent requests or workers would.
    """
    start = threading.Barrier(threads)
    outcomes: list[T | Exception] = []
    lock = threading.Lock()

    def run() -> None:
        start.wait()
        try:
            outcome: T | Exception = action()
        except Exception as exc:  # counted by the test, like any other outcome
            outcome = exc
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes


def typed_service(provider, type_: str, *, dripfeed: bool = False, rate: str = "2.00", low: int = 10, high: int = 1000) -> Service:
    """A retail service of ``type_`` at ``rate`` per 1000 with no markup, in the category "Typed"."""
    upstream = ProviderService.objects.create(
        provider=provider,
        upstream_id=f"t-{type_}",
        name=type_,
        type=type_,
        category="Typed",
        rate=Decimal(rate),
        min_quantity=low,
        max_quantity=high,
        dripfeed=dripfeed,
    )
    category, _ = Category.objects.get_or_create(name="Typed")
    return Service.objects.create(provider_service=upstream, category=category, name=type_, markup_percent=Decimal("0"))


def order_row(user, *, status: str = OrderStatus.AWAITING, service: Service | None = None, charge: str = "1.0000", **fields) -> Order:
    """An order written straight to its table in ``status``: no charge, no history event, no provider call.

    For tests of what reads, lists or moves orders; money tests place orders with ``order_place``.
    """
    service = service or ServiceFactory()
    upstream = service.provider_service
    values: dict[str, object] = {"link": "https://instagram.com/p/row", "quantity": 100, "total_quantity": 100, **fields}
    return Order.objects.create(
        user=user,
        service=service,
        provider_id=upstream.provider_id,
        provider_service=upstream,
        rate=Decimal(charge),
        charge=Decimal(charge),
        status=status,
        **values,
    )


def place_and_submit(catalogue, customer, count: int, service: str = "4", quantity: int = 100) -> list[Order]:
    """``count`` orders of the sandbox's ``service`` placed and sent to the sandbox panel, all due for a status check now."""
    link = "https://tiktok.com/@someone/video/1"
    orders = [order_place(user=customer, service=catalogue[service], link=link, quantity=quantity) for _ in range(count)]
    for order in orders:
        order_submit(order_id=order.pk)
    Order.objects.update(next_check_at=timezone.now())  # all due now
    return orders


def refunds_of(order: Order) -> list[Decimal]:
    """The amounts of the order's refund entries (at most one, whatever happened)."""
    return list(LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND).values_list("amount", flat=True))


def assert_ledger_holds(user) -> None:
    """The user's balance is the sum of their entries and not negative, and every wallet agrees with its ledger."""
    wallet = Wallet.objects.get(user=user)
    total = sum(LedgerEntry.objects.filter(wallet=wallet).values_list("amount", flat=True), Decimal("0"))
    assert wallet.balance == total >= 0
    assert ledger_differences() == []


def order_finish(
    *,
    order_id: int,
    status: str,
    remains: int | None,
    start_count: int | None,
    upstream_charge: Decimal | None,
    raw: str,
    posts: int | None = None,
) -> bool:
    """One order's final status as if the provider had reported it (``orders_finish`` for a single order, by id)."""
    order = Order.objects.values(*POLLED_FIELDS).get(pk=order_id)
    reading = Reading(PolledOrder(**order), status, raw, start_count, remains, upstream_charge, posts=posts)
    return bool(orders_finish(readings=[reading], now=timezone.now()))


def messages_of(response) -> list[str]:
    """The texts of the messages a rendered admin page shows (after ``follow=True``, those of the last page)."""
    return [str(message) for message in response.context["messages"]]


def activation_link(mail) -> str:
    """The path of the link that confirms the address in a sign-up mail (``django.core.mail`` message)."""
    match = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.body)
    assert match, mail.body
    return match.group(1)


def confirm_address(client, mail, **extra):
    """Follow the mailed link and press its button (allauth confirms by POST): the response, redirects followed."""
    return client.post(activation_link(mail), follow=True, **extra)


def slow_panel(sandbox) -> None:
    """Every call to the panel now takes 5 s (until the faults are cleared)."""
    sandbox.panel.add_fault(Fault(kind="slow", delay=5.0, times=0))


def with_confirmed_address(user):
    """``user`` with their email address confirmed, as allauth records it: they may log in (and top up) at once."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.get_or_create(user=user, email=user.email.lower(), defaults={"verified": True, "primary": True})
    return user


def totp_code(secret: str, step: int = 0) -> str:
    """What an authenticator app shows for ``secret`` ``step`` periods from now."""
    import time

    from allauth.mfa import app_settings as mfa_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD + step))


def with_authenticator(user) -> str:
    """Give ``user`` an authenticator app (allauth's TOTP), as one who set it up has; its secret."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def mailed_login_code(body: str) -> str:
    """The sign-in code in allauth's "sign-in code" mail."""
    match = re.search(r"browser window\.\s+(\S+)\s", body)
    assert match, body
    return match.group(1)


def browser_sign_in(page, shop: str, username: str, password: str, *, start: str = "/accounts/login/", secret: str = "", mail=None) -> None:
    """Sign in through the shop's (allauth's) login page in a Playwright ``page``. Staff with an authenticator type its
    code (``secret``); staff without one type the code mailed to them (``mail()`` returns that mail's text) and then set
    one up, as the admin asks (``STAFF_MFA_REQUIRED``)."""
    page.goto(f"{shop}{start}")
    page.fill("#id_login", username)
    page.fill("#id_password", password)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    steps = {
        "/accounts/login/code/confirm/": lambda: ("#id_code", mailed_login_code(mail())),
        "/accounts/2fa/authenticate/": lambda: ("#id_code", totp_code(secret)),
        "/accounts/reauthenticate/": lambda: ("#id_password", password),
    }
    for _ in range(4):
        step = next((fill for path, fill in steps.items() if path in page.url), None)
        if step is not None:
            field, value = step()
        elif "/accounts/2fa/totp/activate/" in page.url:
            field, value = "#id_code", totp_code(page.input_value("#authenticator_secret"))
        else:
            break
        page.fill(field, value)
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, "the sign-in did not go through"
