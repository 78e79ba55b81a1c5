"""`manage.py seed_demo` and `manage.py demo_logins`: the demo organisations and their logins."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.db import transaction

from miantan.audit.models import AuditEvent
from miantan.people.demo import DEMO_PASSWORD, demo_logins
from miantan.people.enums import EmploymentStatus, Language, Role
from miantan.people.models import Department, Employee, Organisation, RoleAssignment

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


def _fingerprint() -> list[list[tuple[Any, ...]]]:
    """Everything that makes up the demo, spelled without database ids."""
    codes = dict(Department.objects.values_list("pk", "code"))
    numbers = dict(Employee.objects.values_list("pk", "employee_number"))

    def spell(path: str, names: dict[int, str]) -> str:
        return "/".join(names[int(part)] for part in path.strip("/").split("/"))

    departments = [
        (d.organisation.slug, d.code, d.name, d.name_en, spell(d.path, codes), d.depth)
        for d in Department.objects.select_related("organisation")
    ]
    employees = [
        (
            e.organisation.slug,
            e.employee_number,
            e.name,
            e.user.username,
            codes[e.department_id],
            e.position.code if e.position else "",
            spell(e.manager_path, numbers),
            e.hire_date,
            e.language,
            e.status,
        )
        for e in Employee.objects.select_related("organisation", "user", "position")
    ]
    roles = [
        (numbers[r.employee_id], r.role, codes.get(r.department_id, ""))
        for r in RoleAssignment.objects.all()
    ]
    return [sorted(departments), sorted(employees), sorted(roles)]


def _seed_and_forget(**options: Any) -> list[list[tuple[Any, ...]]]:
    """Seed, take the fingerprint, and roll the database back to empty."""
    try:
        with transaction.atomic():
            call_command("seed_demo", verbosity=0, **options)
            fingerprint = _fingerprint()
            raise _Rollback
    except _Rollback:
        pass
    assert not Organisation.objects.exists()
    return fingerprint


def _login(username: str) -> Employee:
    return Employee.objects.select_related("user", "organisation").get(user__username=username)


def test_seed_demo_builds_the_same_data_every_time() -> None:
    first = _seed_and_forget(employees=300)
    second = _seed_and_forget(employees=300)

    assert first == second
    assert len(first[1]) >= 290


def test_seed_demo_builds_a_hospital_and_a_company() -> None:
    call_command("seed_demo", verbosity=0)

    assert set(Organisation.objects.values_list("slug", flat=True)) == {"hospital", "factory"}
    assert 120 <= Employee.objects.count() <= 200
    cardiology = Department.objects.get(organisation__slug="hospital", name="心内科")
    assert cardiology.parent.name == "内科"
    assert cardiology.name_en == "Cardiology"


def test_seed_demo_audits_every_row_of_the_small_demo() -> None:
    call_command("seed_demo", verbosity=0)

    created = AuditEvent.objects.filter(action="people.employee.created").count()
    assert created == Employee.objects.count()


@pytest.mark.parametrize("slug", ["hospital", "factory"])
def test_seed_demo_gives_every_role_a_login(slug: str) -> None:
    call_command("seed_demo", verbosity=0)

    logins = [_login(login.person.username) for login in demo_logins()]
    mine = [e for e in logins if e.organisation.slug == slug]
    roles = {
        (r.role, r.department.parent_id is None if r.department else None)
        for r in RoleAssignment.objects.filter(employee__in=mine).select_related("department")
    }
    assert (Role.HR, True) in roles  # HR partner for the whole organisation
    assert (Role.DEPARTMENT_HEAD, False) in roles
    assert (Role.EXECUTIVE, None) in roles
    assert (Role.ADMIN, None) in roles
    without_roles = [e for e in mine if not e.role_assignments.exists()]
    with_reports = [e for e in without_roles if e.direct_reports.exists()]
    plain = [e for e in without_roles if not e.direct_reports.exists()]
    assert with_reports, "a manager with reports"
    assert plain, "a plain employee"
    assert any(e.language == Language.EN for e in mine)


def test_seed_demo_logins_share_the_demo_password() -> None:
    call_command("seed_demo", verbosity=0)

    for login in demo_logins():
        employee = _login(login.person.username)
        assert employee.user.is_active
        assert employee.status == EmploymentStatus.ACTIVE
        assert check_password(DEMO_PASSWORD, employee.user.password)


def test_seed_demo_password_option_sets_another_password() -> None:
    call_command("seed_demo", verbosity=0, password="another-demo-pass")

    user = _login("h.hr").user
    assert check_password("another-demo-pass", user.password)
    assert not check_password(DEMO_PASSWORD, user.password)


def test_seed_demo_if_empty_does_nothing_the_second_time() -> None:
    call_command("seed_demo", verbosity=0, if_empty=True)
    employees, events = Employee.objects.count(), AuditEvent.objects.count()

    call_command("seed_demo", verbosity=0, if_empty=True)

    assert Employee.objects.count() == employees
    assert AuditEvent.objects.count() == events


def test_seed_demo_refuses_a_database_with_organisations() -> None:
    call_command("seed_demo", verbosity=0)

    with pytest.raises(CommandError):
        call_command("seed_demo", verbosity=0)


def test_seed_demo_employees_grows_the_hospital_without_auditing_each_row() -> None:
    call_command("seed_demo", verbosity=0, employees=300)
    events = AuditEvent.objects.filter(action="people.employee.created").count()

    assert 290 <= Employee.objects.count() <= 310
    assert Employee.objects.filter(organisation__slug="factory").count() < 100
    assert events < 200


def test_seed_demo_employees_keeps_both_trees_consistent() -> None:
    call_command("seed_demo", verbosity=0, employees=300)

    departments = {d.pk: d for d in Department.objects.all()}
    for d in departments.values():
        parent_path = departments[d.parent_id].path if d.parent_id else "/"
        assert d.path == f"{parent_path}{d.pk}/"
        assert d.depth == d.path.count("/") - 2
    people = {e.pk: e for e in Employee.objects.all()}
    for e in people.values():
        manager_path = people[e.manager_id].manager_path if e.manager_id else "/"
        assert e.manager_path == f"{manager_path}{e.pk}/"
        assert e.department.organisation_id == e.organisation_id


def test_seed_demo_employees_gives_teams_of_at_most_fifteen() -> None:
    call_command("seed_demo", verbosity=0, employees=300)

    generated = Employee.objects.filter(employee_number__startswith="H1")
    for manager in generated.filter(direct_reports__isnull=False).distinct():
        assert manager.direct_reports.count() <= 15


def test_demo_logins_lists_every_login() -> None:
    call_command("seed_demo", verbosity=0)
    out = StringIO()

    call_command("demo_logins", stdout=out)

    for login in demo_logins():
        assert login.person.username in out.getvalue()
    assert DEMO_PASSWORD in out.getvalue()
    assert "李明远" in out.getvalue()


def test_demo_logins_says_so_when_there_are_none() -> None:
    out = StringIO()

    call_command("demo_logins", stdout=out)

    assert "No demo logins" in out.getvalue()


def test_seed_demo_gives_the_hospital_shifts_that_the_slot_search_works_around() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from miantan.scheduling.availability import load_availability
    from miantan.scheduling.models import RosterEntry, ShiftCode

    call_command("seed_demo", verbosity=0)

    doctor = _login("h.doctor.li")
    nights = RosterEntry.objects.filter(employee=doctor, shift_code__code="夜班")
    assert nights.count() == 14
    assert ShiftCode.objects.filter(organisation__slug="factory", code="早班").exists()
    start = timezone.now()
    loaded = load_availability([doctor], start, start + timedelta(days=7))[doctor.pk]
    assert loaded.duty_days and loaded.night_shift_ends


def test_the_demo_has_a_signed_talk_and_an_appeal_waiting_for_hr(db):
    from miantan.archive.models import Appeal, AppealState
    from miantan.archive.verification import verify_all
    from miantan.records.enums import RecordState
    from miantan.records.models import Record

    call_command("seed_demo", verbosity=0)

    assert Record.objects.filter(state=RecordState.ARCHIVED).count() == 1
    appeal = Appeal.objects.get()
    assert appeal.state == AppealState.OPEN and appeal.opened_by.user.username == "h.nurse.wang"
    assert list(verify_all()) == []
