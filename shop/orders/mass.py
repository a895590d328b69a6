"""Mass order: many orders written one a line (``service id | link | quantity``), previewed, then placed in one transaction.

Panels take the link and the quantity in either order, so the link is
recognised: the field that is not a number. Only services a link and a
quantity describe can be ordered this way (``simple_type``): a type with
fields of its own (comments, usernames, a subscription's username...) or
whose quantity is counted from a list needs the New order page. A Package is
one bundle: its line may leave the quantity out, or write 1.

Each line is validated and priced by ``order_prepare``, as a single order is,
with the services and the customer's prices read once for all lines. Placing
re-validates the text and compares it with the preview the customer confirmed
(``MassPreview.digest``: lines, services, rates, charges, total): if a price or a
line changed since, nothing is placed (``PreviewChanged``). It then writes
every valid line's order, charge entry and PLACED event in one transaction with one debit of the total
(``wallet_debit_many``): all or nothing. Each order's ``form_token`` is
``uuid5(batch token, line number)``: the unique constraint on it makes a
second submission of the same batch (a double click, a reload, two tabs at
once) place nothing.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.catalogue.models import Service
from shop.catalogue.pricing import CustomerPrices
from shop.catalogue.selectors import customer_prices, service_orderable
from shop.core.numbers import id_number
from shop.orders.history import Actor, Kind, event
from shop.orders.models import Order, OrderEvent, OrderStatus
from shop.orders.placement import LINK_BUSY, NOT_ORDERABLE, OrderRejected, _enqueue_submit, order_prepare
from shop.orders.queries import order_links_lock, services_for_order
from shop.orders.selectors import order_links_live
from shop.orders.types import MAX_LINK, Refusal, TypeSpec, type_spec
from shop.wallet.models import LedgerEntry
from shop.wallet.services import Debit, wallet_debit_many

MAX_ORDERS = 500
MAX_LINE = MAX_LINK + 64  # a link at its longest, a service id and a quantity
MAX_TEXT = MAX_ORDERS * (MAX_LINE + 2)
_NUMBERISH = re.compile(r"[0-9\s.,+-]+")

# Why a line is refused, in the language of the page that shows it (the mass order is a page of the web only).
LAYOUT = gettext_lazy("Write the line as: service id | link | quantity.")
BAD_SERVICE_ID = gettext_lazy("The service id must be a number, e.g. 12.")
NO_LINK = gettext_lazy("No link on this line: write service id | link | quantity.")
TWO_LINKS = gettext_lazy("Cannot tell the link from the quantity: write service id | link | quantity.")
LINE_TOO_LONG = lazy(lambda: _("This line is longer than %(count)s characters.") % {"count": MAX_LINE}, str)()
NOT_SIMPLE = gettext_lazy("This service needs more than a link and a quantity: order it on the New order page.")
PACKAGE_QUANTITY = gettext_lazy("A package is one bundle: leave the quantity out, or write 1.")


class TooManyLines(ValueError):
    def __init__(self, count: int) -> None:
        super().__init__(
            _("At most %(max)s orders at a time: this text has %(count)s lines. Nothing was placed.") % {"max": MAX_ORDERS, "count": count}
        )
        self.count = count


class NothingToPlace(ValueError):
    """No line of the text can be ordered: nothing was placed."""


class PreviewChanged(Exception):
    """The lines, prices or total differ from the preview the customer confirmed: nothing was placed (preview again)."""

    def __init__(self) -> None:
        super().__init__("Prices or services changed since your preview: nothing was placed.")


class BatchPlaced(Exception):
    """This batch was placed before (``orders`` of it exist): nothing more was written or charged."""

    def __init__(self, orders: int) -> None:
        super().__init__(f"This batch was already placed: {orders} orders. Nothing more was charged.")
        self.orders = orders


@dataclass(frozen=True)
class MassLine:
    """One non-blank line as written: ``problem`` says why it could not be read (then the rest may be blank)."""

    number: int  # in the text as the customer sees it, blank lines counted
    service_id: int | None = None
    link: str = ""
    quantity: str = ""
    problem: str = ""


@dataclass(frozen=True)
class LineResult:
    """A line previewed: the priced, unsaved ``order``, or why it is refused (``rejected``)."""

    line: MassLine
    service: Service | None = None
    order: Order | None = None
    rejected: OrderRejected | None = None


@dataclass(frozen=True)
class MassPreview:
    lines: list[LineResult]

    @property
    def valid(self) -> list[LineResult]:
        return [result for result in self.lines if result.order is not None]

    @property
    def refused(self) -> list[LineResult]:
        return [result for result in self.lines if result.order is None]

    @property
    def total(self) -> Decimal:
        return sum((result.order.charge for result in self.valid if result.order is not None), Decimal("0"))

    @property
    def digest(self) -> str:
        """What the customer confirms by placing (SHA-256 hex): each valid line's number, service, link, quantity, rate, charge; the total.

        Equal previews give equal digests, whatever the places a figure is written with (1.17 and 1.170000).
        """
        parts = [
            f"{result.line.number}|{order.service_id}|{order.link}|{order.total_quantity}|{_figure(order.rate)}|{_figure(order.charge)}"
            for result in self.valid
            if (order := result.order) is not None
        ]
        parts.append(f"total|{_figure(self.total)}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _figure(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def simple_type(spec: TypeSpec) -> bool:
    """Whether a link and a quantity say all an order of this type needs (a Package: the link alone)."""
    return spec.needs_link and not spec.fields and not spec.quantity_from


def mass_parse(text: str) -> list[MassLine]:
    """The text's non-blank lines; raises ``TooManyLines`` past ``MAX_ORDERS``. Reads nothing."""
    numbered = [(number, line.strip()) for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1)]
    numbered = [(number, line) for number, line in numbered if line]
    if len(numbered) > MAX_ORDERS:
        raise TooManyLines(len(numbered))
    return [_parse_line(number, line) for number, line in numbered]


