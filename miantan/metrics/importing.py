"""Importing KPI values: from a file (xlsx or csv, any size) or pushed as JSON by another system.

Every row is checked while the file streams past: employee numbers, KPI codes and periods are
resolved through dictionaries loaded once per import, so checking costs no query per row. Good
rows go to a temporary staging table (COPY on PostgreSQL, batched inserts on SQLite); duplicates
within the file are found there with one grouped query; then one set-based upsert writes the
values. All of it is one transaction: if any row is bad, nothing changes (not even the periods
the file mentioned). Re-importing the same file rewrites no row, because the upsert only touches
rows whose value, target or source differ.

Each value and target is checked against its KPI's valid range (ranges.py). For a per cent KPI
the file's plain numbers between 0 and 1 may be fractions (0.92 for 92 %): whether they are is
decided per KPI once the whole file has been read (ranges.fraction_reading), so their range
checks wait until then, and the staging table multiplies the KPI's numbers by 100 before the
upsert. Both databases run this same code; the report says how each such KPI was read.

A KPI the file names (by code, Chinese or English name) that the catalogue lacks but an
industry pack has (packs.py) is added to the catalogue from the pack, inside the same
transaction, so a rejected file adds none; the report names each KPI added and its pack. A KPI
found nowhere is a problem of its row, with the closest names of the catalogue and the packs.

The values themselves are bulk data and are not audited one by one: each import records one
`metrics.import.applied` event with the file name and the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import IO, Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import get_language, ngettext, pgettext
from django.utils.translation import gettext as _

from miantan.audit.services import record
from miantan.core.errors import DomainError
from miantan.core.spreadsheets import header_key
from miantan.core.text import normalise
from miantan.people.models import Employee, Organisation

from .catalogue import close_kpi_names, pack_kpi_named
from .models import Kpi, KpiAssignment, Period
from .packs import PACK_LABELS
from .periods import bounds
from .ranges import PercentColumn, Reading, ValueRange, is_percent, out_of_range_message, plain
from .services import add_kpi_from_pack
from .staging import StagedRow, staging_table
from .values_file import (
    HEADERS,
    PLAIN_NUMBER,
    FileError,
    RowError,
    ValuesFile,
    open_values_file,
    period_key,
    read_number,
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
    """What an import found and did. `rows` are the rows read (one value each); `people` the
    different employees among them, `people_changed` those with a new or changed value."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    people: int = 0
    people_changed: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    # The KPIs added to the catalogue from an industry pack (their name, the pack), then
    # how per cent KPIs with numbers between 0 and 1 were read: one sentence per KPI.
    notes: list[str] = field(default_factory=list)
    added_from_packs: list[tuple[str, str]] = field(default_factory=list)
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
            "people": self.people,
            "people_changed": self.people_changed,
            "problems": self.problem_count,
        }

    def message(self) -> str:
        """The outcome in a few sentences, followed by the notes on how numbers were read."""
        return _sentences([self._counts(), *self.notes])

    def _counts(self) -> str:
        if self.problem_count:
            return ngettext(
                "The values were rejected with %(count)s problem; nothing was changed.",
                "The values were rejected with %(count)s problems; nothing was changed.",
                self.problem_count,
            ) % {"count": self.problem_count}
        if self.created == 0 and self.updated == 0:
            return ngettext(
                "The %(count)s value is already up to date; nothing was changed.",
                "All %(count)s values are already up to date; nothing was changed.",
                self.rows,
            ) % {"count": self.rows}
        return _sentences(
            [
                ngettext("Read %(count)s row.", "Read %(count)s rows.", self.rows)
                % {"count": self.rows},
                _("Values: %(created)s new, %(updated)s changed, %(unchanged)s unchanged.")
                % self.summary(),
                ngettext(
                    "%(count)s person has new or changed values.",
                    "%(count)s people have new or changed values.",
                    self.people_changed,
                )
                % {"count": self.people_changed},
            ]
        )

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)

    def add_held(self, held: _Held) -> None:
        """Problems that waited for the end of the file (range checks of possible fractions)."""
        for problem in held.problems:
            self.add(problem)
        self.problem_count += held.count - len(held.problems)

    def row_errors(self, values_file: ValuesFile | None = None) -> list[RowError]:
        """The problems as the file shows them: row number and the column's header."""

        def column(name: str) -> str:
            # A field name ("kpi") becomes the file's header; a header problem has the header.
            return values_file.column(name) if values_file and name in HEADERS else name

        return [RowError(p.row, column(p.field), p.message) for p in self.problems]


