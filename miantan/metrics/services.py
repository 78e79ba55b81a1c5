"""Changes to the KPI catalogue: a KPI's valid range, which KPI applies to whom, with what
weight and target, and industry packs (whole, or one KPI of a pack that an import names).
Each function is one audited transaction and checks who may call it: HR for the whole
organisation and its administrators (PermissionDenied else; no actor is the command line or
the demo data)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from miantan.audit.services import record
from miantan.core.errors import DomainError
from miantan.people.models import Department, Organisation, Position
from miantan.people.rules import can_import_org
from miantan.people.scopes import scope_for

from .enums import PeriodKind
from .models import Kpi, KpiAssignment
from .packs import PACK_FIELDS, PACK_LABELS, PACKS, create_pack_kpi, load_pack, pack_key
from .ranges import ValueRange, plain, read_range

MAX_WEIGHT = Decimal(100)
# The columns' precision (models.KpiAssignment): beyond it PostgreSQL refuses the row.
_WEIGHT_PLACES, _TARGET_PLACES = 2, 4
_TARGET_LIMIT = Decimal(10) ** (18 - _TARGET_PLACES)
# What a pack sets on a KPI: when none of it differs after a load, the KPI was unchanged.
_DEFINITION = (*PACK_FIELDS, "pack")


def set_kpi_range(kpi: Kpi, *, minimum: Any, maximum: Any, actor: Any) -> Kpi:
    """Set the valid range of a KPI's values (either end may be empty: no limit).

    Only HR for the whole organisation and its administrators may (PermissionDenied else; no
    actor is the command line). Refused when the lowest is above the highest, or when a target
    assigned to the KPI would lie outside the new range (the message names it). Values already
    stored are not touched; the range applies to what is imported from now on. Saving the same
    range records nothing.
    """
    _ensure_catalogue_manager(actor, kpi.organisation_id)
    valid = read_range(minimum, maximum)
    with transaction.atomic():
        current = Kpi.objects.select_for_update().filter(pk=kpi.pk).first()
        if current is None:
            raise DomainError(_("The KPI no longer exists."), code="gone")
        before = ValueRange.of(current)
        if (before.minimum, before.maximum) == (valid.minimum, valid.maximum):
            return current
        _check_targets_within(current, valid)
        current.min_value, current.max_value = valid.minimum, valid.maximum
        current.save(update_fields=["min_value", "max_value", "updated_at"])
        record(
            "metrics.kpi.range_changed",
            actor=actor,
            obj=current,
            organisation_id=current.organisation_id,
            data={
                "kpi": current.code,
                "min_value": [_text(before.minimum), _text(valid.minimum)],
                "max_value": [_text(before.maximum), _text(valid.maximum)],
            },
        )
    return current


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
    _ensure_catalogue_manager(actor, organisation.pk)
    _check_same_organisation(organisation, kpi=kpi, department=department, position=position)
    if department is None and position is None:
        raise DomainError(_("Choose a department, a position or both."), code="no_scope")
    if period_kind not in PeriodKind.values:
        raise DomainError(_("Unknown period kind."), code="invalid_period_kind")
    weight, target = _weight(weight), _target(target)
    with transaction.atomic():
        # Serialises assignments of this KPI, so the duplicate check below holds, and reads
        # the range as it is now.
        locked = Kpi.objects.select_for_update().filter(pk=kpi.pk).first() or kpi
        _check_target_in_range(locked, target)
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
    _ensure_catalogue_manager(actor, assignment.organisation_id)
    weight, target = _weight(weight), _target(target)
    with transaction.atomic():
        current = (
            KpiAssignment.objects.select_for_update(of=("self",))
            .select_related("kpi")
            .filter(pk=assignment.pk)
            .first()
        )
        if current is None:
            raise DomainError(_("The assignment no longer exists."), code="gone")
        _check_target_in_range(current.kpi, target)
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
    _ensure_catalogue_manager(actor, assignment.organisation_id)
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
    _ensure_catalogue_manager(actor, organisation.pk)
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


def add_kpi_from_pack(organisation: Organisation, pack: str, code: str, *, actor: Any) -> Kpi:
    """Add one KPI of an industry pack to the catalogue, as the pack defines it: what a values
    import does for a KPI its file names that only a pack has. Records
    `metrics.kpi.added_from_pack`; callers run it inside their own transaction, so a rejected
    import leaves no KPI behind.

    Refused (DomainError) when the catalogue already uses the code: an import never turns a
    KPI of the catalogue into a pack's, nor makes a second one with that code.
    """
    _ensure_catalogue_manager(actor, organisation.pk)
    key = pack_key(pack)
    item = next((item for item in PACKS[key] if item.code == code), None)
    if item is None:
        raise DomainError(
            _("The %(pack)s pack has no KPI with the code %(code)s.")
            % {"pack": PACK_LABELS[key], "code": code},
            code="unknown_pack_kpi",
        )
    with transaction.atomic():
        if Kpi.objects.filter(organisation=organisation, code=code).exists():
            raise DomainError(
                _("The catalogue already has a KPI with the code %(code)s.") % {"code": code},
                code="duplicate_kpi_code",
            )
        kpi = create_pack_kpi(organisation, item, key)
        record(
            "metrics.kpi.added_from_pack",
            actor=actor,
            obj=kpi,
            organisation_id=organisation.pk,
            data={"kpi": code, "pack": key},
        )
    return kpi


def _ensure_catalogue_manager(actor: Any, organisation_id: int) -> None:
    """The catalogue sets targets for everyone: HR for the whole organisation and its
    administrators change it (the same people who import files); no actor is the system."""
    if actor is None:
        return
    if not (can_import_org.test(actor) and scope_for(actor).organisation_id == organisation_id):
        raise PermissionDenied


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


def _check_targets_within(kpi: Kpi, valid: ValueRange) -> None:
    outside = Q()
    if valid.minimum is not None:
        outside |= Q(target__lt=valid.minimum)
    if valid.maximum is not None:
        outside |= Q(target__gt=valid.maximum)
    if not outside:
        return
    first = (
        KpiAssignment.objects.filter(outside, kpi=kpi)
        .select_related("department", "position")
        .order_by("pk")
        .first()
    )
    if first is not None:
        raise DomainError(
            _(
                "The target %(target)s assigned to %(scope)s lies outside this range; change "
                "that target first."
            )
            % {"target": plain(first.target), "scope": _scope_name(first)},
            code="target_outside_range",
        )


def _check_target_in_range(kpi: Kpi, target: Decimal) -> None:
    valid = ValueRange.of(kpi)
    if not valid.contains(target):
        raise DomainError(
            _("The target must lie within the KPI's valid range %(range)s.") % {"range": valid},
            code="target_outside_range",
        )


def _scope_name(assignment: KpiAssignment) -> str:
    english = get_language() == "en"
    names = [
        (getattr(part, "name_en", "") if english else "") or part.name
        for part in (assignment.department, assignment.position)
        if part is not None
    ]
    return " · ".join(names)


def _text(number: Decimal | None) -> str | None:
    return None if number is None else plain(number)
