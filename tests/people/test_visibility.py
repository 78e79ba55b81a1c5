"""Who sees whose individual record: the scopes, the predicates and the scoped queries."""

from __future__ import annotations

import pytest

from miantan.people.enums import Role
from miantan.people.models import Employee, RoleAssignment
from miantan.people.queries import (
    departments_visible_to,
    employees_visible_to,
    role_assignments_visible_to,
)
from miantan.people.rules import (
    can_revoke_role,
    can_view_employee,
    is_department_head_for,
    is_hr_for,
    is_manager_of,
    is_self,
)
from miantan.people.scopes import EMPTY, forget_scope, scope_for
from miantan.people.services import assign_role, mark_left
from tests.factories import EmployeeFactory


def visible_names(employee: Employee) -> set[str]:
    return set(employees_visible_to(employee.user).values_list("name", flat=True))


def test_employee_sees_only_themselves(hospital):
    assert visible_names(hospital.doctor_li) == {"李明"}


def test_manager_sees_direct_and_indirect_reports(hospital):
    below_wang = EmployeeFactory(
        department=hospital.cardiology_nursing, name="实习护士", manager=hospital.nurse_wang
    )

    assert visible_names(hospital.head_nurse) == {"周敏", "王芳", below_wang.name}


def test_is_manager_of_holds_along_the_whole_reporting_line(hospital):
    assert is_manager_of(hospital.head.user, hospital.head_nurse)
    assert is_manager_of(hospital.head.user, hospital.nurse_wang)
    assert not is_manager_of(hospital.head_nurse.user, hospital.doctor_li)


def test_is_manager_of_is_false_for_oneself(hospital):
    assert not is_manager_of(hospital.head.user, hospital.head)
    assert is_self(hospital.head.user, hospital.head)


def test_manager_does_not_see_their_own_manager(hospital):
    assert "张伟" not in visible_names(hospital.head_nurse)


def test_department_head_sees_the_department_subtree(hospital):
    newcomer_elsewhere = EmployeeFactory(department=hospital.internal_medicine, name="内科医生")

    names = visible_names(hospital.head)

    assert names == {"张伟", "李明", "周敏", "王芳"}
    assert newcomer_elsewhere.name not in names


def test_department_head_sees_subdepartment_staff_reporting_to_someone_else(hospital):
    outside_line = EmployeeFactory(
        department=hospital.cardiology_nursing, name="外聘护士", manager=hospital.zhao
    )

    assert is_department_head_for(hospital.head.user, outside_line)
    assert outside_line.name in visible_names(hospital.head)


def test_hr_on_the_root_sees_the_whole_hospital(hospital):
    everyone = set(
        Employee.objects.filter(organisation=hospital.organisation).values_list("name", flat=True)
    )

    assert visible_names(hospital.hr_partner) == everyone


def test_hr_scoped_to_a_department_sees_only_that_subtree(hospital):
    emergency_hr = EmployeeFactory(department=hospital.emergency, name="急诊人事")
    assign_role(emergency_hr, role=Role.HR, department=hospital.emergency, actor=None)

    assert visible_names(emergency_hr) == {"急诊人事", "赵强"}
    assert is_hr_for(emergency_hr.user, hospital.zhao)
    assert not is_hr_for(emergency_hr.user, hospital.doctor_li)


def test_executive_sees_only_themselves_individually(hospital):
    assert visible_names(hospital.executive) == {"钱进"}


def test_admin_sees_the_whole_organisation(hospital, other_org):
    names = visible_names(hospital.admin)

    assert len(names) == Employee.objects.filter(organisation=hospital.organisation).count()
    assert "冯涛" not in names


def test_nobody_sees_across_organisations(hospital, other_org):
    foreign_admin = other_org.employee

    assert visible_names(foreign_admin) == {"冯涛"}
    assert not can_view_employee.test(foreign_admin.user, hospital.zhao)
    assert not can_view_employee.test(hospital.admin.user, foreign_admin)
    assert not can_view_employee.test(hospital.hr_partner.user, foreign_admin)


def test_left_employee_sees_nothing(hospital):
    mark_left(hospital.head, actor=None)
    forget_scope(hospital.head.user)

    assert not employees_visible_to(hospital.head.user).exists()
    assert not departments_visible_to(hospital.head.user).exists()
    assert not can_view_employee.test(hospital.head.user, hospital.doctor_li)


def test_anonymous_user_has_an_empty_scope():
    from django.contrib.auth.models import AnonymousUser

    assert scope_for(AnonymousUser()) is EMPTY
    assert not employees_visible_to(AnonymousUser()).exists()


def test_scope_is_worked_out_once_per_user_object(hospital, django_assert_num_queries):
    user = hospital.head.user
    forget_scope(user)
    scope_for(user)

    with django_assert_num_queries(0):
        scope_for(user)
        is_manager_of(user, hospital.nurse_wang)


@pytest.mark.parametrize(
    "viewer", ["doctor_li", "head_nurse", "head", "hr_partner", "executive", "admin", "zhao"]
)
def test_can_view_employee_agrees_with_employees_visible_to(hospital, other_org, viewer):
    user = getattr(hospital, viewer).user
    visible = set(employees_visible_to(user).values_list("pk", flat=True))

    for employee in Employee.objects.select_related("department"):
        assert can_view_employee.test(user, employee) == (employee.pk in visible), employee.name


def test_departments_visible_to_is_the_own_organisations_tree(hospital, other_org):
    names = set(departments_visible_to(hospital.zhao.user).values_list("name", flat=True))

    assert "心内科" in names
    assert "研发部" not in names


def test_role_assignments_visible_to_hr_stay_within_their_subtrees(hospital):
    emergency_hr = EmployeeFactory(department=hospital.emergency, name="急诊人事")
    assign_role(emergency_hr, role=Role.HR, department=hospital.emergency, actor=None)

    holders = set(
        role_assignments_visible_to(emergency_hr.user).values_list("employee__name", flat=True)
    )

    assert holders == {"急诊人事"}


def test_role_assignments_visible_to_admin_cover_the_organisation(hospital, other_org):
    holders = set(
        role_assignments_visible_to(hospital.admin.user).values_list("employee__name", flat=True)
    )

    assert holders == {"钱进", "孙丽", "郑毅", "张伟", "陈静"}


@pytest.mark.parametrize("viewer", ["doctor_li", "head_nurse", "head", "executive"])
def test_role_assignments_visible_to_others_are_empty(hospital, viewer):
    assert not role_assignments_visible_to(getattr(hospital, viewer).user).exists()


def test_can_revoke_role_limits_hr_to_roles_scoped_within_their_subtrees(hospital):
    emergency_hr = EmployeeFactory(department=hospital.emergency)
    assign_role(emergency_hr, role=Role.HR, department=hospital.emergency, actor=None)
    inside = assign_role(
        hospital.zhao, role=Role.DEPARTMENT_HEAD, department=hospital.emergency, actor=None
    )
    head_of_cardiology = RoleAssignment.objects.get(employee=hospital.head)
    executive = RoleAssignment.objects.get(employee=hospital.executive)

    assert can_revoke_role.test(emergency_hr.user, inside)
    assert not can_revoke_role.test(emergency_hr.user, head_of_cardiology)
    assert not can_revoke_role.test(emergency_hr.user, executive)
    assert can_revoke_role.test(hospital.admin.user, executive)


def test_can_revoke_role_never_crosses_organisations(hospital, other_org):
    foreign = RoleAssignment.objects.filter(employee=other_org.employee).first()

    assert not can_revoke_role.test(hospital.admin.user, foreign)
