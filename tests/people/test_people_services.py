"""Changes to the organisation: each is one audited transaction that keeps the paths right."""

from __future__ import annotations

import pytest

from miantan.audit.models import AuditEvent
from miantan.core.errors import DomainError
from miantan.people.enums import EmploymentStatus, Role
from miantan.people.models import Department, Employee, RoleAssignment
from miantan.people.services import (
    assign_role,
    create_department,
    create_employee,
    mark_left,
    move_department,
    revoke_role,
    set_language,
    set_manager,
)
from tests.factories import EmployeeFactory


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-pk").first()


def path_of(employee: Employee) -> str:
    return Employee.objects.get(pk=employee.pk).manager_path


def test_create_department_builds_path_and_depth(hospital):
    ward = create_department(
        hospital.organisation, code="XNK-1", name="心内一病区", parent=hospital.cardiology
    )

    assert ward.path == f"{hospital.cardiology.path}{ward.pk}/"
    assert ward.depth == hospital.cardiology.depth + 1


def test_create_department_refuses_a_parent_from_another_organisation(hospital, other_org):
    with pytest.raises(DomainError):
        create_department(hospital.organisation, code="X", name="X", parent=other_org.department)


def test_create_employee_builds_the_reporting_line(hospital):
    intern = create_employee(
        hospital.organisation,
        employee_number="H0099",
        name="实习生",
        department=hospital.cardiology_nursing,
        manager=hospital.nurse_wang,
    )

    assert intern.manager_path == f"{hospital.nurse_wang.manager_path}{intern.pk}/"
    assert last_event("people.employee.created").subject_id == intern.pk


def test_create_employee_without_password_has_an_unusable_login(hospital):
    intern = create_employee(
        hospital.organisation, employee_number="H0098", name="新人", department=hospital.emergency
    )

    assert not intern.user.has_usable_password()


def test_create_employee_refuses_a_manager_from_another_organisation(hospital, other_org):
    with pytest.raises(DomainError):
        create_employee(
            hospital.organisation,
            employee_number="H0097",
            name="新人",
            department=hospital.emergency,
            manager=other_org.employee,
        )


def test_set_manager_moves_the_reporting_line_of_the_whole_subtree(hospital):
    set_manager(hospital.head_nurse, manager=hospital.zhao, actor=hospital.hr_partner.user)

    zhao, zhou, wang = hospital.zhao.pk, hospital.head_nurse.pk, hospital.nurse_wang.pk
    assert path_of(hospital.head_nurse) == f"/{zhao}/{zhou}/"
    assert path_of(hospital.nurse_wang) == f"/{zhao}/{zhou}/{wang}/"
    assert path_of(hospital.doctor_li) == f"/{hospital.head.pk}/{hospital.doctor_li.pk}/"


def test_set_manager_to_nobody_makes_the_employee_a_top_of_line(hospital):
    set_manager(hospital.head_nurse, manager=None, actor=None)

    assert path_of(hospital.nurse_wang) == f"/{hospital.head_nurse.pk}/{hospital.nurse_wang.pk}/"


def test_set_manager_refuses_a_cycle(hospital):
    with pytest.raises(DomainError):
        set_manager(hospital.head, manager=hospital.nurse_wang, actor=None)

    assert path_of(hospital.nurse_wang).startswith(path_of(hospital.head))


def test_set_manager_refuses_the_employee_themselves(hospital):
    with pytest.raises(DomainError):
        set_manager(hospital.zhao, manager=hospital.zhao, actor=None)


def test_set_manager_refuses_a_manager_from_another_organisation(hospital, other_org):
    with pytest.raises(DomainError):
        set_manager(hospital.zhao, manager=other_org.employee, actor=None)


def test_set_manager_is_audited(hospital):
    set_manager(hospital.doctor_li, manager=hospital.zhao, actor=hospital.hr_partner.user)

    event = last_event("people.employee.manager_changed")
    assert event.subject_id == hospital.doctor_li.pk
    assert event.actor_id == hospital.hr_partner.user.pk
    assert event.data == {"from": hospital.head.pk, "to": hospital.zhao.pk}


def test_move_department_moves_the_paths_of_the_whole_subtree(hospital):
    move_department(hospital.cardiology, parent=hospital.emergency, actor=None)

    cardiology = Department.objects.get(pk=hospital.cardiology.pk)
    nursing = Department.objects.get(pk=hospital.cardiology_nursing.pk)
    assert cardiology.path == f"{hospital.emergency.path}{cardiology.pk}/"
    assert nursing.path == f"{cardiology.path}{nursing.pk}/"
    assert (cardiology.parent_id, cardiology.depth, nursing.depth) == (hospital.emergency.pk, 2, 3)