def _parse_line(number: int, line: str) -> MassLine:
    if len(line) > MAX_LINE:
        return MassLine(number, problem=LINE_TOO_LONG)
    fields = [field.strip() for field in line.split("|")]
    if len(fields) not in (2, 3):
        return MassLine(number, problem=LAYOUT)
    service_id = id_number(fields[0].removeprefix("#"))
    if service_id is None:
        return MassLine(number, problem=BAD_SERVICE_ID)
    rest = [field for field in fields[1:] if field]
    numbers = [field for field in rest if _NUMBERISH.fullmatch(field)]
    others = [field for field in rest if not _NUMBERISH.fullmatch(field)]
    if len(others) == 2:
        # Neither is a number: the link is the one with a scheme, the other a quantity written wrong.
        with_scheme = [field for field in others if "://" in field]
        if len(with_scheme) != 1:
            return MassLine(number, service_id, problem=TWO_LINKS)
        link = with_scheme[0]
        return MassLine(number, service_id, link=link, quantity=next(field for field in others if field is not link))
    if not others and len(numbers) == 2:
        return MassLine(number, service_id, problem=NO_LINK)
    return MassLine(number, service_id, link=others[0] if others else "", quantity=numbers[0] if numbers else "")


def mass_preview(*, user: AbstractBaseUser, text: str) -> MassPreview:
    """Every line of ``text`` validated and priced as ``order_prepare`` does, nothing written; raises ``TooManyLines``.

    Reads the services of all lines in one statement and the customer's prices in one more
    (the link rule, when the shop has it on, reads once a line).
    """
    lines = mass_parse(text)
    services = services_for_order(service_ids=[line.service_id for line in lines if line.service_id is not None])
    prices = customer_prices(user=user)
    busy: set[tuple[int, str]] = set()  # (service, link) of earlier lines, for the link rule within the batch
    results = []
    for line in lines:
        service = services.get(line.service_id) if line.service_id is not None else None
        try:
            order = _prepare(user, line, service, prices, busy)
        except OrderRejected as exc:
            results.append(LineResult(line, service, rejected=exc))
        else:
            results.append(LineResult(line, service, order=order))
    return MassPreview(results)


