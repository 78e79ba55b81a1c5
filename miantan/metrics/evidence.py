"""The evidence log: good and bad events a manager or HR notes between talks (B1).

Recording and removing an entry each check their rule (rules.py) and are one audited
transaction: `metrics.evidence.recorded`, `metrics.evidence.removed`. A refusal is audited too,
with outcome `denied`. The audit event names the kind, date and KPI, never the text: the text is
personal data and stays in the log, where removing the entry removes it.
Callers fetch the employee through `access_employee` first, so nobody learns that a person
outside their scope exists.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.errors import InvalidFields
from miantan.core.ids import as_id
from miantan.people.models import Employee
from miantan.people.scopes import scope_for

from .enums import EvidenceKind
from .models import EvidenceEntry, Kpi
from .rules import can_record_evidence, can_remove_evidence

MAX_TEXT = 2000


class InvalidEvidence(InvalidFields):
    """The entry was refused."""

    error_code = "invalid_evidence"


def evidence_of(employee: Employee) -> QuerySet[EvidenceEntry]:
    """The employee's log, newest first (the employee fetched through access_employee)."""
    return (
        EvidenceEntry.objects.filter(employee=employee)
        .select_related("kpi", "author")
        .order_by("-happened_on", "-pk")
    )


def entry_of(employee: Employee, entry_id: Any) -> EvidenceEntry:
    """One entry of the employee's log, or 404."""
    pk = as_id(entry_id)
    entry = evidence_of(employee).filter(pk=pk).first() if pk is not None else None
    if entry is None:
        raise Http404
    # The rules read the employee's department; it is already loaded on the caller's object.
    entry.employee = employee
    return entry


def ensure_may_record(actor: Any, employee: Employee) -> None:
    """PermissionDenied (audited) unless the actor may write into the employee's log."""
    if not can_record_evidence.test(actor, employee):
        _denied("metrics.evidence.recorded", actor, employee, obj=employee)


def ensure_may_remove(actor: Any, entry: EvidenceEntry) -> None:
    if not can_remove_evidence.test(actor, entry):
        _denied("metrics.evidence.removed", actor, entry.employee, obj=entry)


def record_evidence(
    actor: Any,
    employee: Employee,
    *,
    kind: str,
    happened_on: date,
    text: str,
    kpi: Kpi | None = None,
) -> EvidenceEntry:
    """Add an entry to the employee's log, written by the actor.

    Refuses (InvalidEvidence, nothing written) an empty or over-long text, a date in the future
    or before the hire date, and a KPI of another organisation.
    """
    ensure_may_record(actor, employee)
    text = (text or "").strip()
    errors = _problems(employee, kind=kind, happened_on=happened_on, text=text, kpi=kpi)
    if errors:
        raise InvalidEvidence(errors)
    with transaction.atomic():
        entry = EvidenceEntry.objects.create(
            organisation_id=employee.organisation_id,
            employee=employee,
            author=scope_for(actor).employee,
            kind=kind,
            happened_on=happened_on,
            text=text,
            kpi=kpi,
        )
        record(
            "metrics.evidence.recorded",
            actor=actor,
            obj=entry,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
            data={
                "kind": kind,
                "happened_on": happened_on.isoformat(),
                "kpi": kpi.code if kpi else None,
            },
        )
    return entry


def remove_evidence(actor: Any, entry: EvidenceEntry) -> None:
    """Delete an entry: for its author, and for HR and administrators with the employee in scope."""
    ensure_may_remove(actor, entry)
    with transaction.atomic():
        record(
            "metrics.evidence.removed",
            actor=actor,
            obj=entry,
            subject_id=entry.employee_id,
            organisation_id=entry.organisation_id,
            data={
                "kind": entry.kind,
                "happened_on": entry.happened_on.isoformat(),
                "author": entry.author_id,
            },
        )
        entry.delete()


def _problems(
    employee: Employee, *, kind: str, happened_on: date, text: str, kpi: Kpi | None
) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    if kind not in EvidenceKind.values:
        errors["kind"] = _("Choose whether the event was positive or needs improvement.")
    if not text:
        errors["text"] = _("Describe what happened.")
    elif len(text) > MAX_TEXT:
        errors["text"] = _("Keep the description to %(limit)s characters (it has %(length)s).") % {
            "limit": MAX_TEXT,
            "length": len(text),
        }
    if happened_on > timezone.localdate():
        errors["happened_on"] = _("The date is in the future.")
    elif employee.hire_date and happened_on < employee.hire_date:
        errors["happened_on"] = _("The date is before the hire date (%(hired)s).") % {
            "hired": employee.hire_date.isoformat()
        }
    if kpi is not None and kpi.organisation_id != employee.organisation_id:
        errors["kpi"] = _("The KPI belongs to another organisation.")
    return errors


def _denied(action: str, actor: Any, employee: Employee, *, obj: Any) -> None:
    record(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=obj,
        subject_id=employee.pk,
        organisation_id=employee.organisation_id,
    )
    raise PermissionDenied
