"""The directory search and the team list, on top of the scopes."""

from __future__ import annotations

from miantan.people.enums import EmploymentStatus
from miantan.people.queries import PeopleFilter, reports_of, search_people
from miantan.people.services import mark_left
from tests.factories import EmployeeFactory


def names(queryset) -> list[str]:
    return list(queryset.values_list("name", flat=True))


def test_search_people_matches_part_of_a_name(hospital):
    assert names(search_people(hospital.hr_partner.user, PeopleFilter(q="芳"))) == ["王芳"]


def test_search_people_matches_the_start_of_an_employee_number(hospital):
    found = names(search_people(hospital.hr_partner.user, PeopleFilter(q="H001")))

    assert sorted(found) == ["周敏", "张伟", "李明", "王芳"]


def test_search_people_never_leaves_the_viewers_scope(hospital):
    assert names(search_people(hospital.head.user, PeopleFilter(q="赵"))) == []


def test_search_people_by_department_includes_subdepartments(hospital):
    found = search_people(
        hospital.hr_partner.user, PeopleFilter(department_id=hospital.internal_medicine.pk)
    )

    assert sorted(names(found)) == ["周敏", "张伟", "李明", "王芳"]


def test_search_people_by_department_alone_excludes_subdepartments(hospital):
    found = search_people(
        hospital.hr_partner.user,
        PeopleFilter(department_id=hospital.cardiology.pk, include_subdepartments=False),
    )

    assert sorted(names(found)) == ["张伟", "李明"]


def test_search_people_with_a_foreign_department_finds_nobody(hospital, other_org):
    found = search_people(hospital.admin.user, PeopleFilter(department_id=other_org.department.pk))

    assert names(found) == []


def test_search_people_shows_active_employees_unless_asked(hospital):
    mark_left(hospital.zhao, actor=None)

    assert "赵强" not in names(search_people(hospital.hr_partner.user, PeopleFilter()))
    assert names(
        search_people(hospital.hr_partner.user, PeopleFilter(status=EmploymentStatus.LEFT))
    ) == ["赵强"]
    assert "赵强" in names(search_people(hospital.hr_partner.user, PeopleFilter(status="")))


def test_reports_of_lists_everyone_below_the_manager(hospital):
    assert sorted(names(reports_of(hospital.head.user))) == ["周敏", "李明", "王芳"]


def test_reports_of_direct_only_lists_direct_reports(hospital):
    assert sorted(names(reports_of(hospital.head.user, direct_only=True))) == ["周敏", "李明"]


def test_reports_of_leaves_out_leavers(hospital):
    mark_left(hospital.nurse_wang, actor=None)

    assert sorted(names(reports_of(hospital.head.user))) == ["周敏", "李明"]


def test_reports_of_someone_without_reports_is_empty(hospital):
    EmployeeFactory(department=hospital.emergency, manager=None)

    assert names(reports_of(hospital.zhao.user)) == []
