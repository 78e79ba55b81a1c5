"""Predicates about performance data. Like people/rules.py, they read the per-request Scope and
always require the same organisation."""

from __future__ import annotations

from typing import Any

import rules

from miantan.people.rules import (
    is_admin_of,
    is_department_head_for,
    is_hr_for,
    is_manager_of,
    is_self,
)
from miantan.people.scopes import scope_for

from .models import EvidenceEntry

# Nobody writes into their own evidence log, whatever roles they hold.
can_record_evidence = (is_manager_of | is_department_head_for | is_hr_for | is_admin_of) & ~is_self


@rules.predicate
def is_evidence_author(user: Any, entry: EvidenceEntry) -> bool:
    own = scope_for(user).employee
    return (
        own is not None
        and own.is_active
        and own.organisation_id == entry.organisation_id
        and entry.author_id == own.pk
    )


@rules.predicate
def is_hr_or_admin_for_evidence(user: Any, entry: EvidenceEntry) -> bool:
    return is_hr_for.test(user, entry.employee) or is_admin_of.test(user, entry.employee)


@rules.predicate
def is_evidence_about_self(user: Any, entry: EvidenceEntry) -> bool:
    return bool(is_self.test(user, entry.employee))


can_remove_evidence = (is_evidence_author | is_hr_or_admin_for_evidence) & ~is_evidence_about_self
