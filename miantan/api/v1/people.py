from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import paginate

from miantan.people.enums import EmploymentStatus
from miantan.people.queries import (
    PeopleFilter,
    access_department,
    access_employee,
    departments_visible_to,
    search_people,
)
from miantan.people.scopes import scope_for

from .paging import BoundedPageNumberPagination
from .schemas import DepartmentOut, ErrorOut, PersonOut

router = Router(tags=["people"])


class PeopleQuery(Schema):
    q: str = ""
    department: int | None = None
    position: int | None = None
    status: str = EmploymentStatus.ACTIVE


@router.get("/me", response={200: PersonOut, 404: ErrorOut})
def me(request: HttpRequest) -> object:
    own = scope_for(request.user).employee
    if own is None:
        return 404, {"detail": "Not Found"}
    return access_employee(request.user, own.pk)


@router.get("/people", response=list[PersonOut])
@paginate(BoundedPageNumberPagination, page_size=50)
def list_people(request: HttpRequest, filters: Query[PeopleQuery]) -> object:
    people = search_people(
        request.user,
        PeopleFilter(
            q=filters.q.strip(),
            department_id=filters.department,
            position_id=filters.position,
            status="" if filters.status == "all" else filters.status,
        ),
    )
    return people.select_related("department", "position", "manager")


@router.get("/people/{employee_id}", response={200: PersonOut, 404: ErrorOut})
def get_person(request: HttpRequest, employee_id: int) -> object:
    return access_employee(request.user, employee_id)


@router.get("/departments", response=list[DepartmentOut])
@paginate(BoundedPageNumberPagination, page_size=200)
def list_departments(request: HttpRequest) -> object:
    return departments_visible_to(request.user).order_by("path")


@router.get("/departments/{department_id}", response={200: DepartmentOut, 404: ErrorOut})
def get_department(request: HttpRequest, department_id: int) -> object:
    return access_department(request.user, department_id)
