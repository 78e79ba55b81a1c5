"""Keeping the KPI catalogue: assignments (validated, unique, audited), packs, the reads and
the API that serves them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.http import Http404
from django.test import Client
from django.utils import translation

from miantan.audit.models import AuditEvent
from miantan.core.errors import DomainError
from miantan.metrics.catalogue import access_assignment, assignments_visible_to, pack_statuses
from miantan.metrics.enums import PeriodKind
from miantan.metrics.models import Kpi, KpiAssignment
from miantan.metrics.services import (
    assign_kpi,
    load_pack_for,
    remove_assignment,
    update_assignment,
)
from miantan.people.enums import EmploymentStatus
from miantan.people.models import Employee, Position
from tests.factories import EmployeeFactory, PositionFactory
from tests.metrics.kpi_builders import assign, kpi
from tests.personas import Hospital, OtherOrganisation


@pytest.fixture
def visits(hospital: Hospital) -> Kpi:
    return kpi(hospital.organisation, "outpatient_visits", "门诊量", name_en="Outpatient visits")


@pytest.fixture
def doctor(hospital: Hospital) -> Position:
    return Position.objects.get(organisation=hospital.organisation, code="YS")


def assign_visits(hospital: Hospital, visits: Kpi, **overrides: Any) -> KpiAssignment:
    arguments: dict[str, Any] = {
        "kpi": visits,
        "department": hospital.cardiology,
        "position": None,
        "period_kind": PeriodKind.MONTH,
        "weight": "30",
        "target": "400",
        "actor": hospital.hr_partner.user,
    }
    return assign_kpi(hospital.organisation, **{**arguments, **overrides})


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# --- assign_kpi ------------------------------------------------------------------------------


def test_assign_kpi_creates_the_assignment(hospital: Hospital, visits: Kpi) -> None:
    assignment = assign_visits(hospital, visits)

    assignment.refresh_from_db()
    assert (assignment.department, assignment.position) == (hospital.cardiology, None)
    assert (assignment.weight, assignment.target) == (Decimal(30), Decimal(400))
    assert assignment.organisation == hospital.organisation


def test_assign_kpi_records_an_audit_event(hospital: Hospital, visits: Kpi) -> None:
    assignment = assign_visits(hospital, visits)

    [event] = events("metrics.assignment.created")
    assert event.object_id == str(assignment.pk)
    assert event.actor_id == hospital.hr_partner.user.pk
    assert event.organisation_id == hospital.organisation.pk
    assert event.data["kpi"] == "outpatient_visits"
    assert event.data["target"] == "400.0000"


def test_assign_kpi_to_a_position_within_a_department(
    hospital: Hospital, visits: Kpi, doctor: Position
) -> None:
    assignment = assign_visits(hospital, visits, position=doctor)

    assert (assignment.department, assignment.position) == (hospital.cardiology, doctor)


def test_assign_kpi_to_a_position_alone(hospital: Hospital, visits: Kpi, doctor: Position) -> None:
    assignment = assign_visits(hospital, visits, department=None, position=doctor)

    assert assignment.department is None


def test_assign_kpi_needs_a_department_or_a_position(hospital: Hospital, visits: Kpi) -> None:
    with pytest.raises(DomainError) as refused:
        assign_visits(hospital, visits, department=None)

    assert refused.value.code == "no_scope"
    assert not KpiAssignment.objects.exists()


def test_assign_kpi_refuses_a_duplicate(hospital: Hospital, visits: Kpi) -> None:
    assign_visits(hospital, visits)

    with pytest.raises(DomainError) as refused:
        assign_visits(hospital, visits, weight="10", target="300")

    assert refused.value.code == "duplicate_assignment"
    assert KpiAssignment.objects.count() == 1
    assert len(events("metrics.assignment.created")) == 1


def test_assign_kpi_refuses_a_duplicate_without_department(
    hospital: Hospital, visits: Kpi, doctor: Position
) -> None:
    # The database's unique constraint treats the empty department as distinct; the service not.
    assign_visits(hospital, visits, department=None, position=doctor)

    with pytest.raises(DomainError):
        assign_visits(hospital, visits, department=None, position=doctor)

    assert KpiAssignment.objects.count() == 1


def test_assign_kpi_allows_the_same_scope_for_another_period_kind(
    hospital: Hospital, visits: Kpi
) -> None:
    assign_visits(hospital, visits)

    assign_visits(hospital, visits, period_kind=PeriodKind.QUARTER, target="1200")

    assert KpiAssignment.objects.count() == 2


def test_assign_kpi_refuses_a_foreign_department(
    hospital: Hospital, other_org: OtherOrganisation, visits: Kpi
) -> None:
    with pytest.raises(DomainError) as refused:
        assign_visits(hospital, visits, department=other_org.department)

    assert refused.value.code == "foreign_department"
    assert not KpiAssignment.objects.exists()


def test_assign_kpi_refuses_a_foreign_position(
    hospital: Hospital, other_org: OtherOrganisation, visits: Kpi
) -> None:
    foreign = PositionFactory(organisation=other_org.organisation)

    with pytest.raises(DomainError) as refused:
        assign_visits(hospital, visits, position=foreign)

    assert refused.value.code == "foreign_position"


def test_assign_kpi_refuses_a_foreign_kpi(hospital: Hospital, other_org: OtherOrganisation) -> None:
    foreign = kpi(other_org.organisation, "bug_rate", "bug 率")

    with pytest.raises(DomainError) as refused:
        assign_visits(hospital, foreign)

    assert refused.value.code == "foreign_kpi"


@pytest.mark.parametrize("target", ["-1", "abc", "NaN", "Infinity", None, "1e20"])
def test_assign_kpi_refuses_a_bad_target(hospital: Hospital, visits: Kpi, target: Any) -> None:
    with pytest.raises(DomainError) as refused:
        assign_visits(hospital, visits, target=target)

    assert refused.value.code == "invalid_target"
    assert not KpiAssignment.objects.exists()
    assert not events("metrics.assignment.created")


@pytest.mark.parametrize("weight", ["-0.5", "100.01", "abc"])
def test_assign_kpi_refuses_a_bad_weight(hospital: Hospital, visits: Kpi, weight: str) -> None:
    with pytest.raises(DomainError) as refused:
        assign_visits(hospital, visits, weight=weight)

    assert refused.value.code == "invalid_weight"


def test_assign_kpi_accepts_the_limits(hospital: Hospital, visits: Kpi) -> None:
    assignment = assign_visits(hospital, visits, weight="100", target="0")

    assert (assignment.weight, assignment.target) == (Decimal(100), Decimal(0))


def test_assign_kpi_refuses_an_unknown_period_kind(hospital: Hospital, visits: Kpi) -> None:
    with pytest.raises(DomainError):
        assign_visits(hospital, visits, period_kind="week")


# --- update_assignment and remove_assignment --------------------------------------------------


def test_update_assignment_changes_weight_and_target(hospital: Hospital, visits: Kpi) -> None:
    assignment = assign(visits, 400, department=hospital.cardiology, weight=30)

    update_assignment(assignment, weight="20", target="450.5", actor=hospital.hr_partner.user)

    assignment.refresh_from_db()
    assert (assignment.weight, assignment.target) == (Decimal(20), Decimal("450.5"))
    [event] = events("metrics.assignment.updated")
    assert event.data["target"] == ["400.0000", "450.5000"]
    assert event.data["weight"] == ["30.00", "20.00"]


def test_update_assignment_with_the_same_numbers_records_nothing(
    hospital: Hospital, visits: Kpi
) -> None:
    assignment = assign(visits, 400, department=hospital.cardiology, weight=30)

    update_assignment(assignment, weight="30", target="400", actor=hospital.hr_partner.user)

    assert not events("metrics.assignment.updated")


def test_update_assignment_refuses_a_negative_target(hospital: Hospital, visits: Kpi) -> None:
    assignment = assign(visits, 400, department=hospital.cardiology, weight=30)

    with pytest.raises(DomainError):
        update_assignment(assignment, weight="30", target="-5", actor=hospital.hr_partner.user)

    assignment.refresh_from_db()
    assert assignment.target == Decimal(400)
    assert not events("metrics.assignment.updated")


def test_remove_assignment_deletes_it_and_records_it(hospital: Hospital, visits: Kpi) -> None:
    assignment = assign(visits, 400, department=hospital.cardiology)
    pk = assignment.pk

    remove_assignment(assignment, actor=hospital.hr_partner.user)

    assert not KpiAssignment.objects.filter(pk=pk).exists()
    [event] = events("metrics.assignment.removed")
    assert event.object_id == str(pk)
    assert event.data["department"] == hospital.cardiology.pk


# --- packs -----------------------------------------------------------------------------------


def test_load_pack_for_adds_the_pack(hospital: Hospital) -> None:
    loaded = load_pack_for(hospital.organisation, "hospital", actor=hospital.admin.user)

    assert (loaded.created, loaded.updated, loaded.changed) == (4, 0, True)
    assert Kpi.objects.filter(organisation=hospital.organisation, pack="hospital").count() == 4
    assert len(events("metrics.kpi_pack.loaded")) == 1


def test_load_pack_for_twice_adds_nothing_and_says_so(hospital: Hospital) -> None:
    load_pack_for(hospital.organisation, "hospital", actor=hospital.admin.user)

    again = load_pack_for(hospital.organisation, "hospital", actor=hospital.admin.user)

    assert (again.created, again.updated, again.changed) == (0, 0, False)
    with translation.override("en"):
        assert "nothing changed" in again.message()
    assert Kpi.objects.filter(organisation=hospital.organisation).count() == 4


def test_load_pack_for_counts_a_kpi_brought_back_to_the_pack(hospital: Hospital) -> None:
    load_pack_for(hospital.organisation, "hospital", actor=hospital.admin.user)
    Kpi.objects.filter(code="surgeries").update(name="手术台次")

    again = load_pack_for(hospital.organisation, "hospital", actor=hospital.admin.user)

    assert (again.created, again.updated) == (0, 1)


def test_load_pack_for_refuses_an_unknown_pack(hospital: Hospital) -> None:
    with pytest.raises(DomainError):
        load_pack_for(hospital.organisation, "bakery", actor=hospital.admin.user)


def test_pack_statuses_tell_which_packs_are_loaded(hospital: Hospital) -> None:
    loaded = load_pack_for(hospital.organisation, "retail", actor=None)
    partly = [kpi(hospital.organisation, "bug_rate", "bug 率")]

    statuses = {s.key: s for s in pack_statuses([*loaded.kpis, *partly])}

    assert statuses["retail"].loaded
    assert statuses["rnd"].partly_loaded
    assert not statuses["hospital"].loaded and not statuses["hospital"].partly_loaded


# --- reads -----------------------------------------------------------------------------------


def test_assignments_visible_to_is_the_own_organisation(
    hospital: Hospital, other_org: OtherOrganisation, visits: Kpi
) -> None:
    own = assign(visits, 400, department=hospital.cardiology)
    assign(kpi(other_org.organisation, "bug_rate", "bug 率"), 2, department=other_org.department)

    assert list(assignments_visible_to(hospital.doctor_li.user)) == [own]


def test_assignments_visible_to_a_leaver_is_empty(hospital: Hospital, visits: Kpi) -> None:
    assign(visits, 400, department=hospital.cardiology)
    leaver = EmployeeFactory(department=hospital.cardiology)
    Employee.objects.filter(pk=leaver.pk).update(status=EmploymentStatus.LEFT)

    assert not assignments_visible_to(leaver.user).exists()


def test_access_assignment_answers_404_for_a_foreign_id(
    hospital: Hospital, other_org: OtherOrganisation
) -> None:
    foreign = assign(
        kpi(other_org.organisation, "bug_rate", "bug 率"), 2, department=other_org.department
    )

    with pytest.raises(Http404):
        access_assignment(hospital.hr_partner.user, foreign.pk)


@pytest.mark.parametrize("assignment_id", [987654, "abc", -1])
def test_access_assignment_answers_404_for_an_unknown_id(
    hospital: Hospital, assignment_id: Any
) -> None:
    with pytest.raises(Http404):
        access_assignment(hospital.hr_partner.user, assignment_id)


def test_access_assignment_returns_an_own_assignment(hospital: Hospital, visits: Kpi) -> None:
    own = assign(visits, 400, department=hospital.cardiology)

    assert access_assignment(hospital.hr_partner.user, own.pk) == own


# --- the API ---------------------------------------------------------------------------------

ASSIGNMENTS_API = "/api/v1/metrics/kpis/assignments"


def test_api_lists_the_own_assignments(
    hospital: Hospital, other_org: OtherOrganisation, visits: Kpi, doctor: Position, client_as: Any
) -> None:
    own = assign(visits, 400, department=hospital.cardiology, position=doctor, weight=30)
    assign(kpi(other_org.organisation, "bug_rate", "bug 率"), 2, department=other_org.department)

    response = client_as(hospital.nurse_wang).get(ASSIGNMENTS_API)

    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["id"] == own.pk
    assert item["kpi"]["code"] == "outpatient_visits"
    assert (item["department"]["code"], item["position"]["code"]) == ("XNK", "YS")
    assert (item["period_kind"], Decimal(item["target"])) == ("month", Decimal(400))


def test_api_assignments_need_authentication(hospital: Hospital) -> None:
    assert Client().get(ASSIGNMENTS_API).status_code == 401
