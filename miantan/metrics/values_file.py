"""Reading a file of KPI values (xlsx or csv) one row at a time.

Nothing here touches the database. This module knows the accepted headers and turns one cell
into a number or a period; `miantan.core.spreadsheets` finds the header row and streams the
rows of either format (a file of millions of rows is never held in memory). `importing.py`
decides what the rows mean for the organisation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from miantan.core.spreadsheets import (
    FileError,
    Layout,
    Limits,
    RowError,
    Sheet,
    SheetHeader,
    is_percent_format,
    open_sheet,
)
from miantan.core.text import normalise
from miantan.people.org_file import parse_date

from .enums import PeriodKind
from .periods import PeriodLabelError, parse_period_label

__all__ = [
    "HEADERS",
    "LAYOUT",
    "FileError",
    "PercentCell",
    "RowError",
    "ValuesFile",
    "is_percent_format",
    "number_text",
    "open_values_file",
    "period_key",
    "read_number",
]

# Field → (Chinese header, English header, further accepted spellings). Matching ignores case,
# spaces, "_", "-" and ".", as for the organisation file.
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
    "kpi": (
        "指标",
        "kpi",
        "指标编码",
        "指标代码",
        "指标名称",
        "考核指标",
        "kpi code",
        "kpi name",
    ),
    "period": ("期间", "period", "月份", "统计期间", "考核期间", "统计月份", "考核月份", "month"),
    "value": ("实际值", "value", "数值", "完成值", "实际完成", "actual"),
    "target": ("目标值", "target", "目标"),
    "source": ("来源", "source", "数据来源"),
}
REQUIRED_FIELDS = ("employee_number", "kpi", "period", "value")

# numeric(18, 4): at most 14 digits before the point.
PLAIN_NUMBER = re.compile(r"-?(?:\d{1,14}(?:\.\d*)?|\.\d+)", re.ASCII)
_LIMIT = 10**14
# A KPI file may run to millions of rows: CSV lines and a worksheet's unpacked size go further
# than for the other imports (rows of a worksheet stop at Excel's own limit all the same).
LAYOUT = Layout(
    HEADERS,
    REQUIRED_FIELDS,
    key="employee_number",
    limits=Limits(csv_lines=100_000_000, sheet_mb=1024),
    percent=lambda fraction: PercentCell(fraction),
)


@dataclass
class ValuesFile(SheetHeader):
    """The header of a values file and an iterator over its data rows."""

    sheet: Sheet = field(repr=False)
    lines: Iterator[tuple[int, list[Any]]] = field(repr=False)

    @property
    def indexes(self) -> dict[str, int]:
        return self.sheet.indexes

    @property
    def errors(self) -> list[RowError]:
        return self.sheet.errors


def open_values_file(stream: IO[bytes], name: str) -> ValuesFile:
    """Open an .xlsx or .csv file and find its header row; the data rows are read lazily.

    Raises FileError when the file is neither format, cannot be opened, has no header or goes
    beyond the limits.
    """
    sheet = open_sheet(stream, name, LAYOUT)
    return ValuesFile(sheet=sheet, lines=sheet.rows())


# --- cells -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PercentCell:
    """A number cell that Excel formats as a percentage: it holds 0.92 and shows 92 %."""

    fraction: int | float

    def __str__(self) -> str:
        try:
            return f"{_scaled(self.fraction)}%"
        except ValueError:
            return str(self.fraction)


def read_number(value: object) -> tuple[str, bool]:
    """A number cell as plain decimal text, and whether it was written as a per cent: "85%"
    and an Excel percentage cell holding 0.85 are both ("85", True); 0.85 is ("0.85", False).
    Raises ValueError for anything that is not a number that fits."""
    if type(value) is PercentCell:
        return _scaled(value.fraction), True
    if type(value) is str and not PLAIN_NUMBER.fullmatch(value):
        text = normalise(value)
        return number_text(text), text.endswith("%")
    return number_text(value), False


def _scaled(fraction: int | float) -> str:
    # repr: the shortest text that reads back as the same float, so 0.07 gives 7, not 7.000…1.
    number = Decimal(repr(fraction) if isinstance(fraction, float) else fraction) * 100
    text = number_text(number)
    return text.rstrip("0").rstrip(".") if "." in text else text


def number_text(value: object) -> str:
    """A number cell as plain decimal text for the database: "85%" → "85", "１２３" → "123",
    "1,234.5" → "1234.5". Raises ValueError for anything that is not a number that fits."""
    if type(value) is str and PLAIN_NUMBER.fullmatch(value):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(value)
    if type(value) is PercentCell:
        return _scaled(value.fraction)
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
