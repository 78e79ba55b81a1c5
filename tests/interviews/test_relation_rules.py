"""Who may ask whom, and as what (interviews.rules.relation_to), for the paths the personas
alone do not reach."""

from __future__ import annotations

from miantan.interviews.enums import Initiation
from miantan.interviews.rules import relation_to
from tests.factories import EmployeeFactory
from tests.personas import Hospital


def test_relation_department_head_asks_someone_of_the_department_outside_their_line(
    hospital: Hospital,
) -> None:
    # A locum in 心内科 who reports to nobody: the head leads the talk as department head.
    locum = EmployeeFactory(department=hospital.cardiology, employee_number="H0099", name="吴越")

    relation = relation_to(hospital.head, locum, user=hospital.head.user)

    assert relation == (Initiation.DEPARTMENT_HEAD, False)


def test_relation_department_head_of_another_department_may_not_ask(hospital: Hospital) -> None:
    locum = EmployeeFactory(department=hospital.emergency, employee_number="H0098", name="吴越")

    assert relation_to(hospital.head, locum, user=hospital.head.user) is None


def test_relation_employee_asks_the_department_head_as_the_employee(hospital: Hospital) -> None:
    locum = EmployeeFactory(department=hospital.cardiology, employee_number="H0097", name="吴越")

    relation = relation_to(locum, hospital.head, user=locum.user)

    assert relation == (Initiation.EMPLOYEE, True)
