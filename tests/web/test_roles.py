"""/hr/roles/: HR assigns and revokes roles within its subtrees; admins everywhere."""

from __future__ import annotations

from miantan.people.enums import Role
from miantan.people.models import RoleAssignment
from miantan.people.services import assign_role
from tests.factories import EmployeeFactory


def assign(client, number: str, role: str, department=None):
    return client.post(
        "/hr/roles/",
        {
            "employee_number": number,
            "role": role,
            "department": department.pk if department else "",
        },
    )


def test_roles_page_lists_the_assignments_hr_may_see(hospital, client_as):
    response = client_as(hospital.hr_partner).get("/hr/roles/")

    holders = {assignment.employee.name for assignment in response.context["page"]}
    assert response.status_code == 200
    assert holders == {"钱进", "孙丽", "郑毅", "张伟", "陈静"}


def test_roles_page_is_forbidden_to_a_department_head(hospital, client_as):
    assert client_as(hospital.head).get("/hr/roles/").status_code == 403


def test_roles_page_is_forbidden_to_an_executive(hospital, client_as):
    assert client_as(hospital.executive).get("/hr/roles/").status_code == 403


def test_roles_page_is_forbidden_to_an_employee(hospital, client_as):
    response = client_as(hospital.doctor_li).post(
        "/hr/roles/", {"employee_number": "H0011", "role": Role.HR, "department": hospital.root.pk}
    )

    assert response.status_code == 403
    assert not RoleAssignment.objects.filter(employee=hospital.doctor_li).exists()


def test_hr_assigns_a_department_head_in_their_subtree(hospital, client_as):
    response = assign(
        client_as(hospital.hr_partner), "H0020", Role.DEPARTMENT_HEAD, hospital.emergency
    )

    assert response.status_code == 302
    assert RoleAssignment.objects.filter(
        employee=hospital.zhao, role=Role.DEPARTMENT_HEAD, department=hospital.emergency
    ).exists()


def test_hr_may_not_hand_out_organisation_wide_roles(hospital, client_as):
    response = assign(client_as(hospital.hr_partner), "H0020", Role.ADMIN)

    assert response.status_code == 200
    assert response.context["form"].errors["role"]
    assert not RoleAssignment.objects.filter(employee=hospital.zhao).exists()


def test_hr_may_not_scope_a_role_outside_their_subtrees(hospital, client_as):
    emergency_hr = EmployeeFactory(department=hospital.emergency, employee_number="H0030")
    assign_role(emergency_hr, role=Role.HR, department=hospital.emergency, actor=None)

    response = assign(client_as(emergency_hr), "H0030", Role.DEPARTMENT_HEAD, hospital.cardiology)

    assert response.context["form"].errors["department"]


def test_hr_may_not_assign_roles_to_someone_outside_their_scope(hospital, other_org, client_as):
    response = assign(client_as(hospital.hr_partner), "X0001", Role.HR, hospital.root)

    assert response.context["form"].errors["employee_number"]


def test_assigning_a_role_twice_shows_the_error_on_the_form(hospital, client_as):
    response = assign(
        client_as(hospital.hr_partner), "H0010", Role.DEPARTMENT_HEAD, hospital.cardiology
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()


def test_admin_assigns_an_executive(hospital, client_as):
    response = assign(client_as(hospital.admin), "H0020", Role.EXECUTIVE)

    assert response.status_code == 302
    assert RoleAssignment.objects.filter(employee=hospital.zhao, role=Role.EXECUTIVE).exists()


def test_hr_revokes_a_department_head_role(hospital, client_as):
    assignment = RoleAssignment.objects.get(employee=hospital.head)

    response = client_as(hospital.hr_partner).post(f"/hr/roles/{assignment.pk}/revoke/")

    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()


def test_hr_may_not_revoke_the_admin_role(hospital, client_as):
    assignment = RoleAssignment.objects.get(employee=hospital.admin)

    response = client_as(hospital.hr_partner).post(f"/hr/roles/{assignment.pk}/revoke/")

    assert response.status_code == 404
    assert RoleAssignment.objects.filter(pk=assignment.pk).exists()


def test_revoking_a_role_of_another_organisation_is_not_found(hospital, other_org, client_as):
    foreign = RoleAssignment.objects.filter(employee=other_org.employee).first()

    response = client_as(hospital.admin).post(f"/hr/roles/{foreign.pk}/revoke/")

    assert response.status_code == 404


def test_revoking_a_role_is_forbidden_to_a_department_head(hospital, client_as):
    assignment = RoleAssignment.objects.get(employee=hospital.head)

    response = client_as(hospital.head).post(f"/hr/roles/{assignment.pk}/revoke/")

    assert response.status_code == 403
    assert RoleAssignment.objects.filter(pk=assignment.pk).exists()


def test_revoking_a_role_by_get_is_refused(hospital, client_as):
    assignment = RoleAssignment.objects.get(employee=hospital.head)

    assert (
        client_as(hospital.hr_partner).get(f"/hr/roles/{assignment.pk}/revoke/").status_code == 405
    )


def test_hr_may_not_revoke_a_wider_role_than_their_own(hospital, client_as):
    emergency_hr = EmployeeFactory(department=hospital.emergency)
    assign_role(emergency_hr, role=Role.HR, department=hospital.emergency, actor=None)
    # A hospital-wide HR partner whose own desk happens to be in 急诊科.
    colleague = EmployeeFactory(department=hospital.emergency)
    wide = assign_role(colleague, role=Role.HR, department=hospital.root, actor=None)

    response = client_as(emergency_hr).post(f"/hr/roles/{wide.pk}/revoke/")

    assert response.status_code == 404
    assert RoleAssignment.objects.filter(pk=wide.pk).exists()


def test_hr_revokes_a_role_scoped_within_their_subtree(hospital, client_as):
    emergency_hr = EmployeeFactory(department=hospital.emergency)
    assign_role(emergency_hr, role=Role.HR, department=hospital.emergency, actor=None)
    head = assign_role(
        hospital.zhao, role=Role.DEPARTMENT_HEAD, department=hospital.emergency, actor=None
    )

    response = client_as(emergency_hr).post(f"/hr/roles/{head.pk}/revoke/")

    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(pk=head.pk).exists()
