"""Importing shift rosters (排班表) from xlsx or csv: employee number, date, shift code.

The common hospital export has one row per person and day: 工号 / 日期 / 班次 (or the English
headers employee number / date / shift). Dates may be date cells, Excel serial numbers or typed
text ("2026-12-01", "2026年12月1日"), digits may be full-width; the cell readers are those of
the organisation import. The header row is found wherever it stands (title rows above it), and
notes or signatures below the data are listed, not refused (`miantan.core.spreadsheets`).

All or nothing per file: every bad row is reported with its row and column (unknown employee,
unknown shift code, bad date, a row that repeats another) and nothing changes. The file is the
truth for every (employee, date) it lists: their shifts become exactly the file's, so a second
import of the same file changes nothing and a corrected file replaces the old shifts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from miantan.audit.services import record
from miantan.core.spreadsheets import FileError, Layout, Note, RowError, header_key, open_sheet
from miantan.people.models import Employee, Organisation
from miantan.people.org_file import parse_date, text

from .models import RosterEntry, ShiftCode

HEADERS: dict[str, tuple[str, ...]] = {
    "employee_number": (
        "工号",
        "employee number",
        "员工编号",
        "员工工号",
        "职工号",
        "人员编号",
        "employee no",
        "employee id",
    ),
    "date": ("日期", "date", "排班日期", "值班日期", "roster date"),
    "shift": ("班次", "shift", "班次代码", "shift code", "班别", "班种"),
}
LAYOUT = Layout(HEADERS, tuple(HEADERS), key="employee_number")
MAX_ROWS = 200_000

__all__ = ["HEADERS", "RosterOutcome", "import_roster_file"]


@dataclass
class RosterOutcome:
    rows: int = 0
    created: int = 0
    deleted: int = 0
    errors: list[RowError] = field(default_factory=list)
    header_row: int | None = None
    skipped: list[Note] = field(default_factory=list)  # rows above the header
    notes: list[Note] = field(default_factory=list)  # rows after the data that are not data

    @property
    def applied(self) -> bool:
        return not self.errors

    def summary(self) -> dict[str, int]:
        return {"rows": self.rows, "created": self.created, "deleted": self.deleted}

    def message(self) -> str:
        if self.errors:
            return ngettext(
                "The roster was rejected with %(count)s problem; nothing was changed.",
                "The roster was rejected with %(count)s problems; nothing was changed.",
                len(self.errors),
            ) % {"count": len(self.errors)}
        if not self.created and not self.deleted:
            return _("All %(rows)s shifts are already in the roster; nothing was changed.") % {
                "rows": self.rows
            }
        return _("%(rows)s shifts: %(created)s added, %(deleted)s removed.") % self.summary()


@dataclass(frozen=True)
class _Row:
    number: int
    employee: int
    day: date
    shift: int


def import_roster_file(
    organisation: Organisation, stream: IO[bytes], *, name: str, actor: Any
) -> RosterOutcome:
    """Check a roster file and, if every row is good, make the roster say what it says.

    Writes in one transaction with one `scheduling.roster.imported` audit event."""
    outcome = RosterOutcome()
    try:
        sheet = open_sheet(stream, name, LAYOUT)
        outcome.header_row, outcome.skipped = sheet.header_row, sheet.skipped
        outcome.errors.extend(sheet.errors)
        if outcome.errors:
            return outcome
        columns = {field_name: sheet.column(field_name) for field_name in HEADERS}
        rows = _check_rows(organisation, sheet.rows(), columns, sheet.indexes, outcome)
    except FileError as error:
        outcome.errors.append(RowError(None, "", error.message))
        return outcome
    outcome.notes = sheet.notes
    if outcome.errors:
        return outcome
    if not rows:
        message = _("The file has no rows below the header.")
        outcome.errors.append(RowError(sheet.header_row, "", message))
        return outcome
    with transaction.atomic():
        _apply(organisation, rows, outcome)
        record(
            "scheduling.roster.imported",
            actor=actor,
            obj=organisation,
            organisation_id=organisation.pk,
            data={"source": name[:200], **outcome.summary()},
        )
    return outcome


def _check_rows(
    organisation: Organisation,
    lines: Iterable[tuple[int, list[Any]]],
    columns: dict[str, str],
    indexes: dict[str, int],
    outcome: RosterOutcome,
) -> list[_Row]:
    employees = dict(
        Employee.objects.filter(organisation=organisation).values_list("employee_number", "pk")
    )
    shifts, retired = _shift_lookup(organisation)
    seen: dict[tuple[int, date, int], int] = {}
    rows: list[_Row] = []
    for number, cells in lines:
        outcome.rows += 1
        if outcome.rows > MAX_ROWS:
            message = _("The file has more than %(limit)s rows.") % {"limit": MAX_ROWS}
            outcome.errors.append(RowError(None, "", message))
            break
        cell = {name: cells[at] if at < len(cells) else None for name, at in indexes.items()}
        row = _check_row(number, cell, employees, (shifts, retired), columns, outcome)
        if row is None:
            continue
        key = (row.employee, row.day, row.shift)
        if key in seen:
            message = _("The same employee, date and shift already appear in row %(row)s.")
            outcome.errors.append(RowError(number, columns["shift"], message % {"row": seen[key]}))
            continue
        seen[key] = number
        rows.append(row)
    return rows


def _check_row(
    number: int,
    cell: dict[str, Any],
    employees: dict[str, int],
    shift_codes: tuple[dict[str, int], dict[int, str]],
    columns: dict[str, str],
    outcome: RosterOutcome,
) -> _Row | None:
    problems = len(outcome.errors)
    employee_number = text(cell["employee_number"])
    employee = employees.get(employee_number)
    if employee is None:
        message = (
            _("No employee in this organisation has the employee number %(number)s.")
            % {"number": employee_number}
            if employee_number
            else _("The employee number is missing.")
        )
        outcome.errors.append(RowError(number, columns["employee_number"], message))
    try:
        day = parse_date(cell["date"])
    except ValueError:
        day = None
    if day is None:
        message = _("“%(value)s” is not a date.") % {"value": text(cell["date"])[:50]}
        outcome.errors.append(RowError(number, columns["date"], message))
    code = text(cell["shift"])
    shifts, retired = shift_codes
    shift = shifts.get(code) or shifts.get(header_key(code))
    if shift is None:
        message = (
            _("No shift code %(code)s is defined for this organisation.") % {"code": code[:50]}
            if code
            else _("The shift is missing.")
        )
        outcome.errors.append(RowError(number, columns["shift"], message))
    elif shift in retired:
        message = _(
            "The shift code %(code)s is retired; HR can reinstate it on the shift codes page."
        ) % {"code": retired[shift]}
        outcome.errors.append(RowError(number, columns["shift"], message))
    if len(outcome.errors) != problems:
        return None
    return _Row(number, employee, day, shift)  # type: ignore[arg-type]


def _shift_lookup(organisation: Organisation) -> tuple[dict[str, int], dict[int, str]]:
    """Code → id, and either name (any case or spacing) → id when no code is spelt so; and
    the retired codes by id, which new rosters may not use."""
    lookup: dict[str, int] = {}
    codes = list(
        ShiftCode.objects.filter(organisation=organisation).values_list(
            "pk", "code", "name", "name_en", "retired_at"
        )
    )
    for pk, _code, name, name_en, _retired in codes:
        for value in (name_en, name):
            if value:
                lookup[header_key(value)] = pk
    for pk, code, _name, _name_en, _retired in codes:
        lookup[header_key(code)] = pk
        lookup[code] = pk
    retired = {pk: code for pk, code, _name, _name_en, retired_at in codes if retired_at}
    return lookup, retired


def _apply(organisation: Organisation, rows: list[_Row], outcome: RosterOutcome) -> None:
    """Make the shifts of every (employee, date) in the file exactly the file's."""
    wanted: dict[tuple[int, date], set[int]] = defaultdict(set)
    for row in rows:
        wanted[(row.employee, row.day)].add(row.shift)
    employees = {employee for employee, _day in wanted}
    days = [day for _employee, day in wanted]
    existing = RosterEntry.objects.filter(
        employee_id__in=employees, date__gte=min(days), date__lte=max(days)
    ).values_list("pk", "employee_id", "date", "shift_code_id")
    stale: list[int] = []
    for pk, employee, day, shift in existing:
        shifts = wanted.get((employee, day))
        if shifts is None:
            continue
        if shift in shifts:
            shifts.discard(shift)
        else:
            stale.append(pk)
    if stale:
        outcome.deleted = RosterEntry.objects.filter(pk__in=stale).delete()[0]
    new = [
        RosterEntry(organisation=organisation, employee_id=employee, date=day, shift_code_id=shift)
        for (employee, day), shifts in wanted.items()
        for shift in sorted(shifts)
    ]
    RosterEntry.objects.bulk_create(new, batch_size=1000)
    outcome.created = len(new)
