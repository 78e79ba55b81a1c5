"""Industry KPI packs: loading creates the catalogue once and refreshes it after that."""

from __future__ import annotations

import pytest

from miantan.audit.models import AuditEvent
from miantan.core.errors import DomainError
from miantan.metrics.enums import Direction
from miantan.metrics.models import Kpi
from miantan.metrics.packs import PACKS, load_pack
from tests.personas import Hospital


def test_load_pack_creates_the_hospital_kpis(hospital: Hospital) -> None:
    kpis = load_pack(hospital.organisation, "hospital", actor=hospital.admin.user)

    assert [kpi.name for kpi in kpis] == ["门诊量", "手术量", "患者满意度", "病历书写质量"]
    assert {kpi.pack for kpi in kpis} == {"hospital"}
    assert kpis[2].name_en == "Patient satisfaction"
    assert kpis[2].unit == "%"


def test_load_pack_twice_does_not_duplicate(hospital: Hospital) -> None:
    first = load_pack(hospital.organisation, "hospital", actor=hospital.admin.user)
    second = load_pack(hospital.organisation, "hospital", actor=hospital.admin.user)

    assert [kpi.pk for kpi in first] == [kpi.pk for kpi in second]
    assert Kpi.objects.filter(organisation=hospital.organisation).count() == 4


def test_load_pack_restores_changed_names_and_units(hospital: Hospital) -> None:
    load_pack(hospital.organisation, "hospital", actor=hospital.admin.user)
    Kpi.objects.filter(code="surgeries").update(name="手术", unit="")

    load_pack(hospital.organisation, "hospital", actor=hospital.admin.user)

    kpi = Kpi.objects.get(code="surgeries")
    assert (kpi.name, kpi.unit) == ("手术量", "台")
    event = AuditEvent.objects.filter(action="metrics.kpi_pack.loaded").order_by("-pk").first()
    assert event is not None
    assert event.data == {"pack": "hospital", "created": 0, "updated": 1, "kpis": 4}


def test_load_pack_records_one_event(hospital: Hospital) -> None:
    load_pack(hospital.organisation, "manufacturing", actor=hospital.admin.user)

    events = AuditEvent.objects.filter(action="metrics.kpi_pack.loaded")
    assert events.count() == 1
    assert events.get().data["created"] == 3


def test_defect_rate_is_lower_is_better() -> None:
    defect = next(kpi for kpi in PACKS["manufacturing"] if kpi.code == "defect_rate")
    bug = next(kpi for kpi in PACKS["rnd"] if kpi.code == "bug_rate")

    assert defect.direction == Direction.LOWER
    assert bug.direction == Direction.LOWER


def test_every_pack_has_unique_codes_and_both_names() -> None:
    for items in PACKS.values():
        assert len({item.code for item in items}) == len(items)
        assert all(item.name and item.name_en for item in items)


def test_load_pack_accepts_r_and_d(hospital: Hospital) -> None:
    kpis = load_pack(hospital.organisation, "R&D", actor=None)

    assert [kpi.name for kpi in kpis] == ["项目进度", "bug 率", "专利数", "代码评审通过率"]


def test_load_pack_refuses_an_unknown_pack(hospital: Hospital) -> None:
    with pytest.raises(DomainError):
        load_pack(hospital.organisation, "bakery", actor=None)
