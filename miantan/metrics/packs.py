"""Industry KPI packs: ready-made catalogues an organisation can load instead of typing them in.

A pack is data. Loading it creates the KPIs it lists, or brings existing ones with the same code
back to the pack's names, unit, direction, aggregation, decimals and valid range; it never makes
a second KPI with the same code, so loading a pack twice changes nothing. A KPI's range is its
unit's (ranges.default_range) unless the pack says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from miantan.audit.services import record
from miantan.core.errors import DomainError
from miantan.people.models import Organisation

from .enums import Aggregation, Direction
from .models import Kpi
from .ranges import default_range


@dataclass(frozen=True)
class PackKpi:
    code: str
    name: str
    name_en: str
    unit: str = ""
    direction: str = Direction.HIGHER
    aggregation: str = Aggregation.SUM
    decimals: int = 0
    # (lowest, highest) valid value, None for an open end; None: the unit's default range.
    valid: tuple[Decimal | None, Decimal | None] | None = None

    @property
    def min_value(self) -> Decimal | None:
        return (self.valid or default_range(self.unit))[0]

    @property
    def max_value(self) -> Decimal | None:
        return (self.valid or default_range(self.unit))[1]


_HIGHER, _LOWER = Direction.HIGHER, Direction.LOWER
_SUM = Aggregation.SUM
_AVG = Aggregation.AVERAGE
_LAST = Aggregation.LAST
_NOT_NEGATIVE = (Decimal(0), None)

PACKS: dict[str, tuple[PackKpi, ...]] = {
    "hospital": (
        PackKpi("outpatient_visits", "门诊量", "Outpatient visits", "人次"),
        PackKpi("surgeries", "手术量", "Surgeries", "台"),
        PackKpi(
            "patient_satisfaction", "患者满意度", "Patient satisfaction", "%", _HIGHER, _AVG, 1
        ),
        PackKpi(
            "medical_record_quality",
            "病历书写质量",
            "Medical record quality",
            "分",
            _HIGHER,
            _AVG,
            1,
            (Decimal(0), Decimal(100)),
        ),
    ),
    "manufacturing": (
        PackKpi("defect_rate", "次品率", "Defect rate", "%", _LOWER, _AVG, 2),
        # Above 100 % when lines run extra shifts.
        PackKpi(
            "capacity_utilisation",
            "产能利用率",
            "Capacity utilisation",
            "%",
            _HIGHER,
            _AVG,
            1,
            _NOT_NEGATIVE,
        ),
        PackKpi(
            "process_skill_level", "工序技能等级", "Process skill level", "级", _HIGHER, _LAST, 0
        ),
    ),
    "sales": (
        PackKpi("sales_revenue", "销售额", "Sales revenue", "元", _HIGHER, _SUM, 2, _NOT_NEGATIVE),
        PackKpi("customer_retention", "客户留存率", "Customer retention", "%", _HIGHER, _AVG, 1),
        PackKpi("conversion_rate", "转化率", "Conversion rate", "%", _HIGHER, _AVG, 1),
    ),
    "rnd": (
        PackKpi("project_progress", "项目进度", "Project progress", "%", _HIGHER, _LAST, 1),
        PackKpi("bug_rate", "bug 率", "Bug rate", "%", _LOWER, _AVG, 2),
        PackKpi("patents", "专利数", "Patents", "项"),
        PackKpi(
            "code_review_pass_rate",
            "代码评审通过率",
            "Code review pass rate",
            "%",
            _HIGHER,
            _AVG,
            1,
        ),
    ),
    "retail": (
        PackKpi(
            "average_transaction_value",
            "客单价",
            "Average transaction value",
            "元",
            _HIGHER,
            _AVG,
            2,
            _NOT_NEGATIVE,
        ),
    ),
}

PACK_LABELS: dict[str, Any] = {
    "hospital": _("Hospital"),
    "manufacturing": _("Manufacturing"),
    "sales": _("Sales"),
    "rnd": _("Research and development"),
    "retail": _("Retail"),
}

_ALIASES = {"r&d": "rnd", "r_and_d": "rnd", "research": "rnd"}

# What a pack sets on a KPI besides its code and the pack's name.
PACK_FIELDS = (
    "name",
    "name_en",
    "unit",
    "direction",
    "aggregation",
    "decimals",
    "min_value",
    "max_value",
)


def pack_key(pack: str) -> str:
    """The canonical name of a pack (case-insensitive; "R&D" is "rnd")."""
    key = pack.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in PACKS:
        raise DomainError(
            _("There is no KPI pack called “%(pack)s”. Packs: %(packs)s.")
            % {"pack": pack, "packs": ", ".join(PACKS)},
            code="unknown_pack",
        )
    return key


def load_pack(organisation: Organisation, pack: str, *, actor: Any) -> list[Kpi]:
    """Create or refresh the pack's KPIs in the organisation, in one audited transaction.

    Returns the pack's KPIs in pack order. Existing KPIs with the same code keep their id (and
    so their values) and get the pack's definition back; one `metrics.kpi_pack.loaded` event
    records how many were created and how many changed.
    """
    key = pack_key(pack)
    items = PACKS[key]
    with transaction.atomic():
        existing = {
            kpi.code: kpi
            for kpi in Kpi.objects.select_for_update().filter(
                organisation=organisation, code__in=[item.code for item in items]
            )
        }
        result, created, updated = [], 0, 0
        for item in items:
            kpi = existing.get(item.code)
            if kpi is None:
                kpi = create_pack_kpi(organisation, item, key)
                created += 1
            else:
                if _refresh(kpi, item, key):
                    updated += 1
            result.append(kpi)
        record(
            "metrics.kpi_pack.loaded",
            actor=actor,
            obj=organisation,
            organisation_id=organisation.pk,
            data={"pack": key, "created": created, "updated": updated, "kpis": len(items)},
        )
    return result


def create_pack_kpi(organisation: Organisation, item: PackKpi, key: str) -> Kpi:
    """A new KPI of the catalogue as the pack `key` defines it; the caller records the event."""
    return Kpi.objects.create(
        organisation=organisation,
        code=item.code,
        pack=key,
        **{name: getattr(item, name) for name in PACK_FIELDS},
    )


def _refresh(kpi: Kpi, item: PackKpi, key: str) -> bool:
    changed = [name for name in PACK_FIELDS if getattr(kpi, name) != getattr(item, name)]
    for name in changed:
        setattr(kpi, name, getattr(item, name))
    if kpi.pack != key:
        kpi.pack = key
        changed.append("pack")
    if changed:
        kpi.save(update_fields=[*changed, "updated_at"])
    return bool(changed)
