"""Importing KPI values: from a file (xlsx or csv, any size) or pushed as JSON by another system.

Every row is checked while the file streams past: employee numbers, KPI codes and periods are
resolved through dictionaries loaded once per import, so checking costs no query per row. Good
rows go to a temporary staging table (COPY on PostgreSQL, batched inserts on SQLite); duplicates
within the file are found there with one grouped query; then one set-based upsert writes the
values. All of it is one transaction: if any row is bad, nothing changes (not even the periods
the file mentioned). Re-importing the same file rewrites no row, because the upsert only touches
rows whose value, target or source differ.

The values themselves are bulk data and are not audited one by one: each import records one
`metrics.import.applied` event with the file name and the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from miantan.audit.services import record
from miantan.core.text import normalise
from miantan.people.models import Employee, Organisation
from miantan.people.org_file import header_key

from .models import Kpi, Period
from .periods import bounds
from .staging import StagedRow, staging_table
from .values_file import (
    HEADERS,
    PLAIN_NUMBER,
    FileError,
    RowError,
    ValuesFile,
    number_text,
    open_values_file,
    period_key,
)

__all__ = [
    "MAX_REPORTED_PROBLEMS",
    "ImportOutcome",
    "Problem",
    "import_values",
    "import_values_file",
]

MAX_REPORTED_PROBLEMS = 1000
_PROGRESS_EVERY = 10_000
_FIELDS = ("employee_number", "kpi", "period", "value", "target", "source")
_SOURCE_LENGTH = 50


@dataclass(frozen=True)
class Problem:
    """One bad cell: `row` is the spreadsheet row (header = 1) or the index of a pushed item."""

    row: int | None
    field: str
    message: str


@dataclass
class ImportOutcome:
    rows: int = 0
    created: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    applied: bool = False
    dry_run: bool = False
    # Pushed items are numbered by index, file rows by the spreadsheet's row number.
    items: bool = False

    @property
    def unchanged(self) -> int:
        return self.rows - self.created - self.updated if self.applied or self.dry_run else 0

    def summary(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "problems": self.problem_count,
        }

    def message(self) -> str:
        if self.problem_count:
            return ngettext(
                "The values were rejected with %(count)s problem; nothing was changed.",
                "The values were rejected with %(count)s problems; nothing was changed.",
                self.problem_count,
            ) % {"count": self.problem_count}
        if self.created == 0 and self.updated == 0:
            return _("All %(rows)s values are already up to date; nothing was changed.") % {
                "rows": self.rows
            }
        return (
            _("%(rows)s values: %(created)s new, %(updated)s changed, %(unchanged)s unchanged.")
            % self.summary()
        )

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)

    def row_errors(self, values_file: ValuesFile | None = None) -> list[RowError]:
        """The problems as the file shows them: row number and the column's header."""

        def column(name: str) -> str:
            # A field name ("kpi") becomes the file's header; a header problem has the header.
            return values_file.column(name) if values_file and name in HEADERS else name

        return [RowError(p.row, column(p.field), p.message) for p in self.problems]


class _Rejected(Exception):
    pass


class _DryRun(Exception):
    pass


# --- entry points ----------------------------------------------------------------------------


