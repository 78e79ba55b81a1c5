"""Changes to the KPI catalogue: which KPI applies to whom, with what weight and target, and
industry packs. Each function is one audited transaction; views check who may call them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from miantan.audit.services import record
from miantan.core.errors import DomainError
from miantan.people.models import Department, Organisation, Position

from .enums import PeriodKind
from .models import Kpi, KpiAssignment
from .packs import PACK_LABELS, PACKS, load_pack, pack_key

MAX_WEIGHT = Decimal(100)
# The columns' precision (models.KpiAssignment): beyond it PostgreSQL refuses the row.
_WEIGHT_PLACES, _TARGET_PLACES = 2, 4
_TARGET_LIMIT = Decimal(10) ** (18 - _TARGET_PLACES)
# What a pack sets on a KPI: when none of it differs after a load, the KPI was unchanged.
_DEFINITION = ("name", "name_en", "unit", "direction", "aggregation", "decimals", "pack")


def assign_kpi(
    organisation: Organisation,
    *,
    kpi: Kpi,
    department: Department | None,
    position: Position | None,
    period_kind: str,
    weight: Any,
    target: Any,
    actor: Any,
) -> KpiAssignment:
    """Apply a KPI to a department (with its subtree), a position, or both, per period kind.

    The database treats an empty department or position as distinct from every other, so its
    unique constraint cannot catch a duplicate such as (门诊量, 心内科, no position, month);
    the check here does, with the KPI row locked so two requests cannot both pass it.
    """
    _check_same_organisation(organisation, kpi=kpi, department=department, position=position)
    if department is None and position is None:
        raise DomainError(_("Choose a department, a position or both."), code="no_scope")
    if period_kind not in PeriodKind.values:
        raise DomainError(_("Unknown period kind."), code="invalid_period_kind")
    weight, target = _weight(weight), _target(target)
    with transaction.atomic():
        # Serialises assignments of this KPI, so the duplicate check below holds.
        Kpi.objects.select_for_update().filter(pk=kpi.pk).first()
        duplicate = KpiAssignment.objects.filter(
            kpi=kpi, department=department, position=position, period_kind=period_kind
        )
        if duplicate.exists():
            raise DomainError(
                _("This KPI is already assigned to this department and position for this period."),
                code="duplicate_assignment",
            )
        assignment = KpiAssignment.objects.create(
            organisation=organisation,
            kpi=kpi,
            department=department,
            position=position,
            period_kind=period_kind,
            weight=weight,
            target=target,
        )
        record(
            "metrics.assignment.created",
            actor=actor,
            obj=assignment,
            organisation_id=organisation.pk,
            data={**_describe(assignment), "weight": str(weight), "target": str(target)},
        )
    return assignment


def update_assignment(
    assignment: KpiAssignment, *, weight: Any, target: Any, actor: Any
) -> KpiAssignment:
    """Change an assignment's weight and target; its KPI and scope stay (remove and add
    instead). Saving the same numbers again writes nothing and records nothing."""
    weight, target = _weight(weight), _target(target)
    with transaction.atomic():
        current = KpiAssignment.objects.select_for_update().filter(pk=assignment.pk).first()
        if current is None:
            raise DomainError(_("The assignment no longer exists."), code="gone")
        before = {"weight": current.weight, "target": current.target}
        after = {"weight": weight, "target": target}
        changed = [name for name in after if before[name] != after[name]]
        if not changed:
            return current
        for name in changed:
            setattr(current, name, after[name])
        current.save(update_fields=[*changed, "updated_at"])
        record(
            "metrics.assignment.updated",
            actor=actor,
            obj=current,
            organisation_id=current.organisation_id,
            data={
                **_describe(current),
                **{name: [str(before[name]), str(after[name])] for name in changed},
            },
        )
    return current


def remove_assignment(assignment: KpiAssignment, *, actor: Any) -> None:
    """Delete an assignment. Values already recorded for the KPI stay."""
    with transaction.atomic():
        record(
            "metrics.assignment.removed",
            actor=actor,
            obj=assignment,
            organisation_id=assignment.organisation_id,
            data={
                **_describe(assignment),
                "weight": str(assignment.weight),
                "target": str(assignment.target),
            },
        )
        assignment.delete()


@dataclass(frozen=True)
class PackLoad:
    """What loading a pack did to the catalogue."""

    pack: str
    kpis: list[Kpi]
    created: int
    updated: int

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def message(self) -> str:
        label = PACK_LABELS[self.pack]
        if not self.changed:
            return _("The %(pack)s pack was already loaded; nothing changed.") % {"pack": label}
        if not self.updated:
            return ngettext(
                "The %(pack)s pack was loaded: %(count)s KPI added.",
                "The %(pack)s pack was loaded: %(count)s KPIs added.",
                self.created,
            ) % {"pack": label, "count": self.created}
        return _(
            "The %(pack)s pack was loaded: %(created)s added, %(updated)s brought back to the "
            "pack's definition."
        ) % {"pack": label, "created": self.created, "updated": self.updated}


def load_pack_for(organisation: Organisation, pack: str, *, actor: Any) -> PackLoad:
    """Load an industry pack (packs.load_pack, which records `metrics.kpi_pack.loaded`) and
    tell what it changed. Loading the same pack again adds nothing and says so."""
    key = pack_key(pack)
    codes = [item.code for item in PACKS[key]]
    with transaction.atomic():
        before = {
            kpi.code: _definition(kpi)
            for kpi in Kpi.objects.select_for_update().filter(
                organisation=organisation, code__in=codes
            )
        }
        kpis = load_pack(organisation, key, actor=actor)
    created = sum(1 for kpi in kpis if kpi.code not in before)
    updated = sum(1 for kpi in kpis if kpi.code in before and before[kpi.code] != _definition(kpi))
    return PackLoad(pack=key, kpis=kpis, created=created, updated=updated)


def _check_same_organisation(
    organisation: Organisation,
    *,
    kpi: Kpi,
    department: Department | None,
    position: Position | None,
) -> None:
    if kpi.organisation_id != organisation.pk:
        raise DomainError(_("The KPI belongs to another organisation."), code="foreign_kpi")
    if department is not None and department.organisation_id != organisation.pk:
        raise DomainError(
            _("The department belongs to another organisation."), code="foreign_department"
        )
    if position is not None and position.organisation_id != organisation.pk:
        raise DomainError(
            _("The position belongs to another organisation."), code="foreign_position"
        )


def _weight(value: Any) -> Decimal:
    weight = _number(value)
    if weight is None or weight < 0 or weight > MAX_WEIGHT:
        raise DomainError(
            _("The weight must be a number between 0 and %(limit)s.") % {"limit": MAX_WEIGHT},
            code="invalid_weight",
        )
    return weight.quantize(Decimal(1).scaleb(-_WEIGHT_PLACES))


def _target(value: Any) -> Decimal:
    target = _number(value)
    if target is None or target < 0:
        raise DomainError(_("The target must be a number, 0 or more."), code="invalid_target")
    if target >= _TARGET_LIMIT:
        raise DomainError(_("The target is too large."), code="invalid_target")
    return target.quantize(Decimal(1).scaleb(-_TARGET_PLACES))


def _number(value: Any) -> Decimal | None:
    """The value as a finite decimal number, or None when it is not one."""
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _definition(kpi: Kpi) -> tuple[Any, ...]:
    return tuple(getattr(kpi, name) for name in _DEFINITION)


def _describe(assignment: KpiAssignment) -> dict[str, Any]:
    return {
        "kpi": assignment.kpi.code,
        "department": assignment.department_id,
        "position": assignment.position_id,
        "period_kind": assignment.period_kind,
    }
