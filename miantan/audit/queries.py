"""Reads of the audit trail, scoped to the viewer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from miantan.people.scopes import scope_for

from .enums import Outcome
from .models import AuditEvent


def views_of_my_records(user: Any) -> QuerySet[AuditEvent]:
    """Who opened the signed-in employee's records: every successful read by someone else."""
    employee = scope_for(user).employee
    if employee is None:
        return AuditEvent.objects.none()
    return (
        AuditEvent.objects.filter(
            subject_id=employee.pk, action__endswith=".viewed", outcome=Outcome.OK
        )
        .exclude(actor_id=user.pk)
        # Newest first across chains: sequence numbers count within one chain only.
        .order_by("-pk")
    )
