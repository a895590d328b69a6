"""The figures on the admin index: orders, revenue and profit per day, the active queue, provider balances; payments per method.

Revenue of a day is the sum of ``charge - refunded`` of the orders created that day; its cost is
the sum of ``upstream_charge x provider.exchange_rate`` over the orders whose upstream cost is
known, rounded half-up to 4 places; profit is revenue minus that cost. The days are read from the
rollup the database keeps per quarter hour and provider (``shop.backoffice.models``), so the page
reads about 3,000 rows for 30 days however many orders they hold (it read every order: 710 ms on
1,000,000, issue 16); "up to now" is to the quarter hour. Four queries in all (five on SQLite).
Payments (``payment_figures``) are one more query, whatever the number of methods and top-ups, and
the top-ups of the last days per method (``topup_figures``) one more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, FilteredRelation, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from shop.backoffice.models import OrderFigures
from shop.backoffice.rollup import figures_fold
from shop.catalogue.models import Provider
from shop.catalogue.providers import provider_accepts_orders
from shop.orders.models import Order, OrderStatus
from shop.payments.models import PaymentMethod, TopUpState
from shop.payments.selectors import needs_attention
from shop.wallet.services import money

ZERO = Decimal("0.0000")  # the shop's money precision, so empty days read like the others


@dataclass(frozen=True)
class DayFigures:
    day: date | None  # None for the totals row
    orders: int
    revenue: Decimal
    cost: Decimal
    profit: Decimal
    cost_unknown: int  # orders with revenue but no upstream cost yet: profit leaves them out


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


@dataclass(frozen=True)
class ProviderBalance:
    pk: int
    name: str
    is_active: bool
    balance: Decimal | None
    currency: str
    threshold: Decimal | None
    checked_at: datetime | None
    low: bool


@dataclass(frozen=True)
class DashboardFigures:
    days: tuple[DayFigures, ...]  # newest first
    totals: DayFigures
    statuses: tuple[StatusCount, ...]
    providers: tuple[ProviderBalance, ...]


def dashboard_figures(*, days: int = 30, now: datetime | None = None) -> DashboardFigures:
    """The last ``days`` days up to ``now`` (today included, days of the current time zone)."""
    if days < 1:
        raise ValueError("days must be at least 1.")
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    providers, rates = _providers()
    per_day = {row.day: row for row in _days(start=start, until=now, rates=rates)}
    rows = tuple(per_day.get(day) or DayFigures(day, 0, ZERO, ZERO, ZERO, 0) for day in _dates(first, today))
    totals = DayFigures(
        day=None,
        orders=sum(row.orders for row in rows),
        revenue=sum((row.revenue for row in rows), ZERO),
        cost=sum((row.cost for row in rows), ZERO),
        profit=sum((row.profit for row in rows), ZERO),
        cost_unknown=sum(row.cost_unknown for row in rows),
    )
    return DashboardFigures(days=rows, totals=totals, statuses=_statuses(), providers=providers)


def _dates(first: date, last: date) -> list[date]:
    return [last - timedelta(days=n) for n in range((last - first).days + 1)]


def _days(*, start: datetime, until: datetime, rates: dict[int, Decimal]) -> list[DayFigures]:
    """From the rollup (one row per quarter hour and provider, ``shop.backoffice.models``), folded first."""
    figures_fold()
    rows = (
        OrderFigures.objects.filter(bucket__gte=start, bucket__lte=until)
        .annotate(day=TruncDate("bucket"))
        .values("day", "provider_id")
        .annotate(orders=Sum("orders"), revenue=Sum("revenue"), upstream=Sum("upstream"), cost_unknown=Sum("cost_unknown"))
        .order_by("day")
    )
    per_day: dict[date, list[dict]] = {}
    for row in rows:
        per_day.setdefault(row["day"], []).append(row)
    figures = []
    for day, providers in per_day.items():
        # SQLite sums decimals as floats: round at the ledger's precision, as ledger_differences does.
        revenue = money(sum((Decimal(str(row["revenue"] or 0)) for row in providers), ZERO))
        cost = money(sum((Decimal(str(row["upstream"] or 0)) * rates.get(row["provider_id"], Decimal(1)) for row in providers), ZERO))
        orders = sum(row["orders"] for row in providers)
        if orders or revenue:
            figures.append(DayFigures(day, orders, revenue, cost, revenue - cost, sum(row["cost_unknown"] for row in providers)))
    return figures


def _statuses() -> tuple[StatusCount, ...]:
    counts = dict(Order.objects.filter(status__in=OrderStatus.LIVE).order_by().values_list("status").annotate(n=Count("pk")))
    return tuple(StatusCount(status, OrderStatus(status).label, counts.get(status, 0)) for status in OrderStatus.LIVE)


def _providers() -> tuple[tuple[ProviderBalance, ...], dict[int, Decimal]]:
    """The providers' balances, and each one's exchange rate to the shop's currency (for the days' costs)."""
    # The API key is never needed here: do not load (and decrypt) it.
    providers = list(Provider.objects.defer("api_key").order_by("-is_active", "name"))
    balances = tuple(
        ProviderBalance(
            pk=provider.pk,
            name=provider.name,
            is_active=provider.is_active,
            balance=provider.balance,
            currency=provider.balance_currency or provider.currency,
            threshold=provider.balance_threshold,
            checked_at=provider.balance_checked_at,
            low=not provider_accepts_orders(provider=provider),
        )
        for provider in providers
    )
    return balances, {provider.pk: provider.exchange_rate for provider in providers}


@dataclass(frozen=True)
class MethodFigures:
    pk: int
    name: str
    is_enabled: bool
    paid_today: Decimal  # what customers paid (before fee and bonus), by when it was credited
    paid_month: Decimal
    pending: int
    attention: int  # under review, or reversed beyond what the balance covered


@dataclass(frozen=True)
class PaymentFigures:
    methods: tuple[MethodFigures, ...]
    attention: int  # over every method


def payment_figures(*, now: datetime | None = None) -> PaymentFigures:
    """Per method: paid today and this month (days of the current time zone, up to ``now``), pending, needing attention. One query."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    day_start = timezone.make_aware(datetime.combine(today, time.min))
    month_start = timezone.make_aware(datetime.combine(today.replace(day=1), time.min))
    paid = Q(live__state=TopUpState.PAID, live__paid_at__lte=now)
    attention = needs_attention(through="live__")
    rows = (
        PaymentMethod.objects.annotate(
            # Joined in the ON clause: only the top-ups these figures count, and every method still has its row.
            live=FilteredRelation(
                "topups",
                condition=Q(topups__state__in=[TopUpState.PENDING, TopUpState.REVIEW])
                | Q(topups__state=TopUpState.PAID, topups__paid_at__gte=month_start)
                | Q(topups__reversal_owed__gt=0),
            )
        )
        .values("pk", "name", "is_enabled", "position")
        .annotate(
            paid_today=Sum("live__amount", filter=paid & Q(live__paid_at__gte=day_start)),
            paid_month=Sum("live__amount", filter=paid & Q(live__paid_at__gte=month_start)),
            pending=Count("live", filter=Q(live__state=TopUpState.PENDING)),
            attention=Count("live", filter=attention),
        )
        .order_by("position", "pk")
    )
    methods = tuple(
        MethodFigures(
            pk=row["pk"],
            name=row["name"],
            is_enabled=row["is_enabled"],
            paid_today=money(row["paid_today"] or ZERO),
            paid_month=money(row["paid_month"] or ZERO),
            pending=row["pending"],
            attention=row["attention"],
        )
        for row in rows
    )
    return PaymentFigures(methods=methods, attention=sum(method.attention for method in methods))


@dataclass(frozen=True)
class MethodTopups:
    pk: int
    name: str
    started: int  # top-ups started in the window, in any state
    paid: int  # of those, paid
    paid_amount: Decimal  # what customers paid (before fee and bonus)


def topup_figures(*, days: int = 30, now: datetime | None = None) -> tuple[MethodTopups, ...]:
    """Per method, the top-ups started in the last ``days`` days up to ``now`` (by the indexed ``created_at``). One query."""
    if days < 1:
        raise ValueError("days must be at least 1.")
    now = now or timezone.now()
    first = timezone.localdate(now) - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    paid = Q(recent__state=TopUpState.PAID)
    rows = (
        PaymentMethod.objects.annotate(
            recent=FilteredRelation("topups", condition=Q(topups__created_at__gte=start, topups__created_at__lte=now)),
        )
        .values("pk", "name", "position")
        .annotate(started=Count("recent"), paid=Count("recent", filter=paid), paid_amount=Sum("recent__amount", filter=paid))
        .order_by("position", "pk")
    )
    return tuple(
        MethodTopups(
            pk=row["pk"], name=row["name"], started=row["started"], paid=row["paid"], paid_amount=money(row["paid_amount"] or ZERO)
        )
        for row in rows
    )
