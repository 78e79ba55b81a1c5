"""Checking an organisation file against the organisation: every bad row, or a plan to apply.

The organisation's employees, departments and positions are loaded once (three queries) and
looked up in memory, so a file of 10,000 rows costs no more queries than a file of ten. The plan
says, row by row, which employee the row is (by employee number), what the file asks for, and
what that changes; departments and positions the file introduces are planned as new ones. A new
department whose parent the file does not give is placed by the reporting line (org_tree.py);
such a plan is shown for confirmation before it is applied (`OrgPlan.inferred`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from .models import Department, Employee, Organisation, Position
from .org_file import (
    FileRow,
    OrgFile,
    RowError,
    parse_date,
    parse_email,
    parse_language,
    parse_status,
    text,
)
from .org_tree import TOP, NewDepartment, department_tree, natural_key, place_departments

PROGRESS_EVERY = 200
_BATCH = 500
_LIMITS = {"employee_number": 50, "name": 200, "email": 254, "code": 50}
# A checker's answer when the cell was bad (already reported) or blank where blank means "keep".
_SKIP: Any = object()


@dataclass(eq=False)
class NewPosition:
    """Positions are created as the file names them: the value is both code and name."""

    value: str


@dataclass
class PlannedRow:
    row: int
    number: str
    name: str
    employee: Employee | None  # None: a new employee
    # Field → the value the file asks for, only for what the file gives: "name", "department"
    # (Department | NewDepartment), "position" (Position | NewPosition | None), "manager"
    # (employee number | None), "hire_date", "email", "language", "status".
    values: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, list[str]] = field(default_factory=dict)  # field → [old, new] as shown


@dataclass
class OrgPlan:
    organisation: Organisation
    rows: list[PlannedRow]
    employees: dict[str, Employee]  # the organisation's employees by number, before the import
    new_departments: list[NewDepartment]  # parents before children
    new_positions: list[NewPosition]
    errors: list[RowError]
    ignored_columns: list[str]
    existing_departments: dict[int, Department] = field(default_factory=dict, repr=False)

    @property
    def inferred(self) -> list[NewDepartment]:
        """New departments placed by the reporting line: the plan waits for confirmation."""
        return [department for department in self.new_departments if department.inferred]

    def inferred_signature(self) -> list[list[str]]:
        """Each inferred department with its parent, by code: what a confirmation agreed to."""
        return sorted(
            [d.code, d.parent.code if d.parent is not None else ""] for d in self.inferred
        )

    def department_tree(self) -> list[dict[str, Any]]:
        """The new departments where they will stand, under their existing ancestors, as
        nested nodes {name, code, new, inferred, reason, members, children}."""
        return department_tree(self.new_departments, self.existing_departments)

    def summary(self) -> dict[str, int]:
        created = sum(1 for row in self.rows if row.employee is None)
        updated = sum(1 for row in self.rows if row.employee is not None and row.changes)
        return {
            "created": created,
            "updated": updated,
            "unchanged": len(self.rows) - created - updated,
            "departments_created": len(self.new_departments),
            "positions_created": len(self.new_positions),
        }

    def changes(self) -> list[dict[str, Any]]:
        """New employees and, for the others, each changed field as [old, new]."""
        return [
            {
                "employee_number": row.number,
                "name": row.name,
                "action": "created" if row.employee is None else "updated",
                "fields": row.changes,
            }
            for row in self.rows
            if row.employee is None or row.changes
        ]


def check_org_file(
    organisation: Organisation,
    org_file: OrgFile,
    *,
    progress: Callable[[int], None] | None = None,
) -> OrgPlan:
    """Every problem of every row, or a plan that can be applied as it is.

    `progress(rows_checked)` is called every PROGRESS_EVERY rows.
    """
    checker = _Checker(organisation, org_file)
    if not org_file.errors:
        checker.check(progress)
    return OrgPlan(
        organisation=organisation,
        rows=checker.rows,
        employees=checker.employees,
        new_departments=checker.departments.new_in_order(),
        new_positions=list(checker.new_positions.values()),
        errors=sorted(
            org_file.errors + checker.errors, key=lambda e: (e.row or 0, e.column, e.message)
        ),
        ignored_columns=org_file.ignored_columns,
        existing_departments=checker.departments.by_id,
    )


class _Catalogue:
    """Departments or positions, found by code first, then by name (Chinese or English)."""

    def __init__(self, items: Iterable[Department | Position]) -> None:
        self.by_code: dict[str, Any] = {}
        self.by_name: dict[str, list[Any]] = {}
        self.by_id: dict[int, Any] = {}
        for item in items:
            self.by_id[item.pk] = item
            self.add(item, item.code, (item.name, item.name_en))

    def add(self, item: Any, code: str, names: Iterable[str]) -> None:
        self.by_code.setdefault(text(code), item)
        for name in {text(name) for name in names if name}:
            self.by_name.setdefault(name, []).append(item)

    def find(self, value: str, *, code_only: bool = False) -> list[Any]:
        """[] when unknown, one item when found, several when the name is ambiguous."""
        if value in self.by_code:
            return [self.by_code[value]]
        return [] if code_only else self.by_name.get(value, [])

    def new(self) -> list[Any]:
        return [item for item in self.by_code.values() if not isinstance(item, Department)]


class _Departments(_Catalogue):
    def new_in_order(self) -> list[NewDepartment]:
        ordered: list[NewDepartment] = []
        placed: set[int] = set()
        for department in self.new():
            chain: list[NewDepartment] = []
            node: Any = department
            while isinstance(node, NewDepartment) and id(node) not in placed:
                placed.add(id(node))
                chain.append(node)
                node = node.parent
            ordered.extend(reversed(chain))
        return ordered


class _Checker:
    def __init__(self, organisation: Organisation, org_file: OrgFile) -> None:
        self.organisation = organisation
        self.file = org_file
        self.errors: list[RowError] = []
        self.rows: list[PlannedRow] = []
        self.employees = {
            e.employee_number: e for e in Employee.objects.filter(organisation=organisation)
        }
        self.number_by_id = {e.pk: e.employee_number for e in self.employees.values()}
        self.departments = _Departments(Department.objects.filter(organisation=organisation))
        self.positions = _Catalogue(Position.objects.filter(organisation=organisation))
        self.new_positions: dict[str, NewPosition] = {}
        self.names: dict[str, str] = {e.employee_number: e.name for e in self.employees.values()}
        # The reporting line after the import, by employee number (set by _check_managers).
        self.boss: dict[str, str | None] = {}
        self.manager_names: dict[str, str] = {}  # employee number → the manager's name given

    def error(self, row: int, column: str, message: str) -> None:
        self.errors.append(RowError(row, self.file.column(column), message))

    def check(self, progress: Callable[[int], None] | None) -> None:
        self._define_departments()
        first_row_of: dict[str, int] = {}
        for count, file_row in enumerate(self.file.rows, start=1):
            planned = self._check_row(file_row)
            if planned is not None and planned.number in first_row_of:
                message = _("The employee number %(number)s also appears in row %(row)s.")
                other = {"number": planned.number, "row": first_row_of[planned.number]}
                self.error(planned.row, "employee_number", message % other)
            elif planned is not None:
                first_row_of[planned.number] = planned.row
                self.rows.append(planned)
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
        self._check_managers()
        self._check_logins()
        if not self.errors:
            self.names.update((planned.number, planned.name) for planned in self.rows)
            self._place_new_departments()
            for planned in self.rows:
                planned.changes = self._changes(planned)

    # -- departments -------------------------------------------------------------------------

    def _department_value(self, cells: dict[str, Any]) -> tuple[str, str, bool]:
        """(column, value, is_code): a department code, when the row gives one, wins."""
        code = text(cells.get("department_code"))
        if code:
            return "department_code", code, True
        column = "department" if self.file.has("department") else "department_code"
        return column, text(cells.get("department")), False

    def _define_departments(self) -> None:
        """A row naming an unknown department together with its parent defines a new one."""
        if not self.file.has("parent_department"):
            return
        for file_row in self.file.rows:
            row, cells = file_row.number, file_row.cells
            column, value, is_code = self._department_value(cells)
            parent_value = text(cells.get("parent_department"))
            if not value or not parent_value:
                continue
            found = self.departments.find(value, code_only=is_code)
            if len(found) == 1 and isinstance(found[0], NewDepartment):
                if found[0].parent_value != parent_value:
                    message = _("Row %(row)s gives this department another parent department.")
                    self.error(row, "parent_department", message % {"row": found[0].row})
            elif not found and len(value) > _LIMITS["code"]:
                self._too_long(row, column, _LIMITS["code"])
            elif not found:
                name = text(cells.get("department")) or value
                new = NewDepartment(code=value, name=name, parent_value=parent_value, row=row)
                self.departments.add(new, value, [name])
        self._resolve_parents()

    def _resolve_parents(self) -> None:
        for new in self.departments.new():
            found = self.departments.find(new.parent_value)
            if len(found) == 1:
                new.parent = found[0]
                continue
            if found:
                message = _("Several departments are called %(value)s; use the department code.")
            else:
                message = _("The parent department %(value)s does not exist.")
            self.error(new.row, "parent_department", message % {"value": new.parent_value})
        for new in self.departments.new():
            chain = [new]
            while isinstance(chain[-1].parent, NewDepartment) and chain[-1].parent not in chain:
                chain.append(chain[-1].parent)
            if chain[-1].parent is new:
                message = _("The parent departments form a circle: %(chain)s.")
                circle = " → ".join(d.code for d in [*chain, new])
                self.error(new.row, "parent_department", message % {"chain": circle})

    def _department(self, row: int, cells: dict[str, Any]) -> Any:
        column, value, is_code = self._department_value(cells)
        if not value:
            self.error(row, column, _("A value is required."))
            return _SKIP
        found = self.departments.find(value, code_only=is_code)
        if len(found) == 1:
            return found[0]
        name = text(cells.get("department")) or value
        if found:
            message = _("Several departments are called %(value)s; use the department code.")
            self.error(row, column, message % {"value": value})
        elif len(value) > _LIMITS["code"]:
            self._too_long(row, column, _LIMITS["code"])
        elif len(name) > _LIMITS["name"]:
            self._too_long(row, "department", _LIMITS["name"])
        else:
            # Its parent is inferred from the reporting line once every row is read.
            new = NewDepartment(code=value, name=name, parent_value="", row=row, inferred=True)
            self.departments.add(new, value, [name])
            return new
        return _SKIP

    def _place_new_departments(self) -> None:
        """Count each new department's members; place those without a parent by the
        reporting line, under the organisation's top department at the very top."""
        inferred: dict[NewDepartment, list[str]] = {}
        for planned in self.rows:
            department = planned.values.get("department")
            if isinstance(department, NewDepartment):
                department.members.append(planned.number)
                if department.inferred:
                    inferred.setdefault(department, []).append(planned.number)
        if not inferred:
            return
        top = self._top_department()
        in_file = {planned.number: planned for planned in self.rows}

        def department_of(number: str) -> Any:
            planned = in_file.get(number)
            if planned is not None and "department" in planned.values:
                return planned.values["department"]
            employee = self.employees.get(number)
            return self.departments.by_id.get(employee.department_id) if employee else None

        def describe(target: Any) -> str:
            if target is None and top is not None:
                return _("under the top department %(name)s") % {"name": top.name}
            if target is None:
                return _("to the top of the tree")
            if target is TOP:
                return top.name if top is not None else _("the top of the tree")
            return str(target.name)

        placements = place_departments(inferred, self.boss, department_of, describe, self._person)
        for department, placement in placements.items():
            department.parent = top if placement.parent is TOP else placement.parent
            department.reason = placement.reason

    def _top_department(self) -> Department | None:
        """The root of the organisation's tree (the first one, should there be several)."""
        roots = [d for d in self.departments.by_id.values() if d.parent_id is None]
        return min(roots, key=lambda d: (d.path, d.pk)) if roots else None

    # -- one row -----------------------------------------------------------------------------

    def _check_row(self, file_row: FileRow) -> PlannedRow | None:
        row, cells = file_row.number, file_row.cells
        number = self._required(row, cells, "employee_number")
        name = self._required(row, cells, "name")
        values: dict[str, Any] = {"name": name, "department": self._department(row, cells)}
        checks: Mapping[str, Callable[[int, str, Any, str], Any]] = {
            "position": self._position,
            "manager_number": self._manager,
            "hire_date": self._date,
            "email": self._email,
            "language": self._choice,
            "status": self._choice,
        }
        for column, check in checks.items():
            if self.file.has(column):
                values["manager" if column == "manager_number" else column] = check(
                    row, column, cells.get(column), number
                )
        if not number:
            return None
        if self.file.has("manager_name"):
            self.manager_names[number] = text(cells.get("manager_name"))
        values = {key: value for key, value in values.items() if value is not _SKIP}
        return PlannedRow(row, number, name, self.employees.get(number), values)

    def _required(self, row: int, cells: dict[str, Any], column: str) -> str:
        value = text(cells.get(column))
        if not value:
            self.error(row, column, _("A value is required."))
        elif len(value) > _LIMITS[column]:
            self._too_long(row, column, _LIMITS[column])
        return value

    def _too_long(self, row: int, column: str, limit: int) -> None:
        self.error(row, column, _("Too long: at most %(limit)s characters.") % {"limit": limit})

    def _position(self, row: int, column: str, cell: Any, number: str) -> Any:
        value = text(cell)
        if not value:
            return None
        found = self.positions.find(value)
        if len(found) > 1:
            message = _("Several positions are called %(value)s; use the position code.")
            self.error(row, column, message % {"value": value})
            return _SKIP
        if found:
            return found[0]
        if len(value) > _LIMITS["code"]:
            self._too_long(row, column, _LIMITS["code"])
            return _SKIP
        return self.new_positions.setdefault(value, NewPosition(value))

    def _manager(self, row: int, column: str, cell: Any, number: str) -> Any:
        value = text(cell)
        if value and value == number:
            self.error(row, column, _("An employee cannot be their own manager."))
            return _SKIP
        return value or None

    def _date(self, row: int, column: str, cell: Any, number: str) -> Any:
        try:
            return parse_date(cell)
        except ValueError:
            message = _("%(value)s is not a date; write it as 2024-01-05.")
            self.error(row, column, message % {"value": text(cell)})
            return _SKIP

    def _email(self, row: int, column: str, cell: Any, number: str) -> Any:
        try:
            email = parse_email(cell)
        except ValueError:
            message = _("%(value)s is not an e-mail address.")
            self.error(row, column, message % {"value": text(cell)})
            return _SKIP
        if len(email) > _LIMITS["email"]:
            self._too_long(row, column, _LIMITS["email"])
            return _SKIP
        return email

    def _choice(self, row: int, column: str, cell: Any, number: str) -> Any:
        parse = parse_language if column == "language" else parse_status
        try:
            value = parse(cell)
        except ValueError:
            if column == "language":
                message = _("Unknown language %(value)s; write 中文 or English.")
            else:
                message = _("Unknown status %(value)s; write 在职 (active) or 离职 (left).")
            self.error(row, column, message % {"value": text(cell)})
            return _SKIP
        # A blank cell keeps what the employee has; new employees get the default.
        return _SKIP if value is None else value

    # -- across rows -------------------------------------------------------------------------

    def _check_managers(self) -> None:
        in_file = {planned.number: planned for planned in self.rows}
        self._resolve_manager_names()
        boss: dict[str, str | None] = {
            e.employee_number: self.number_by_id.get(e.manager_id) if e.manager_id else None
            for e in self.employees.values()
        }
        for planned in self.rows:
            if "manager" not in planned.values:
                continue
            manager = planned.values["manager"]
            if manager is not None and manager not in in_file and manager not in self.employees:
                message = _(
                    "The manager %(number)s is neither in the file nor in the organisation."
                )
                self.error(planned.row, "manager_number", message % {"number": manager})
                manager = None
            boss[planned.number] = manager
        self.boss = boss
        column = "manager_number" if self.file.has("manager_number") else "manager_name"
        for circle in _circles(boss, in_file):
            chain = " → ".join([*circle, circle[0]])
            message = _("The reporting lines form a circle: %(chain)s.")
            for number in circle:
                if number in in_file:
                    self.error(in_file[number].row, column, message % {"chain": chain})

    def _resolve_manager_names(self) -> None:
        """A manager given by name (直属上级) where the row gives no manager number: the one
        person of that name in the file or among the organisation's active employees."""
        if not self.file.has("manager_name"):
            return
        in_file = {planned.number for planned in self.rows}
        by_name: dict[str, set[str]] = {}
        for employee in self.employees.values():
            if employee.is_active and employee.employee_number not in in_file:
                by_name.setdefault(employee.name, set()).add(employee.employee_number)
        for planned in self.rows:
            by_name.setdefault(planned.name, set()).add(planned.number)
        for planned in self.rows:
            if planned.values.get("manager") is not None:
                continue  # the manager number decides
            name = self.manager_names.get(planned.number, "")
            found = sorted(by_name.get(name, ()), key=natural_key)
            others = [number for number in found if number != planned.number]
            if not name or len(others) == 1:
                planned.values["manager"] = others[0] if name else None
            elif not found:
                message = _("Nobody called %(name)s is in the file or the organisation.")
                self.error(planned.row, "manager_name", message % {"name": name})
            elif not others:
                self.error(
                    planned.row, "manager_name", _("An employee cannot be their own manager.")
                )
            else:
                message = _(
                    "Several people are called %(name)s (%(numbers)s); give the manager's "
                    "employee number in a column %(column)s."
                )
                values = {
                    "name": name,
                    "numbers": "、".join(others),
                    "column": self.file.column("manager_number"),
                }
                self.error(planned.row, "manager_name", message % values)

    def _check_logins(self) -> None:
        """A new employee's login name must be free (a login may outlive its employee)."""
        wanted = {
            f"{self.organisation.slug}-{planned.number}": planned
            for planned in self.rows
            if planned.employee is None
        }
        names = list(wanted)
        taken: set[str] = set()
        for start in range(0, len(names), _BATCH):
            users = get_user_model().objects.filter(username__in=names[start : start + _BATCH])
            taken.update(users.values_list("username", flat=True))
        for username in sorted(taken):
            message = _("The login name %(username)s is already taken by another account.")
            self.error(wanted[username].row, "employee_number", message % {"username": username})

    def _changes(self, planned: PlannedRow) -> dict[str, list[str]]:
        employee = planned.employee
        if employee is None:
            return {}
        current: dict[str, Any] = {
            "name": employee.name,
            "email": employee.email,
            "department": self.departments.by_id.get(employee.department_id),
            "position": self.positions.by_id.get(employee.position_id or 0),
            "manager": self.number_by_id.get(employee.manager_id or 0),
            "hire_date": employee.hire_date,
            "language": employee.language,
            "status": employee.status,
        }
        changes: dict[str, list[str]] = {}
        for name, wanted in planned.values.items():
            if _same(current[name], wanted):
                continue
            show = self._person if name == "manager" else _shown
            changes[name] = [show(current[name]), show(wanted)]
        return changes

    def _person(self, number: str | None) -> str:
        return f"{self.names.get(number, '')} ({number})" if number else ""


def _same(old: Any, new: Any) -> bool:
    if isinstance(new, NewDepartment | NewPosition):
        return False
    if isinstance(new, Department | Position):
        return old is not None and old.pk == new.pk
    return bool(old == new or (old in (None, "") and new in (None, "")))


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Department | Position | NewDepartment):
        return value.name
    if isinstance(value, NewPosition):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _circles(boss: dict[str, str | None], starts: Iterable[str]) -> list[list[str]]:
    """Each circle in the reporting lines once, as the employee numbers along it."""
    finished: set[str] = set()
    circles: list[list[str]] = []
    for start in starts:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in finished and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = boss.get(node)
        if node is not None and node in on_path:
            circles.append(path[on_path[node] :])
        finished.update(path)
    return circles
