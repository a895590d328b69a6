"""Migration 0006: an order that earlier releases gave several open refills keeps one; the others are closed, each with its event."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.migrations.steps import latest, migrate_to

BEFORE = [("shop", "0005_order_history")]


def _orders(apps, count: int) -> list:
    User = apps.get_model("auth", "User")
    Provider = apps.get_model("shop", "Provider")
    ProviderService = apps.get_model("shop", "ProviderService")
    Category = apps.get_model("shop", "Category")
    Service = apps.get_model("shop", "Service")
    Order = apps.get_model("shop", "Order")
    provider = Provider.objects.create(name="Old panel", api_url="https://panel.example/api/v2")
    upstream = ProviderService.objects.create(
        provider=provider, upstream_id="1", name="Followers", type="Default", rate=Decimal("0.9"), min_quantity=10, max_quantity=10000
    )
    service = Service.objects.create(provider_service=upstream, category=Category.objects.create(name="Instagram"), name="Followers")
    user = User.objects.create(username="old-customer")
    return [
        Order.objects.create(
            user=user,
            service=service,
            provider=provider,
            provider_service=upstream,
            link=f"https://instagram.com/p/{number}",
            quantity=1000,
            total_quantity=1000,
            rate=Decimal("1"),
            charge=Decimal("1"),
            status="completed",
            remains=0,
            upstream_order_id=f"up-{number}",
        )
        for number in range(count)
    ]


@pytest.mark.django_db(transaction=True)
def test_each_order_keeps_one_open_refill_and_the_others_are_closed_with_an_event() -> None:
    newest = latest()
    try:
        apps = migrate_to(BEFORE).loader.project_state(BEFORE).apps
        Refill = apps.get_model("shop", "Refill")
        crowded, alone = _orders(apps, 2)
        done = Refill.objects.create(order=crowded, upstream_refill_id="r-0", status="Completed")
        known = Refill.objects.create(order=crowded, upstream_refill_id="r-9", status="Pending")  # the provider has it too
        sent = Refill.objects.create(order=crowded, upstream_refill_id="r-1", status="In progress")
        unsent = [Refill.objects.create(order=crowded) for _ in range(3)]  # the same id many times in one call
        single = Refill.objects.create(order=alone)
        migrate_to(newest)
    finally:
        migrate_to(newest)

    from shop.models import OrderEvent, Refill

    statuses = dict(Refill.objects.values_list("pk", "status"))
    assert statuses == {
        done.pk: "Completed",
        sent.pk: "In progress",  # the one the provider knows stays open
        **{refill.pk: "Rejected" for refill in unsent},
        known.pk: "Error",  # accepted upstream: not "Rejected", the shop just stops following it
        single.pk: "Pending",
    }
    assert set(Refill.objects.filter(status__in=["Rejected", "Error"]).values_list("error", flat=True)) == {
        "Closed on upgrade: one refill of an order at a time."
    }
    closed = OrderEvent.objects.filter(kind="refill_status").order_by("id")
    assert [(event.order_id, event.actor, event.detail["refill"], event.detail["refill_status"]) for event in closed] == [
        *((crowded.pk, "system", refill.pk, "Rejected") for refill in sorted(unsent, key=lambda refill: -refill.pk)),
        (crowded.pk, "system", known.pk, "Error"),
    ]