def import_values_file(
    organisation: Organisation,
    stream: IO[bytes],
    *,
    name: str,
    actor: Any,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[ImportOutcome, ValuesFile | None]:
    """Check a file of KPI values and, if every row is good, upsert them; all or nothing.

    Returns the outcome and the opened file (whose headers name the columns of the problems;
    None when the file could not be opened). With `dry_run` the counts are computed and then
    rolled back.
    """
    outcome = ImportOutcome(dry_run=dry_run)
    try:
        values_file = open_values_file(stream, name)
    except FileError as error:
        outcome.add(Problem(None, "", error.message))
        return outcome, None
    for header_error in values_file.errors:
        outcome.add(Problem(header_error.row, header_error.column, header_error.message))
    if outcome.problem_count:
        return outcome, values_file
    rows = _file_rows(values_file)
    _run(organisation, rows, outcome, actor=actor, label=name, progress=progress)
    return outcome, values_file


def import_values(
    organisation: Organisation,
    items: Sequence[dict[str, Any]],
    *,
    actor: Any,
    label: str = "api",
    dry_run: bool = False,
) -> ImportOutcome:
    """Check values pushed as dictionaries (the JSON API) and upsert them; all or nothing.
    A problem's `row` is the item's index in `items`."""
    outcome = ImportOutcome(dry_run=dry_run, items=True)
    rows = ((index, tuple(item.get(name) for name in _FIELDS)) for index, item in enumerate(items))
    _run(organisation, rows, outcome, actor=actor, label=label, progress=None)
    return outcome


def _file_rows(values_file: ValuesFile) -> Iterator[tuple[int, tuple[Any, ...]]]:
    indexes = [values_file.indexes.get(name) for name in _FIELDS]
    width = max(index for index in indexes if index is not None) + 1
    # A column the file lacks reads the None appended after the row's last used cell.
    pick = itemgetter(*[width if index is None else index for index in indexes])
    for number, cells in values_file.lines:
        if len(cells) != width:
            cells = [*cells[:width], *[None] * (width - len(cells))]
        cells.append(None)
        row = pick(cells)
        if not row[0] and not any(row):
            continue
        yield number, row


# --- the run ---------------------------------------------------------------------------------


def _run(
    organisation: Organisation,
    rows: Iterable[tuple[int, tuple[Any, ...]]],
    outcome: ImportOutcome,
    *,
    actor: Any,
    label: str,
    progress: Callable[[int], None] | None,
) -> None:
    try:
        with transaction.atomic():
            # One import at a time per organisation.
            Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
            _check_and_write(
                organisation, rows, outcome, actor=actor, label=label, progress=progress
            )
    except (_Rejected, _DryRun):
        pass


def _check_and_write(
    organisation: Organisation,
    rows: Iterable[tuple[int, tuple[Any, ...]]],
    outcome: ImportOutcome,
    *,
    actor: Any,
    label: str,
    progress: Callable[[int], None] | None,
) -> None:
    checker = _Checker(organisation)
    with staging_table(connection) as staging:
        for number, cells in rows:
            outcome.rows += 1
            staged = checker.check(number, cells, outcome)
            if staged is not None:
                staging.add(staged)
            if progress is not None and outcome.rows % _PROGRESS_EVERY == 0:
                progress(outcome.rows)
        staging.flush()
        for row, first in staging.duplicates(MAX_REPORTED_PROBLEMS):
            if outcome.items:
                message = _("The same employee, KPI and period already appear in item %(index)s.")
                outcome.add(Problem(row, "kpi", message % {"index": first}))
            else:
                message = _("The same employee, KPI and period already appear in row %(row)s.")
                outcome.add(Problem(row, "kpi", message % {"row": first}))
        if outcome.problem_count:
            raise _Rejected
        outcome.created, outcome.updated = staging.upsert(organisation.pk, timezone.now())
    if outcome.dry_run:
        raise _DryRun
    outcome.applied = True
    record(
        "metrics.import.applied",
        actor=actor,
        obj=organisation,
        organisation_id=organisation.pk,
        data={"source": label[:200], **outcome.summary()},
    )


class _Checker:
    """Turns the raw cells of one row into ids and numbers, or into problems.

    Employees, KPIs and known periods are loaded once; a period the organisation does not have
    yet is created (inside the import's transaction, so a rejected import leaves none behind).
    """

    def __init__(self, organisation: Organisation) -> None:
        self.organisation = organisation
        self.employees: dict[str, int] = dict(
            Employee.objects.filter(organisation=organisation).values_list("employee_number", "pk")
        )
        self.kpis = _kpi_lookup(organisation)
        self.periods: dict[tuple[str, Any], int] = {
            (kind, start): pk
            for kind, start, pk in Period.objects.filter(organisation=organisation).values_list(
                "kind", "start", "pk"
            )
        }
        self.period_cells: dict[Any, int] = {}

    def check(
        self, number: int, cells: tuple[Any, ...], outcome: ImportOutcome
    ) -> StagedRow | None:
        employee_cell, kpi_cell, period_cell, value_cell, target_cell, source_cell = cells
        bad = outcome.problem_count
        employee = self._employee(employee_cell)
        if employee is None:
            outcome.add(Problem(number, "employee_number", self._employee_message(employee_cell)))
        kpi = self.kpis.get(kpi_cell) if type(kpi_cell) is str else None
        if kpi is None:
            kpi = self.kpis.get(header_key(kpi_cell)) if kpi_cell is not None else None
            if kpi is None:
                outcome.add(Problem(number, "kpi", _kpi_message(kpi_cell)))
        period = self._period(period_cell)
        if period is None:
            outcome.add(Problem(number, "period", _period_message(period_cell)))
        if type(value_cell) is str and PLAIN_NUMBER.fullmatch(value_cell):
            value: str | None = value_cell  # the common case, without a call
        else:
            value = _number(value_cell, number, "value", outcome, required=True)
        target = None
        if target_cell is not None and target_cell != "":
            target = _number(target_cell, number, "target", outcome, required=False)
        source = normalise(source_cell)[:_SOURCE_LENGTH] if source_cell else ""
        if outcome.problem_count != bad:
            return None
        return (number, employee, kpi, period, value, target, source)  # type: ignore[return-value]

    def _employee(self, cell: Any) -> int | None:
        if type(cell) is str:
            found = self.employees.get(cell)
            if found is not None:
                return found
        return self.employees.get(_text(cell)) if cell is not None else None

    def _employee_message(self, cell: Any) -> str:
        if _text(cell) == "":
            return _("The employee number is missing.")
        return _("No employee in this organisation has the employee number %(number)s.") % {
            "number": _text(cell)
        }

    def _period(self, cell: Any) -> int | None:
        try:
            return self.period_cells[cell]
        except (KeyError, TypeError):
            pass
        try:
            kind, start = period_key(cell)
        except ValueError:
            return None
        key = (str(kind), start)
        if key not in self.periods:
            end, label = bounds(kind, start)[1:]
            period = Period.objects.create(
                organisation=self.organisation, kind=kind, start=start, end=end, label=label
            )
            self.periods[key] = period.pk
        # Bounded: a file with a date per row would otherwise grow this without end.
        if len(self.period_cells) < 10_000:
            self.period_cells[cell] = self.periods[key]
        return self.periods[key]


def _kpi_lookup(organisation: Organisation) -> dict[str, int]:
    """Code, Chinese or English name → id; codes win over names, and a name two KPIs share
    is left out rather than guessed."""
    kpis = list(
        Kpi.objects.filter(organisation=organisation).values_list("pk", "code", "name", "name_en")
    )
    lookup: dict[str, int] = {}
    names: dict[str, set[int]] = {}
    for pk, _code, name, name_en in kpis:
        for text in (name, name_en):
            if text:
                names.setdefault(header_key(text), set()).add(pk)
    lookup.update({key: next(iter(pks)) for key, pks in names.items() if len(pks) == 1})
    for pk, code, _name, _name_en in kpis:
        lookup[header_key(code)] = pk
        lookup[code] = pk
    return lookup


def _text(cell: Any) -> str:
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return normalise(cell)


def _number(
    cell: Any, number: int, name: str, outcome: ImportOutcome, *, required: bool
) -> str | None:
    if cell is None or (type(cell) is str and not cell.strip()):
        if required:
            outcome.add(Problem(number, name, _("A value is required.")))
        return None
    try:
        return number_text(cell)
    except ValueError:
        message = _("“%(value)s” is not a number (at most 14 digits before the point).")
        outcome.add(Problem(number, name, message % {"value": _text(cell)[:50]}))
        return None


def _kpi_message(cell: Any) -> str:
    if _text(cell) == "":
        return _("The KPI is missing.")
    return _("No KPI in the catalogue has the code or name %(kpi)s.") % {"kpi": _text(cell)[:50]}


def _period_message(cell: Any) -> str:
    if _text(cell) == "":
        return _("The period is missing.")
    message = _("“%(value)s” is not a period; write 2026-11, 2026-Q4, 2026 or a date.")
    return message % {"value": _text(cell)[:50]}