def _sentences(parts: list[str]) -> str:
    """Sentences in a row: a space after "." as in English, none after "。" as in Chinese."""
    text = ""
    for part in parts:
        text += part if not text or text.endswith(("。", "！", "？", "；")) else f" {part}"
    return text


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
    outcome.notes[:0] = [
        _added_note(name, pack, applied=outcome.applied) for name, pack in outcome.added_from_packs
    ]


def _added_note(name: str, pack: str, *, applied: bool) -> str:
    values = {"kpi": name, "pack": PACK_LABELS[pack]}
    if applied:
        return _("%(kpi)s: added to the KPI catalogue from the “%(pack)s” pack.") % values
    return (
        _("%(kpi)s: not in the KPI catalogue; importing the file adds it from the “%(pack)s” pack.")
        % values
    )


def _check_and_write(
    organisation: Organisation,
    rows: Iterable[tuple[int, tuple[Any, ...]]],
    outcome: ImportOutcome,
    *,
    actor: Any,
    label: str,
    progress: Callable[[int], None] | None,
) -> None:
    checker = _Checker(organisation, actor=actor, added=outcome.added_from_packs)
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
        fractions = checker.finish(outcome)
        if outcome.problem_count:
            outcome.problems.sort(key=lambda problem: (problem.row is not None, problem.row or 0))
            raise _Rejected
        if fractions:
            staging.scale(fractions, 100)
        outcome.people = staging.people()
        outcome.created, outcome.updated, outcome.people_changed = staging.upsert(
            organisation.pk, timezone.now()
        )
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


