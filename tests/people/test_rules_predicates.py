"""The people predicates at their edges: organisation-wide HR, who may grant and revoke which
role, the permissions registered with django-rules, and the aggregates an executive sees."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from miantan.people.enums import Role
from miantan.people.models import RoleAssignment
from miantan.people.rules import (
    can_import_org,
    can_revoke_role,
    can_see_organisation_aggregates,
    is_hr_for_whole_organisation,
    may_grant_role,
)
from miantan.people.scopes import forget_scope
from miantan.people.services import mark_left
from tests.factories import DepartmentFactory, RoleAssignmentFactory
from tests.personas import Hospital


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.test", "x" * 12)


def test_hr_on_the_root_is_hr_for_the_whole_organisation(hospital: Hospital):
    assert is_hr_for_whole_organisation.test(hospital.hr_partner.user)
    assert can_import_org.test(hospital.hr_partner.user)


@pytest.mark.parametrize("persona", ["hr_cardiology", "head", "zhao", "executive"])
def test_others_are_not_hr_for_the_whole_organisation(hospital: Hospital, persona: str):
    user = getattr(hospital, persona).user

    assert not is_hr_for_whole_organisation.test(user)
    assert not can_import_org.test(user)


def test_hr_covering_one_of_two_top_level_departments_is_not_organisation_wide(
    hospital: Hospital,
):
    # A second top-level department with nothing below it: HR on the first root misses it.
    DepartmentFactory(organisation=hospital.organisation, code="ANNEX", name="分院")
    user = hospital.hr_partner.user
    forget_scope(user)

    assert not is_hr_for_whole_organisation.test(user)
    assert not can_import_org.test(user)


def test_hr_who_left_is_not_hr_for_the_whole_organisation(hospital: Hospital):
    mark_left(hospital.hr_partner, actor=hospital.admin.user)
    user = hospital.hr_partner.user
    forget_scope(user)

    assert not is_hr_for_whole_organisation.test(user)


def test_anonymous_is_not_hr_for_the_whole_organisation(db):
    assert not is_hr_for_whole_organisation.test(AnonymousUser())


def test_the_registered_permissions_follow_the_predicates(hospital: Hospital):
    assert hospital.admin.user.has_perm("people.import_org")
    assert hospital.hr_partner.user.has_perm("people.import_org")
    assert not hospital.hr_cardiology.user.has_perm("people.import_org")
    assert hospital.hr_cardiology.user.has_perm("people.manage_roles")
    assert hospital.admin.user.has_perm("people.manage_roles")
    assert not hospital.head.user.has_perm("people.manage_roles")


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("executive", True),
        ("admin", True),
        ("hr_partner", False),
        ("head", False),
        ("zhao", False),
    ],
)
def test_organisation_aggregates_are_for_executives_and_administrators(
    hospital: Hospital, persona: str, sees: bool
):
    assert can_see_organisation_aggregates.test(getattr(hospital, persona).user) is sees


def test_department_hr_grants_a_scoped_role_within_their_subtree(hospital: Hospital):
    user = hospital.hr_cardiology.user

    assert may_grant_role(user, hospital.doctor_li, Role.DEPARTMENT_HEAD, hospital.cardiology)


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.ADMIN])
def test_department_hr_never_grants_an_organisation_wide_role(hospital: Hospital, role: str):
    user = hospital.hr_cardiology.user

    assert not may_grant_role(user, hospital.doctor_li, role, hospital.cardiology)


def test_department_hr_never_grants_a_scoped_role_without_a_department(hospital: Hospital):
    assert not may_grant_role(hospital.hr_cardiology.user, hospital.doctor_li, Role.HR, None)


def test_department_hr_never_grants_outside_their_subtree(hospital: Hospital):
    user = hospital.hr_cardiology.user

    assert not may_grant_role(user, hospital.zhao, Role.DEPARTMENT_HEAD, hospital.emergency)


def test_the_installation_superuser_grants_and_revokes_any_role(
    hospital: Hospital, other_org, superuser
):
    assignment = RoleAssignment.objects.get(employee=other_org.employee, role=Role.ADMIN)

    assert may_grant_role(superuser, hospital.zhao, Role.ADMIN, None)
    assert can_revoke_role.test(superuser, assignment)


def test_an_administrator_revokes_any_role_of_their_organisation_only(
    hospital: Hospital, other_org
):
    own = RoleAssignment.objects.get(employee=hospital.executive, role=Role.EXECUTIVE)
    foreign = RoleAssignment.objects.get(employee=other_org.employee, role=Role.ADMIN)

    assert can_revoke_role.test(hospital.admin.user, own)
    assert not can_revoke_role.test(hospital.admin.user, foreign)


def test_department_hr_revokes_a_scoped_role_below_them_but_not_an_organisation_wide_one(
    hospital: Hospital,
):
    below = RoleAssignmentFactory(
        employee=hospital.doctor_li, role=Role.DEPARTMENT_HEAD, department=hospital.cardiology
    )
    wide = RoleAssignment.objects.get(employee=hospital.executive, role=Role.EXECUTIVE)
    user = hospital.hr_cardiology.user

    assert can_revoke_role.test(user, below)
    assert not can_revoke_role.test(user, wide)
