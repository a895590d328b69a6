"""At most one refill of an order under way at a time (issue 17, point 3).

Earlier releases let one call record the same order's refill many times. Before
the constraint goes in, each order keeps one open refill (the newest one the
provider gave an id, else the newest) and the others are closed, each with a
history event saying why: as Rejected when the provider never had them, as
Error (the shop stops following them) when it had given them an id.
"""

from django.db import migrations, models
from django.db.models import Count
from django.utils import timezone

FINAL = ["Canceled", "Completed", "Error", "Rejected"]
CLOSED = "Closed on upgrade: one refill of an order at a time."


def forward(apps, schema_editor) -> None:  # noqa: ANN001
    Refill = apps.get_model("shop", "Refill")
    OrderEvent = apps.get_model("shop", "OrderEvent")
    open_refills = Refill.objects.exclude(status__in=FINAL)
    crowded = open_refills.values("order_id").annotate(open=Count("id")).filter(open__gt=1).values_list("order_id", flat=True)
    now = timezone.now()
    for order_id in crowded.iterator():
        refills = list(open_refills.filter(order_id=order_id).order_by("-id"))
        kept = next((refill for refill in refills if refill.upstream_refill_id), refills[0])
        closed = {refill.pk: "Error" if refill.upstream_refill_id else "Rejected" for refill in refills if refill.pk != kept.pk}
        for status in set(closed.values()):
            Refill.objects.filter(pk__in=[pk for pk, to in closed.items() if to == status]).update(
                status=status, error=CLOSED, updated_at=now
            )
        OrderEvent.objects.bulk_create(
            OrderEvent(
                order_id=order_id,
                kind="refill_status",
                actor="system",
                status="",
                detail={"refill": pk, "refill_status": status, "word": f"closed on upgrade: refill #{kept.pk} stays open"},
                created_at=now,
            )
            for pk, status in closed.items()
        )


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0005_order_history"),
    ]

    operations = [
        migrations.RunPython(forward, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="refill",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", FINAL), _negated=True),
                fields=("order",),
                name="refill_one_open_per_order",
            ),
        ),
    ]
