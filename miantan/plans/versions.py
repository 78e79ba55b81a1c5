"""The canonical content of a published plan version and the differences between two versions.

What the employee acknowledges: title, dates, support (training, mentor), owners, targets and
milestones, in a fixed order, as canonical JSON (`miantan.core.chain.canonical`: sorted keys,
UTF-8, no spaces) with its SHA-256. HR notes are not part of it (the employee never sees them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from miantan.core.chain import canonical

from .models import ImprovementPlan

FORMAT = "miantan.plan/1"

FIELD_LABELS: dict[str, Any] = {
    "title": _("Title"),
    "starts_on": _("Starts on"),
    "ends_on": _("Ends on"),
    "training": _("Training"),
    "mentor": _("Mentor"),
    "manager": _("Manager"),
    "hr": _("HR partner"),
}


def content_of(plan: ImprovementPlan) -> dict[str, Any]:
    def person(employee: Any) -> dict[str, Any] | None:
        return None if employee is None else {"id": employee.pk, "name": employee.name}

    return {
        "format": FORMAT,
        "plan": plan.pk,
        "organisation": plan.organisation_id,
        "employee": person(plan.employee),
        "version": plan.version,
        "title": plan.title,
        "starts_on": plan.starts_on.isoformat(),
        "ends_on": plan.ends_on.isoformat(),
        "training": plan.training,
        "mentor": person(plan.mentor),
        "manager": person(plan.manager),
        "hr": person(plan.hr),
        "targets": [
            {
                "id": t.pk,
                "label": t.label,
                "kpi": t.kpi.code if t.kpi is not None else None,
                "baseline": t.baseline,
                "goal": t.goal,
                "unit": t.unit,
                "direction": t.direction,
            }
            for t in plan.targets.select_related("kpi").order_by("position", "pk")
        ],
        "milestones": [
            {"id": m.pk, "title": m.title, "due_on": m.due_on.isoformat()}
            for m in plan.milestones.order_by("due_on", "pk")
        ],
    }


def encode(content: dict[str, Any]) -> str:
    return canonical(content).decode()


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def decode(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value


@dataclass(frozen=True)
class Change:
    """One difference: `what` names the field or item, `before`/`after` as shown ("" = none)."""

    what: str
    before: str
    after: str


def _person_text(value: Any) -> str:
    return value["name"] if isinstance(value, dict) else ""


def _target_text(target: dict[str, Any] | None) -> str:
    if target is None:
        return ""
    unit = target.get("unit") or ""
    return f"{target['label']}: {target['baseline']}{unit} → {target['goal']}{unit}"


def _milestone_text(milestone: dict[str, Any] | None) -> str:
    return "" if milestone is None else f"{milestone['title']} ({milestone['due_on']})"


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """What changed from `before` to `after` (two contents), field by field, then targets and
    milestones matched by id (added, removed, changed)."""
    changes: list[Change] = []
    for key, label in FIELD_LABELS.items():
        old, new = before.get(key), after.get(key)
        if key in ("mentor", "manager", "hr"):
            old, new = _person_text(old), _person_text(new)
        if (old or "") != (new or ""):
            changes.append(Change(str(label), str(old or ""), str(new or "")))
    for kind, text, label in (
        ("targets", _target_text, _("Target")),
        ("milestones", _milestone_text, _("Milestone")),
    ):
        old_items = {item["id"]: item for item in before.get(kind, [])}
        new_items = {item["id"]: item for item in after.get(kind, [])}
        for pk in list(old_items) + [pk for pk in new_items if pk not in old_items]:
            old_text, new_text = text(old_items.get(pk)), text(new_items.get(pk))
            if old_text != new_text:
                changes.append(Change(str(label), old_text, new_text))
    return changes