def test_move_department_to_the_top_reduces_depths(hospital):
    move_department(hospital.cardiology, parent=None, actor=None)

    nursing = Department.objects.get(pk=hospital.cardiology_nursing.pk)
    assert nursing.path == f"/{hospital.cardiology.pk}/{nursing.pk}/"
    assert nursing.depth == 1


def test_move_department_carries_the_department_heads_scope(hospital):
    move_department(hospital.cardiology, parent=hospital.emergency, actor=None)

    from miantan.people.queries import employees_visible_to

    head = Employee.objects.get(pk=hospital.head.pk)
    assert "王芳" in set(employees_visible_to(head.user).values_list("name", flat=True))


def test_move_department_refuses_to_move_below_itself(hospital):
    with pytest.raises(DomainError):
        move_department(hospital.internal_medicine, parent=hospital.cardiology, actor=None)

    assert Department.objects.get(pk=hospital.cardiology.pk).path.startswith(
        hospital.internal_medicine.path
    )


def test_mark_left_deactivates_the_login_and_is_audited(hospital):
    mark_left(hospital.doctor_li, actor=hospital.hr_partner.user)

    li = Employee.objects.select_related("user").get(pk=hospital.doctor_li.pk)
    assert li.status == EmploymentStatus.LEFT
    assert li.left_on is not None
    assert not li.user.is_active
    assert last_event("people.employee.left").subject_id == li.pk


def test_mark_left_signs_a_logged_in_employee_out_at_the_next_request(hospital, client_as):
    client = client_as(hospital.doctor_li)
    assert client.get("/me/").status_code == 200

    mark_left(hospital.doctor_li, actor=hospital.hr_partner.user)
    response = client.get("/me/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_set_language_refuses_an_unknown_language(hospital):
    with pytest.raises(DomainError):
        set_language(hospital.zhao, language="fr", actor=None)


def test_assign_role_is_audited(hospital):
    assignment = assign_role(
        hospital.zhao,
        role=Role.DEPARTMENT_HEAD,
        department=hospital.emergency,
        actor=hospital.hr_partner.user,
    )

    event = last_event("people.role.assigned")
    assert event.subject_id == hospital.zhao.pk
    assert event.object_id == str(assignment.pk)
    assert event.actor_id == hospital.hr_partner.user.pk
    assert event.data == {"role": "department_head", "department": hospital.emergency.pk}
    assert assignment.granted_by == hospital.hr_partner.user


def test_revoke_role_is_audited(hospital):
    assignment = RoleAssignment.objects.get(employee=hospital.head)

    revoke_role(assignment, actor=hospital.hr_partner.user)

    event = last_event("people.role.revoked")
    assert event.subject_id == hospital.head.pk
    assert event.actor_id == hospital.hr_partner.user.pk
    assert not RoleAssignment.objects.filter(employee=hospital.head).exists()


def test_assign_role_refuses_a_duplicate(hospital):
    with pytest.raises(DomainError):
        assign_role(hospital.executive, role=Role.EXECUTIVE, actor=None)


def test_assign_role_refuses_an_unknown_role(hospital):
    with pytest.raises(DomainError):
        assign_role(hospital.zhao, role="superhero", actor=None)


def test_assign_role_needs_a_department_for_scoped_roles(hospital):
    with pytest.raises(DomainError):
        assign_role(hospital.zhao, role=Role.HR, actor=None)


def test_assign_role_drops_the_department_for_organisation_wide_roles(hospital):
    assignment = assign_role(
        hospital.zhao, role=Role.EXECUTIVE, department=hospital.emergency, actor=None
    )

    assert assignment.department is None


def test_assign_role_refuses_a_department_of_another_organisation(hospital, other_org):
    with pytest.raises(DomainError):
        assign_role(hospital.zhao, role=Role.HR, department=other_org.department, actor=None)


def test_admin_role_grants_and_revoking_withdraws_the_admin_site(hospital):
    assignment = assign_role(hospital.zhao, role=Role.ADMIN, actor=None)
    assert Employee.objects.get(pk=hospital.zhao.pk).user.is_staff

    revoke_role(assignment, actor=None)

    user = Employee.objects.get(pk=hospital.zhao.pk).user
    assert not user.is_staff
    assert not user.is_superuser


def test_assign_role_changes_nothing_when_refused(hospital, other_org):
    before = (RoleAssignment.objects.count(), AuditEvent.objects.count())

    with pytest.raises(DomainError):
        assign_role(hospital.zhao, role=Role.HR, department=other_org.department, actor=None)

    assert (RoleAssignment.objects.count(), AuditEvent.objects.count()) == before


def test_employee_factory_people_get_distinct_logins(hospital):
    a = EmployeeFactory(department=hospital.emergency)
    b = EmployeeFactory(department=hospital.emergency)

    assert a.user_id != b.user_id
