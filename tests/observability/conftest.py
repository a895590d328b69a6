"""Audit records of provider calls written at chosen times, for the metrics, the health checks and the panel."""

from __future__ import annotations

from datetime import datetime

from shop.catalogue.models import Provider, UpstreamCall


def call_at(provider: Provider | None, at: datetime, *, action: str = "add", outcome: str = "ok", duration_ms: int = 100) -> UpstreamCall:
    """One audit record of a call made at ``at`` (``created_at`` is set on insert, so it is moved afterwards)."""
    call = UpstreamCall.objects.create(provider=provider, action=action, outcome=outcome, duration_ms=duration_ms)
    UpstreamCall.objects.filter(pk=call.pk).update(created_at=at)
    call.created_at = at
    return call
