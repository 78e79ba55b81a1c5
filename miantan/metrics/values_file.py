"""Reading a file of KPI values (xlsx or csv) one row at a time.

Nothing here touches the database. This module knows the accepted headers, opens the two file
formats as streams (a file of millions of rows is never held in memory) and turns one cell into
a number or a period. `importing.py` decides what the rows mean for the organisation.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from django.utils.translation import gettext as _

from miantan.core.text import normalise
from miantan.people.org_file import FileError, RowError, header_key, parse_date

from .enums import PeriodKind
from .periods import PeriodLabelError, parse_period_label

__all__ = [
    "HEADERS",
    "FileError",
    "RowError",
    "ValuesFile",
    "number_text",
    "open_values_file",
    "period_key",
]

# Field → (Chinese header, English header, further accepted spellings). Matching ignores case,
# spaces, "_", "-" and ".", as for the organisation file.
HEADERS: dict[str, tuple[str, ...]] = {
    "employee_number": ("工号", "employee number", "员工编号", "员工工号", "employee no"),
    "kpi": ("指标", "kpi", "指标编码", "指标代码", "指标名称", "kpi code", "kpi name"),
    "period": ("期间", "period", "月份", "统计期间", "考核期间", "month"),
    "value": ("实际值", "value", "数值", "完成值", "actual"),
    "target": ("目标值", "target", "目标"),
    "source": ("来源", "source", "数据来源"),
}
REQUIRED_FIELDS = ("employee_number", "kpi", "period", "value")

_ALIASES = {header_key(alias): name for name, aliases in HEADERS.items() for alias in aliases}
# numeric(18, 4): at most 14 digits before the point.
PLAIN_NUMBER = re.compile(r"-?(?:\d{1,14}(?:\.\d*)?|\.\d+)", re.ASCII)
_LIMIT = 10**14
_SNIFF_BYTES = 1 << 16


@dataclass
class ValuesFile:
    """The header of a values file and an iterator over its data rows."""

    columns: dict[str, str]  # field → the header exactly as written in the file
    indexes: dict[str, int]  # field → cell position
    header_row: int
    lines: Iterator[tuple[int, list[Any]]] = field(repr=False)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def column(self, name: str) -> str:
        """The header the user wrote for a field, or the standard one if the file lacks it."""
        if name in self.columns:
            return self.columns[name]
        chinese = any(_is_cjk(header) for header in self.columns.values())
        return HEADERS[name][0] if chinese or not self.columns else HEADERS[name][1]


def open_values_file(stream: IO[bytes], name: str) -> ValuesFile:
    """Open an .xlsx or .csv file and read its header row; the data rows are read lazily.

    Raises FileError when the file is neither format, cannot be opened or has no header.
    """
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix == "xlsx":
        lines = _xlsx_lines(stream)
    elif suffix == "csv":
        lines = _csv_lines(stream)
    else:
        raise FileError(_("Only .xlsx and .csv files can be imported."))
    for number, cells in lines:
        if not _is_blank(cells):
            return _with_header(number, cells, lines)
    raise FileError(_("The file is empty."))


def _with_header(
    number: int, cells: list[Any], lines: Iterator[tuple[int, list[Any]]]
) -> ValuesFile:
    values_file = ValuesFile(columns={}, indexes={}, header_row=number, lines=lines)
    for index, cell in enumerate(cells):
        header = normalise(cell)
        if not header:
            continue
        name = _ALIASES.get(header_key(header))
        if name is None:
            values_file.ignored_columns.append(header)
        elif name in values_file.columns:
            message = _("This column appears twice (also as %(other)s).") % {
                "other": values_file.columns[name]
            }
            values_file.errors.append(RowError(number, header, message))
        else:
            values_file.columns[name] = header
            values_file.indexes[name] = index
    for name in REQUIRED_FIELDS:
        if name not in values_file.columns:
            message = _("This column is required but missing from the header row.")
            values_file.errors.append(RowError(number, values_file.column(name), message))
    return values_file


def _xlsx_lines(stream: IO[bytes]) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileError(_("The file could not be opened as an Excel workbook (.xlsx).")) from error
    return _sheet_rows(workbook)


def _sheet_rows(workbook: Any) -> Iterator[tuple[int, list[Any]]]:
    try:
        sheet = workbook.worksheets[0]
        # Some programs write a wrong sheet size; reading row by row does not need it.
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(values)
    finally:
        workbook.close()


def _csv_lines(stream: IO[bytes]) -> Iterator[tuple[int, list[Any]]]:
    head = stream.read(_SNIFF_BYTES)
    encoding = _encoding(head)
    first_line = head.decode(encoding, errors="replace").split("\n", 1)[0]
    # The header line decides the separator: comma, or semicolon or tab as some exports use.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    return _csv_rows(csv.reader(text, delimiter=delimiter))


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[Any]]]:
    try:
        yield from enumerate(reader, start=1)
    except UnicodeDecodeError as error:
        raise FileError(_("The file is neither UTF-8 nor GB18030 text.")) from error


def _encoding(head: bytes) -> str:
    try:
        # Not final: the sample may end in the middle of a character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError as error:
        raise FileError(_("The file is neither UTF-8 nor GB18030 text.")) from error


def _is_blank(cells: list[Any]) -> bool:
    return all(cell is None or cell == "" or normalise(cell) == "" for cell in cells)


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


# --- cells -----------------------------------------------------------------------------------


def number_text(value: object) -> str:
    """A number cell as plain decimal text for the database: "85%" → "85", "１２３" → "123",
    "1,234.5" → "1234.5". Raises ValueError for anything that is not a number that fits."""
    if type(value) is str and PLAIN_NUMBER.fullmatch(value):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(value)
    if isinstance(value, int | float | Decimal):
        if not math.isfinite(float(value)) or abs(float(value)) >= _LIMIT:
            raise ValueError(value)
        # repr gives the shortest text that reads back as the same float ("0.1", not 0.1000…055).
        if isinstance(value, int):
            return str(value)
        return format(Decimal(repr(value)) if isinstance(value, float) else value, "f")
    clean = normalise(value).replace(",", "").replace(" ", "")
    if clean.endswith("%"):
        clean = clean[:-1]
    if clean.startswith("+"):
        clean = clean[1:]
    if PLAIN_NUMBER.fullmatch(clean):
        return clean
    raise ValueError(value)


def period_key(value: object) -> tuple[str, date]:
    """A period cell as (kind, first day): a label ("2026-11", "2026年第4季度"), or a date
    (a date cell, an Excel serial number, "2026-11-17"), which means the month containing it."""
    if isinstance(value, datetime | date):
        day = value.date() if isinstance(value, datetime) else value
        return PeriodKind.MONTH, day.replace(day=1)
    if isinstance(value, int | float) and not isinstance(value, bool):
        year = float(value)
        # A bare year; larger numbers are Excel serial dates.
        if 1900 <= year <= 2100 and year.is_integer():
            return PeriodKind.YEAR, date(int(year), 1, 1)
    if isinstance(value, str):
        try:
            return parse_period_label(value)
        except PeriodLabelError:
            pass
    found = parse_date(value)
    if found is None:
        raise ValueError(value)
    return PeriodKind.MONTH, found.replace(day=1)