class _Held:
    """Problems that count only if a per cent KPI's numbers are read one way (see _KpiRange)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.count = 0

    def add(self, problem: Problem) -> None:
        self.count += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)


@dataclass
class _KpiRange:
    """What the row check needs of a KPI with a range or a per cent unit."""

    name: str
    valid: ValueRange
    low: float
    high: float
    # Per cent KPIs only: their plain numbers so far, and the range problems of those between
    # 0 and 1, held until the file's end decides whether they are fractions.
    column: PercentColumn | None = None
    if_as_written: _Held = field(default_factory=_Held)
    if_fractions: _Held = field(default_factory=_Held)


class _Checker:
    """Turns the raw cells of one row into ids and numbers, or into problems.

    Employees, KPIs and known periods are loaded once; a period the organisation does not have
    yet is created, and so is a KPI only a pack has (inside the import's transaction, so a
    rejected import leaves none behind).
    """

    def __init__(
        self, organisation: Organisation, *, actor: Any, added: list[tuple[str, str]]
    ) -> None:
        self.organisation = organisation
        self.actor = actor
        self.employees: dict[str, int] = dict(
            Employee.objects.filter(organisation=organisation).values_list("employee_number", "pk")
        )
        self.catalogue = list(
            Kpi.objects.filter(organisation=organisation).values_list(
                "pk", "code", "name", "name_en"
            )
        )
        self.kpis, self.shared_names = _kpi_lookup(self.catalogue)
        self.ranges = _kpi_ranges(organisation)
        # KPIs added from packs during this import: (name, pack), in the order met.
        self.added = added
        # Why a KPI cell found no KPI, by its header key (computed once per spelling).
        self.unknown: dict[str, str] = {}
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
                kpi = self._kpi_elsewhere(kpi_cell, number, outcome)
        period = self._period(period_cell)
        if period is None:
            outcome.add(Problem(number, "period", _period_message(period_cell)))
        explicit = False
        if type(value_cell) is str and PLAIN_NUMBER.fullmatch(value_cell):
            value: str | None = value_cell  # the common case, without a call
        else:
            value, explicit = _number(value_cell, number, "value", outcome, required=True)
        target, target_explicit = None, False
        if target_cell is not None and target_cell != "":
            target, target_explicit = _number(
                target_cell, number, "target", outcome, required=False
            )
        limits = self.ranges.get(kpi) if kpi is not None else None
        if limits is not None:
            if value is not None:
                _check_range(limits, number, "value", value, explicit, outcome)
            if target is not None:
                _check_range(limits, number, "target", target, target_explicit, outcome)
        source = normalise(source_cell)[:_SOURCE_LENGTH] if source_cell else ""
        if outcome.problem_count != bad:
            return None
        return (number, employee, kpi, period, value, target, source)  # type: ignore[return-value]

    def finish(self, outcome: ImportOutcome) -> list[int]:
        """Decide how each per cent KPI's numbers are read, now that the whole file is known:
        add the range problems that this reading makes count and the notes that tell it.
        Returns the KPIs whose numbers are fractions (to be multiplied by 100)."""
        fractions = []
        for kpi_id, limits in self.ranges.items():
            column = limits.column
            if column is None or not column.plain_numbers:
                continue
            reading = column.reading()
            if reading is Reading.FRACTIONS:
                fractions.append(kpi_id)
                outcome.add_held(limits.if_fractions)
            else:
                outcome.add_held(limits.if_as_written)
            note = column.note()
            if note:
                outcome.notes.append(note)
        return fractions

    def _kpi_elsewhere(self, cell: Any, number: int, outcome: ImportOutcome) -> int | None:
        """A KPI the catalogue lacks: added from the pack that has it, else a problem."""
        key = header_key(cell) if cell is not None else ""
        problem = self.unknown.get(key)
        if problem is None:
            # A name the catalogue gives several KPIs is never taken for a pack's.
            found = self._add_from_pack(key) if key and key not in self.shared_names else None
            if isinstance(found, int):
                return found
            problem = found or self._unknown_message(cell, key)
            # Bounded: a file with a different typo per row would otherwise grow this.
            if len(self.unknown) < MAX_REPORTED_PROBLEMS:
                self.unknown[key] = problem
        outcome.add(Problem(number, "kpi", problem))
        return None

    def _add_from_pack(self, key: str) -> int | str | None:
        """The id of the pack KPI named `key`, now in the catalogue; why it cannot be added;
        or None when no pack has it."""
        match = pack_kpi_named(key)
        if match is None:
            return None
        item = match.kpi
        try:
            kpi = add_kpi_from_pack(self.organisation, match.pack, item.code, actor=self.actor)
        except PermissionDenied:
            return _(
                "%(kpi)s is a KPI of the “%(pack)s” pack but not in the catalogue, and only HR "
                "for the whole organisation and administrators may add it."
            ) % {"kpi": item.name, "pack": PACK_LABELS[match.pack]}
        except DomainError:
            # The catalogue uses the pack's code for a KPI of its own.
            name = next((n for _pk, code, n, _en in self.catalogue if code == item.code), "")
            return _(
                "%(kpi)s is a KPI of the “%(pack)s” pack with the code %(code)s, which the "
                "catalogue uses for %(name)s: write that KPI's code or name."
            ) % {"kpi": item.name, "pack": PACK_LABELS[match.pack], "code": item.code, "name": name}
        language = get_language() or "zh-hans"
        self.added.append((kpi.display_name(language), match.pack))
        for text in (item.code, header_key(item.code), key):
            self.kpis[text] = kpi.pk
        if is_percent(kpi.unit) or not ValueRange.of(kpi).is_open:
            self.ranges[kpi.pk] = _kpi_range(kpi, None, language)
        return kpi.pk

    def _unknown_message(self, cell: Any, key: str) -> str:
        written = _text(cell)[:50]
        if not written:
            return _("The KPI is missing.")
        if key in self.shared_names:
            return _(
                "Several KPIs in the catalogue are called %(kpi)s; write the KPI's code instead."
            ) % {"kpi": written}
        message = _(
            "No KPI in the catalogue or in the industry packs has the code or name %(kpi)s."
        )
        message %= {"kpi": written}
        close = close_kpi_names(written, [row[1:] for row in self.catalogue])
        if not close:
            return message
        names = pgettext("list of names", ", ").join(f"“{name}”" for name in close)
        return _sentences([message, _("Close names: %(names)s.") % {"names": names}])

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


def _kpi_lookup(kpis: list[tuple[int, str, str, str]]) -> tuple[dict[str, int], set[str]]:
    """Code, Chinese or English name → id, from (id, code, name, English name) rows; codes win
    over names, and a name two KPIs share is left out rather than guessed (and returned, as
    header keys, so that the problem can say so)."""
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
    shared = {key for key, pks in names.items() if len(pks) > 1 and key not in lookup}
    return lookup, shared


def _text(cell: Any) -> str:
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return normalise(cell)


def _number(
    cell: Any, number: int, name: str, outcome: ImportOutcome, *, required: bool
) -> tuple[str | None, bool]:
    """The cell as decimal text and whether it was written as a per cent, or a problem."""
    if cell is None or (type(cell) is str and not cell.strip()):
        if required:
            outcome.add(Problem(number, name, _("A value is required.")))
        return None, False
    try:
        return read_number(cell)
    except ValueError:
        message = _("“%(value)s” is not a number (at most 14 digits before the point).")
        outcome.add(Problem(number, name, message % {"value": _text(cell)[:50]}))
        return None, False


def _check_range(
    limits: _KpiRange, row: int, name: str, text: str, explicit: bool, outcome: ImportOutcome
) -> None:
    """Refuse a number outside the KPI's range. A per cent KPI's plain number between 0 and 1
    may still turn out to be a fraction: its problem, either way, waits for `finish`."""
    number = float(text)
    column = limits.column
    if column is not None and not explicit and column.see(number, text):
        if not limits.low <= number <= limits.high:
            limits.if_as_written.add(
                Problem(
                    row, name, out_of_range_message(limits.name, plain(Decimal(text)), limits.valid)
                )
            )
        if not limits.low <= number * 100 <= limits.high:
            message = _(
                "%(kpi)s: %(value)s, read as a fraction (%(percent)s %%), is outside the valid "
                "range %(range)s."
            ) % {
                "kpi": limits.name,
                "value": plain(Decimal(text)),
                "percent": plain(Decimal(text) * 100),
                "range": limits.valid,
            }
            limits.if_fractions.add(Problem(row, name, message))
        return
    if not limits.low <= number <= limits.high:
        written = plain(Decimal(text)) + ("%" if explicit else "")
        outcome.add(Problem(row, name, out_of_range_message(limits.name, written, limits.valid)))


def _kpi_ranges(organisation: Organisation) -> dict[int, _KpiRange]:
    """KPI id → its range, for the KPIs that have one or are per cent KPIs; with each per cent
    KPI's smallest assigned target above 0 (the fraction rule compares with it)."""
    language = get_language() or "zh-hans"
    kpis = [
        kpi
        for kpi in Kpi.objects.filter(organisation=organisation).only(
            "pk", "name", "name_en", "unit", "min_value", "max_value"
        )
        if is_percent(kpi.unit) or not ValueRange.of(kpi).is_open
    ]
    percent_ids = [kpi.pk for kpi in kpis if is_percent(kpi.unit)]
    references = dict(
        KpiAssignment.objects.filter(kpi_id__in=percent_ids, target__gt=0)
        .values("kpi_id")
        .annotate(smallest=Min("target"))
        .values_list("kpi_id", "smallest")
    )
    return {kpi.pk: _kpi_range(kpi, references.get(kpi.pk), language) for kpi in kpis}


def _kpi_range(kpi: Kpi, reference: Decimal | None, language: str) -> _KpiRange:
    valid = ValueRange.of(kpi)
    low, high = valid.bounds()
    name = kpi.display_name(language)
    column = None
    if is_percent(kpi.unit):
        column = PercentColumn(name, float(reference) if reference is not None else None)
    return _KpiRange(name, valid, low, high, column)


def _period_message(cell: Any) -> str:
    if _text(cell) == "":
        return _("The period is missing.")
    message = _("“%(value)s” is not a period; write 2026-11, 2026-Q4, 2026 or a date.")
    return message % {"value": _text(cell)[:50]}
