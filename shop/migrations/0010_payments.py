"""Payments: methods, top-ups and their history; ledger entries name top-ups; a balance can be put on hold."""

import uuid
from decimal import Decimal

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import shop.core.fields
from shop.migrations._triggers import append_only, ledger_append_only


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0009_request_send_claims"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TopUpEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("created", "Created"),
                            ("notified", "Gateway notification"),
                            ("checked", "Status fetched from the gateway"),
                            ("paid", "Paid and credited"),
                            ("failed", "Failed"),
                            ("expired", "Expired"),
                            ("review", "Put up for review"),
                            ("rejected", "Rejected"),
                            ("ignored", "Changed nothing"),
                            ("reversed", "Reversed (refund or dispute)"),
                            ("written_off", "Owed reversal written off"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "actor",
                    models.CharField(
                        choices=[
                            ("customer", "Customer"),
                            ("gateway", "Gateway notification"),
                            ("check", "Status check"),
                            ("staff", "Staff"),
                            ("system", "System"),
                        ],
                        max_length=16,
                    ),
                ),
                ("state", models.CharField(blank=True, help_text="The top-up's state after the event.", max_length=16)),
                ("detail", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.AddField(
            model_name="wallet",
            name="hold_reason",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="kind",
            field=models.CharField(
                choices=[
                    ("deposit", "Deposit"),
                    ("order_charge", "Order charge"),
                    ("refund", "Refund"),
                    ("adjustment", "Adjustment"),
                    ("topup", "Top-up"),
                    ("topup_fee", "Payment fee"),
                    ("topup_bonus", "Top-up bonus"),
                    ("reversal", "Payment reversed"),
                ],
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="PaymentMethod",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.SlugField(help_text="Part of the notification URL: /payments/notify/<code>/.", max_length=40, unique=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("sandbox", "Sandbox (test gateway)"),
                            ("manual", "Manual transfer"),
                            ("stripe", "Stripe Checkout"),
                            ("cryptomus", "Cryptomus"),
                        ],
                        max_length=16,
                    ),
                ),
                ("name", models.CharField(help_text="What customers see, e.g. 'Card (Stripe)'.", max_length=80)),
                (
                    "is_enabled",
                    models.BooleanField(default=False, help_text="Offered to customers. A disabled method still accepts notifications."),
                ),
                ("position", models.PositiveSmallIntegerField(default=0, help_text="Lower comes first on the add funds page.")),
                ("currency", models.CharField(default="USD", help_text="Must be the shop's currency.", max_length=3)),
                (
                    "min_amount",
                    models.DecimalField(
                        decimal_places=4,
                        default=Decimal("1"),
                        max_digits=18,
                        validators=[django.core.validators.MinValueValidator(Decimal("0.01"))],
                    ),
                ),
                (
                    "max_amount",
                    models.DecimalField(
                        decimal_places=4,
                        default=Decimal("10000"),
                        max_digits=18,
                        validators=[django.core.validators.MinValueValidator(Decimal("0.01"))],
                    ),
                ),
                (
                    "fee_percent",
                    models.DecimalField(
                        decimal_places=2,
                        default=Decimal("0"),
                        help_text="Taken from the amount paid.",
                        max_digits=5,
                        validators=[
                            django.core.validators.MinValueValidator(Decimal("0")),
                            django.core.validators.MaxValueValidator(Decimal("100")),
                        ],
                    ),
                ),
                (
                    "bonus_percent",
                    models.DecimalField(
                        decimal_places=2,
                        default=Decimal("0"),
                        help_text="Added when the amount paid reaches the threshold.",
                        max_digits=5,
                        validators=[
                            django.core.validators.MinValueValidator(Decimal("0")),
                            django.core.validators.MaxValueValidator(Decimal("100")),
                        ],
                    ),
                ),
                (
                    "bonus_threshold",
                    models.DecimalField(
                        decimal_places=4,
                        default=Decimal("0"),
                        max_digits=18,
                        validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                    ),
                ),
                ("instructions", models.TextField(blank=True, help_text="Manual transfer: where and how to pay, shown to the customer.")),
                (
                    "api_url",
                    models.URLField(blank=True, help_text="The gateway's API base URL (sandbox, Cryptomus); blank for its default."),
                ),
                (
                    "merchant_id",
                    models.CharField(blank=True, help_text="The merchant or account the gateway knows the shop by.", max_length=120),
                ),
                ("api_key", shop.core.fields.EncryptedTextField(blank=True, editable=False)),
                ("webhook_secret", shop.core.fields.EncryptedTextField(blank=True, editable=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["position", "id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("min_amount__gt", 0), ("max_amount__gte", models.F("min_amount"))), name="payment_method_limits"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("fee_percent__gte", 0), ("fee_percent__lt", 100)), name="payment_method_fee_below_100"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("bonus_percent__gte", 0), ("bonus_percent__lte", 100)), name="payment_method_bonus_percent"
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="TopUp",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "public_id",
                    models.UUIDField(default=uuid.uuid4, editable=False, help_text="In URLs and sent to the gateway.", unique=True),
                ),
                ("amount", models.DecimalField(decimal_places=4, max_digits=18)),
                ("fee", models.DecimalField(decimal_places=4, default=Decimal("0"), max_digits=18)),
                ("bonus", models.DecimalField(decimal_places=4, default=Decimal("0"), max_digits=18)),
                ("currency", models.CharField(max_length=3)),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("review", "Needs review"),
                            ("paid", "Paid"),
                            ("failed", "Failed"),
                            ("expired", "Expired"),
                            ("rejected", "Rejected"),
                        ],
                        default="pending",
                        max_length=16,
                    ),
                ),
                ("gateway_id", models.CharField(blank=True, help_text="The gateway's id of this payment.", max_length=255)),
                (
                    "gateway_payment",
                    models.CharField(
                        blank=True, help_text="A second id some gateways use later (Stripe's payment intent).", max_length=255
                    ),
                ),
                ("pay_url", models.URLField(blank=True, help_text="Where the customer pays.", max_length=2000)),
                ("reference", models.CharField(blank=True, help_text="Manual transfer: the customer's payment reference.", max_length=120)),
                ("attention_reason", models.CharField(blank=True, help_text="Why staff must look at it.", max_length=500)),
                (
                    "reversed_amount",
                    models.DecimalField(
                        decimal_places=4,
                        default=Decimal("0"),
                        help_text="Taken back from the balance after a refund or dispute.",
                        max_digits=18,
                    ),
                ),
                (
                    "reversal_owed",
                    models.DecimalField(
                        decimal_places=4, default=Decimal("0"), help_text="A reversal the balance could not cover.", max_digits=18
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("paid_at", models.DateTimeField(blank=True, null=True)),
                ("checked_at", models.DateTimeField(blank=True, help_text="Last server-side status fetch from the gateway.", null=True)),
                ("method", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="topups", to="shop.paymentmethod")),
                (
                    "user",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="topups", to=settings.AUTH_USER_MODEL),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.AddField(
            model_name="ledgerentry",
            name="topup",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="ledger_entries", to="shop.topup"
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("kind__in", ["topup", "topup_bonus"]), _negated=True), ("amount__gt", 0), _connector="OR"),
                name="ledger_topup_credits_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("kind__in", ["topup_fee", "reversal"]), _negated=True), ("amount__lt", 0), _connector="OR"),
                name="ledger_topup_debits_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind__in", ["topup", "topup_fee", "topup_bonus", "reversal"]), _negated=True),
                    ("topup__isnull", False),
                    _connector="OR",
                ),
                name="ledger_topup_entries_name_topup",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind__in", ["topup", "topup_fee", "topup_bonus"])),
                fields=("topup", "kind"),
                name="ledger_one_of_each_per_topup",
            ),
        ),
        migrations.AddField(
            model_name="topupevent",
            name="actor_user",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="topupevent",
            name="topup",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="events", to="shop.topup"),
        ),
        migrations.AddIndex(
            model_name="topup",
            index=models.Index(fields=["user", "-id"], name="topup_user_recent"),
        ),
        migrations.AddIndex(
            model_name="topup",
            index=models.Index(fields=["state", "created_at"], name="topup_state_created"),
        ),
        migrations.AddConstraint(
            model_name="topup",
            constraint=models.UniqueConstraint(
                condition=models.Q(("gateway_id", ""), _negated=True), fields=("method", "gateway_id"), name="topup_one_per_gateway_id"
            ),
        ),
        migrations.AddConstraint(
            model_name="topup",
            constraint=models.UniqueConstraint(
                condition=models.Q(("gateway_payment", ""), _negated=True),
                fields=("method", "gateway_payment"),
                name="topup_one_per_gateway_payment",
            ),
        ),
        migrations.AddConstraint(
            model_name="topup",
            constraint=models.CheckConstraint(condition=models.Q(("amount__gt", 0)), name="topup_amount_positive"),
        ),
        migrations.AddConstraint(
            model_name="topup",
            constraint=models.CheckConstraint(
                condition=models.Q(("fee__gte", 0), ("fee__lt", models.F("amount"))), name="topup_fee_below_amount"
            ),
        ),
        migrations.AddConstraint(
            model_name="topup",
            constraint=models.CheckConstraint(condition=models.Q(("bonus__gte", 0)), name="topup_bonus_not_negative"),
        ),
        migrations.AddConstraint(
            model_name="topup",
            constraint=models.CheckConstraint(
                condition=models.Q(("reversed_amount__gte", 0), ("reversal_owed__gte", 0)), name="topup_reversal_not_negative"
            ),
        ),
        migrations.AddConstraint(
            model_name="topup",
            constraint=models.CheckConstraint(
                condition=models.Q(("state", "paid"), ("paid_at__isnull", True), _connector="OR"), name="topup_paid_at_only_when_paid"
            ),
        ),
        migrations.AddConstraint(
            model_name="topup",
            constraint=models.CheckConstraint(
                condition=models.Q(("state__in", ["pending", "review", "paid", "failed", "expired", "rejected"])), name="topup_state_valid"
            ),
        ),
        migrations.AddIndex(
            model_name="topupevent",
            index=models.Index(fields=["topup", "id"], name="topup_event_topup"),
        ),
    ]


# SQLite rebuilt the ledger table for its new constraints, dropping its trigger: put it back. Top-up events are append-only too.
Migration.operations += [ledger_append_only(), append_only("shop_topupevent")]
