"""What a Scope says about its user: roles, reports, and nothing for someone who left."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from miantan.people.scopes import EMPTY, forget_scope, scope_for, scope_for_employee
from miantan.people.services import mark_left
from tests.personas import Hospital


def test_only_the_executive_has_an_executive_scope(hospital: Hospital):
    assert scope_for(hospital.executive.user).is_executive
    assert not scope_for(hospital.admin.user).is_executive
    assert not scope_for(hospital.hr_partner.user).is_executive


def test_a_manager_with_active_reports_has_reports(hospital: Hospital):
    assert scope_for(hospital.head_nurse.user).has_reports
    assert not scope_for(hospital.nurse_wang.user).has_reports


def test_a_manager_whose_only_report_left_has_no_reports(hospital: Hospital):
    mark_left(hospital.nurse_wang, actor=hospital.admin.user)

    assert not scope_for_employee(hospital.head_nurse).has_reports


def test_a_manager_who_left_has_no_reports_and_no_roles(hospital: Hospital):
    mark_left(hospital.head, actor=hospital.admin.user)
    user = hospital.head.user
    forget_scope(user)
    scope = scope_for_employee(hospital.head)

    assert not scope.has_reports
    assert not scope.is_department_head
    assert scope.employee == hospital.head


def test_anonymous_users_get_the_empty_scope(db):
    scope = scope_for(AnonymousUser())

    assert scope is EMPTY
    assert not scope.has_reports
    assert not scope.is_executive
    assert not scope.is_admin
    assert scope.manager_prefix is None
