"""Who may grant and revoke which role, decided by the services themselves (the roles page
and the admin site call them): administrators any role of their organisation; HR partners
department head and HR, scoped within their own subtrees, to people they see. 孙丽 is HR
for the whole hospital, 陈静 only for 心内科; a refusal changes nothing and is audited."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from miantan.audit.models import AuditEvent
from miantan.people.enums import Role
from miantan.people.models import RoleAssignment
from miantan.people.services import assign_role, revoke_role
from tests.personas import Hospital, OtherOrganisation


def denied(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, outcome="denied"))


def test_department_hr_grants_a_department_head_within_their_subtree(hospital: Hospital):
    assignment = assign_role(
        hospital.head_nurse,
        role=Role.DEPARTMENT_HEAD,
        department=hospital.cardiology_nursing,
        actor=hospital.hr_cardiology.user,
    )

    assert assignment.granted_by == hospital.hr_cardiology.user
    event = AuditEvent.objects.filter(action="people.role.assigned").latest("pk")
    assert (event.outcome, event.actor_id) == ("ok", hospital.hr_cardiology.user.pk)


@pytest.mark.parametrize(
    ("person", "role", "department"),
    [
        # wider than her own scope: the whole hospital
        ("head_nurse", Role.HR, "root"),
        ("head_nurse", Role.DEPARTMENT_HEAD, "internal_medicine"),
        # outside her subtree, and a person she does not see
        ("zhao", Role.DEPARTMENT_HEAD, "emergency"),
        # a department inside her subtree, but a person outside it
        ("zhao", Role.DEPARTMENT_HEAD, "cardiology_nursing"),
        # organisation-wide roles are for administrators to grant
        ("head_nurse", Role.EXECUTIVE, None),
        ("head_nurse", Role.ADMIN, None),
    ],
)
def test_department_hr_cannot_grant_more_than_they_hold(
    hospital: Hospital, person: str, role: str, department: str | None
):
    employee = getattr(hospital, person)
    before = RoleAssignment.objects.count()

    with pytest.raises(PermissionDenied):
        assign_role(
            employee,
            role=role,
            department=getattr(hospital, department) if department else None,
            actor=hospital.hr_cardiology.user,
        )

    assert RoleAssignment.objects.count() == before
    [event] = denied("people.role.assigned")
    assert event.subject_id == employee.pk and event.actor_id == hospital.hr_cardiology.user.pk
    assert event.data["role"] == role


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.ADMIN])
def test_hr_for_the_whole_hospital_cannot_grant_organisation_wide_roles(
    hospital: Hospital, role: str
):
    with pytest.raises(PermissionDenied):
        assign_role(hospital.zhao, role=role, actor=hospital.hr_partner.user)

    assert not RoleAssignment.objects.filter(employee=hospital.zhao).exists()


@pytest.mark.parametrize("granter", ["doctor_li", "head_nurse", "head", "executive"])
def test_people_without_hr_or_admin_grant_nothing(hospital: Hospital, granter: str):
    """Not even a department head within their own department."""
    with pytest.raises(PermissionDenied):
        assign_role(
            hospital.nurse_wang,
            role=Role.DEPARTMENT_HEAD,
            department=hospital.cardiology_nursing,
            actor=getattr(hospital, granter).user,
        )

    assert not RoleAssignment.objects.filter(employee=hospital.nurse_wang).exists()


def test_administrator_grants_any_role_of_their_organisation(hospital: Hospital):
    assign_role(hospital.zhao, role=Role.ADMIN, actor=hospital.admin.user)

    hospital.zhao.user.refresh_from_db()
    assert hospital.zhao.user.is_staff and not hospital.zhao.user.is_superuser


def test_administrator_of_another_organisation_grants_nothing_here(
    hospital: Hospital, other_org: OtherOrganisation
):
    with pytest.raises(PermissionDenied):
        assign_role(hospital.zhao, role=Role.EXECUTIVE, actor=other_org.employee.user)

    assert not RoleAssignment.objects.filter(employee=hospital.zhao).exists()


def test_the_installation_grants_any_role(hospital: Hospital):
    """Set-up commands act as nobody; the installation's superuser is above organisations."""
    superuser = get_user_model().objects.create_superuser("root", password="unused-Passw0rd")

    assign_role(hospital.zhao, role=Role.EXECUTIVE, actor=None)
    assign_role(hospital.zhao, role=Role.ADMIN, actor=superuser)

    assert set(
        RoleAssignment.objects.filter(employee=hospital.zhao).values_list("role", flat=True)
    ) == {
        Role.EXECUTIVE,
        Role.ADMIN,
    }


def test_department_hr_revokes_a_role_within_their_subtree(hospital: Hospital):
    head_role = RoleAssignment.objects.get(employee=hospital.head)

    revoke_role(head_role, actor=hospital.hr_cardiology.user)

    assert not RoleAssignment.objects.filter(employee=hospital.head).exists()


@pytest.mark.parametrize(
    ("revoker", "holder"),
    [
        ("hr_cardiology", "hr_partner"),  # HR for the whole hospital: wider than hers
        ("hr_partner", "admin"),  # an organisation-wide role
        ("hr_partner", "executive"),
        ("head", "head"),  # a department head does not manage roles, not even their own
        ("doctor_li", "head"),
    ],
)
def test_nobody_revokes_a_role_wider_than_they_may_grant(
    hospital: Hospital, revoker: str, holder: str
):
    assignment = RoleAssignment.objects.get(employee=getattr(hospital, holder))

    with pytest.raises(PermissionDenied):
        revoke_role(assignment, actor=getattr(hospital, revoker).user)

    assert RoleAssignment.objects.filter(pk=assignment.pk).exists()
    [event] = denied("people.role.revoked")
    assert event.object_id == str(assignment.pk)


def test_administrator_of_another_organisation_revokes_nothing_here(
    hospital: Hospital, other_org: OtherOrganisation
):
    assignment = RoleAssignment.objects.get(employee=hospital.head)

    with pytest.raises(PermissionDenied):
        revoke_role(assignment, actor=other_org.employee.user)

    assert RoleAssignment.objects.filter(pk=assignment.pk).exists()


def test_roles_page_answers_not_found_for_a_role_the_service_refuses_to_revoke(
    hospital: Hospital, client_as
):
    """孙丽 sees 郑毅's administrator role in the list, but it is wider than hers."""
    wide = RoleAssignment.objects.get(employee=hospital.admin)

    response = client_as(hospital.hr_partner).post(f"/hr/roles/{wide.pk}/revoke/")

    assert response.status_code == 404
    assert RoleAssignment.objects.filter(pk=wide.pk).exists()
    assert len(denied("people.role.revoked")) == 1