def _prepare(user: AbstractBaseUser, line: MassLine, service: Service | None, prices: CustomerPrices, busy: set[tuple[int, str]]) -> Order:
    if line.problem:
        raise OrderRejected({"line": line.problem})
    if service is None or not service_orderable(service=service):
        raise OrderRejected({"service": NOT_ORDERABLE}, code=Refusal.NOT_ORDERABLE)
    spec = type_spec(service.provider_service.type)
    if spec is None or not simple_type(spec):
        raise OrderRejected({"service": NOT_SIMPLE})
    if spec.package and line.quantity not in ("", "1"):
        raise OrderRejected({"quantity": PACKAGE_QUANTITY})
    order = order_prepare(user=user, service=service, link=line.link, quantity=line.quantity or None, loaded=True, prices=prices)
    if service.one_order_per_link:
        if (service.pk, order.link) in busy:
            raise OrderRejected({"link": LINK_BUSY})
        busy.add((service.pk, order.link))
    return order


def batch_tokens(batch: uuid.UUID, lines: list[MassLine]) -> dict[int, uuid.UUID]:
    """Each line's order form token: the batch's token and the line's number make it, so a replay makes the same."""
    return {line.number: uuid.uuid5(batch, str(line.number)) for line in lines}


def mass_place(*, user: AbstractBaseUser, text: str, batch: uuid.UUID, confirmed: str, actor: Actor | None = None) -> list[Order]:
    """Place every valid line of ``text`` in one transaction; lines refused in the preview are skipped.

    ``confirmed`` is the ``digest`` of the preview the customer placed from. Raises, with
    nothing written: ``TooManyLines``; ``NothingToPlace`` when no line can be ordered;
    ``PreviewChanged`` when this text previews differently now (a price, a service, the
    link rule: the customer must see and confirm the new preview), also when, with the link
    rule on, an order of one of its links was placed meanwhile (checked again under the links'
    locks, ``order_links_lock``, held until the commit); ``InsufficientFunds`` (the total and the balance) or
    ``WalletOnHold`` from the debit of the total; ``BatchPlaced`` when orders of
    this ``batch`` exist, whatever the race (the unique form token decides).
    Each order is queued for submission once the transaction commits.
    """
    actor = actor or Actor.web(user)
    lines = mass_parse(text)
    tokens = batch_tokens(batch, lines)
    if placed := _placed_count(user, tokens):
        raise BatchPlaced(placed)
    preview = mass_preview(user=user, text=text)
    orders = [result.order for result in preview.valid if result.order is not None]
    if not orders:
        raise NothingToPlace("No line can be ordered: nothing was placed.")
    if preview.digest != confirmed:
        raise PreviewChanged
    for result, order in zip(preview.valid, orders, strict=True):
        order.form_token = tokens[result.line.number]
    held = sorted({(order.service_id, order.link) for order in orders if order.service.one_order_per_link and order.link})
    try:
        with transaction.atomic():  # a savepoint inside a caller's transaction: a twin batch's clash leaves it usable
            if held:
                # The link rule, safe against orders placed at once: the preview checked each link, but
                # another order may have taken one since. Under the links' locks, until the commit, look again.
                order_links_lock(links=held)
                if order_links_live(links=held):
                    raise PreviewChanged
            orders = _insert(user, orders, actor)
    except IntegrityError:
        if placed := _placed_count(user, tokens):
            raise BatchPlaced(placed) from None
        raise
    for order in orders:
        # One callback each: a broker failing on one order must not keep the others from being queued (the sweep requeues it).
        # A lambda, not a partial: Django logs a robust callback's failure by its __qualname__, which a partial lacks.
        transaction.on_commit(lambda pk=order.pk: _enqueue_submit(pk), robust=True)
    return orders


def _insert(user: AbstractBaseUser, orders: list[Order], actor: Actor) -> list[Order]:
    """The orders, their charges (one debit of the total) and their PLACED events: four statements for any number."""
    orders = Order.objects.bulk_create(orders)
    charge = LedgerEntry.Kind.ORDER_CHARGE
    wallet_debit_many(user=user, debits=[Debit(order.charge, charge, f"Order #{order.pk}", order.pk) for order in orders])
    OrderEvent.objects.bulk_create(
        [event(order_id=order.pk, kind=Kind.PLACED, actor=actor, status=OrderStatus.AWAITING, charge=order.charge) for order in orders]
    )
    return orders


def _placed_count(user: AbstractBaseUser, tokens: dict[int, uuid.UUID]) -> int:
    return Order.objects.filter(user=user, form_token__in=list(tokens.values())).count() if tokens else 0
