"""Demo performance data: the same every time, with the planted weaknesses flagged."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from miantan.metrics.demo import seed_metrics
from miantan.metrics.gaps import gaps_for
from miantan.metrics.models import (
    AttendanceSummary,
    EvidenceEntry,
    Kpi,
    KpiAssignment,
    KpiValue,
    Period,
    ProjectContribution,
    TrainingRecord,
)
from miantan.people.demo import seed_demo
from miantan.people.models import Employee, Organisation

TODAY = date(2026, 11, 22)


@pytest.fixture
def demo(db: None) -> dict[str, Organisation]:
    return {org.slug: org for org in seed_demo(password="demo-password-123")}


def _fingerprint() -> list[Any]:
    values = sorted(
        KpiValue.objects.values_list(
            "employee__employee_number", "kpi__code", "period__label", "value"
        )
    )
    facts = sorted(
        ProjectContribution.objects.values_list("employee__employee_number", "project", "role")
    ) + sorted(TrainingRecord.objects.values_list("employee__employee_number", "course", "hours"))
    return [values, facts]


def _forget_metrics() -> None:
    for model in (
        KpiValue,
        AttendanceSummary,
        EvidenceEntry,
        ProjectContribution,
        TrainingRecord,
        KpiAssignment,
        Kpi,
        Period,
    ):
        model.objects.all().delete()


def test_seed_metrics_is_deterministic(demo):
    for organisation in demo.values():
        seed_metrics(organisation, today=TODAY)
    first = _fingerprint()
    _forget_metrics()

    for organisation in demo.values():
        seed_metrics(organisation, today=TODAY)

    assert _fingerprint() == first
    assert len(first[0]) > 1000


def test_seed_metrics_writes_twelve_months_for_everyone_with_a_kpi(demo):
    written = seed_metrics(demo["hospital"], today=TODAY)

    labels = sorted(Period.objects.values_list("label", flat=True))
    assert labels[0] == "2025-11" and labels[-1] == "2026-10" and len(labels) == 12
    assert written == KpiValue.objects.count()
    li = Employee.objects.get(user__username="h.doctor.li")
    assert KpiValue.objects.filter(employee=li).count() == 12 * 3


def test_seed_metrics_plants_the_doctors_satisfaction_gap(demo):
    seed_metrics(demo["hospital"], today=TODAY)
    li = Employee.objects.select_related("department", "position").get(user__username="h.doctor.li")

    gap = gaps_for(li, as_of=TODAY).by_code()["patient_satisfaction"]

    assert gap.actual == 60.0
    assert 80 <= gap.team_average <= 90
    assert {flag.rule_id for flag in gap.flags} >= {"completion", "team"}


def test_seed_metrics_plants_the_workers_rising_defect_rate(demo):
    seed_metrics(demo["factory"], today=TODAY)
    song = Employee.objects.select_related("department", "position").get(
        user__username="f.worker.song"
    )

    gap = gaps_for(song, as_of=TODAY).by_code()["defect_rate"]

    assert gap.actual == 3.4
    assert gap.trend.direction == "worsening"
    assert {flag.rule_id for flag in gap.flags} == {"completion", "team", "trend"}
