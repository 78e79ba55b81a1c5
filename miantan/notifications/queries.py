"""Reads of notifications, scoped to the viewer: everyone reads only their own inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet

from miantan.people.scopes import scope_for

from . import rules
from .enums import Channel
from .models import Endpoint, Notification


def inbox_of(user: Any) -> QuerySet[Notification]:
    """The signed-in user's inbox notifications that have arrived, newest first."""
    own = scope_for(user).employee
    if own is None or not own.is_active:
        return Notification.objects.none()
    return Notification.objects.filter(
        recipient_id=own.pk, channel=Channel.INBOX, sent_at__isnull=False
    ).order_by("-sent_at", "-pk")


def unread_count(user: Any) -> int:
    return inbox_of(user).filter(read_at__isnull=True).count()


def given_up_for(user: Any) -> QuerySet[Notification]:
    """Messages of the administrator's organisation that were given up, newest first."""
    organisation = rules.delivery_organisation(scope_for(user))
    if organisation is None:
        return Notification.objects.none()
    return (
        Notification.objects.filter(organisation_id=organisation, failed_at__isnull=False)
        .select_related("recipient")
        .order_by("-failed_at", "-pk")
    )


def endpoints_for(user: Any) -> QuerySet[Endpoint]:
    organisation = rules.delivery_organisation(scope_for(user))
    if organisation is None:
        return Endpoint.objects.none()
    return Endpoint.objects.filter(organisation_id=organisation).select_related("department")


def delivery_counts(user: Any) -> dict[str, int]:
    """Waiting, in flight and given-up rows of the administrator's organisation."""
    organisation = rules.delivery_organisation(scope_for(user))
    if organisation is None:
        return {}
    rows = Notification.objects.filter(organisation_id=organisation)
    pending = rows.filter(sent_at__isnull=True, cancelled_at__isnull=True, failed_at__isnull=True)
    return {
        "waiting": pending.count(),
        "sending": pending.exclude(claimed_by="").count(),
        "given_up": rows.filter(failed_at__isnull=False).count(),
    }


# --- Installation-wide figures for operators (/readyz, /metrics): counts and times only ------


def pending_deliveries() -> QuerySet[Notification]:
    return Notification.objects.filter(
        sent_at__isnull=True, cancelled_at__isnull=True, failed_at__isnull=True
    )


def due_queue(now: datetime) -> tuple[int, datetime | None]:
    """How many unsent rows are due, and the due time of the oldest (one query)."""
    figures = (
        pending_deliveries().filter(due_at__lte=now).aggregate(n=Count("pk"), oldest=Min("due_at"))
    )
    return figures["n"], figures["oldest"]


def latest_lease_end() -> datetime | None:
    """The furthest lease a worker holds or held on a row still waiting: its heartbeat moves it
    on while the worker lives."""
    return pending_deliveries().exclude(claimed_by="").aggregate(end=Max("claimed_until"))["end"]


def delivery_totals() -> list[tuple[str, str, int]]:
    """(channel, status, rows) over every organisation: `sent`, `failed` (waiting for another
    attempt after a failed one), `given_up` (no attempt left) and `pending`."""
    pending = Q(sent_at__isnull=True, cancelled_at__isnull=True, failed_at__isnull=True)
    rows = (
        Notification.objects.order_by()
        .values("channel")
        .annotate(
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            failed=Count("pk", filter=pending & Q(attempts__gt=0)),
            given_up=Count("pk", filter=Q(failed_at__isnull=False)),
            pending=Count("pk", filter=pending),
        )
    )
    return [
        (row["channel"], status, row[status])
        for row in rows
        for status in ("sent", "failed", "given_up", "pending")
    ]
