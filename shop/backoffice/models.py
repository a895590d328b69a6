"""The dashboard's rollup of orders: per quarter hour of creation and provider, kept current by the database (issue 16).

Every write to an order that changes what the dashboard sums (insert, delete, or an update of its charge,
refund, provider cost, provider or creation time) makes a trigger append the difference to
``OrderFiguresChange``: append-only, so orders placed at once never wait for one another on a shared
row. ``shop.backoffice.rollup.figures_fold`` moves those rows into ``OrderFigures``, one row per
quarter hour and provider; the dashboard folds before it reads, and a periodic task keeps what is left
to fold small. Quarter hours, in UTC, make whole days in every time zone in use.
"""

from __future__ import annotations

from django.db import models

from shop.wallet.models import MONEY_PLACES

SUM_DIGITS = 28


class OrderFiguresBase(models.Model):
    bucket = models.DateTimeField(help_text="The start of the quarter hour (UTC) the orders were created in.")
    provider_id = models.BigIntegerField()  # no foreign key: a provider is never deleted with orders (PROTECT), and no lock is taken
    orders = models.BigIntegerField(default=0)
    revenue = models.DecimalField(max_digits=SUM_DIGITS, decimal_places=MONEY_PLACES, default=0)  # charge - refunded
    upstream = models.DecimalField(max_digits=SUM_DIGITS, decimal_places=5, default=0)  # known provider cost, its currency
    cost_unknown = models.BigIntegerField(default=0)  # orders with revenue but no provider cost yet

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} provider {self.provider_id}: {self.orders} orders"


class OrderFigures(OrderFiguresBase):
    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "provider_id"], name="order_figures_one_per_bucket")]
        verbose_name_plural = "order figures"


class OrderFiguresChange(OrderFiguresBase):
    class Meta:
        verbose_name_plural = "order figures changes"
