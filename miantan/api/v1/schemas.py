from datetime import date

from ninja import Schema


class DepartmentRef(Schema):
    id: int
    code: str
    name: str
    name_en: str


class PositionRef(Schema):
    id: int
    code: str
    name: str
    name_en: str


class PersonRef(Schema):
    id: int
    employee_number: str
    name: str


class PersonOut(Schema):
    id: int
    employee_number: str
    name: str
    email: str
    department: DepartmentRef
    position: PositionRef | None
    manager: PersonRef | None
    hire_date: date | None
    language: str
    time_zone: str
    status: str
    left_on: date | None


class DepartmentOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    parent_id: int | None
    depth: int


class ErrorOut(Schema):
    detail: str
