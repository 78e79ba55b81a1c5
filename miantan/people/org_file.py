"""Reading an organisation file (xlsx or csv) into rows of cells keyed by field.

Nothing here touches the database: this module knows the accepted headers, the two file
formats and how one cell becomes a value (text, date, language, status). `importing.py` decides
what the rows mean for the organisation.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from miantan.core.text import normalise

from .enums import EmploymentStatus, Language

# Field → (Chinese header, English header, further accepted spellings). Matching ignores case,
# spaces, "_", "-" and "." so "Employee_Number" and "employee number" are the same header.
HEADERS: dict[str, tuple[str, ...]] = {
    "employee_number": ("工号", "employee number", "员工编号", "员工工号", "employee no"),
    "name": ("姓名", "name", "员工姓名"),
    "department": ("部门", "department", "部门名称", "department name"),
    "department_code": ("部门编码", "department code", "部门代码"),
    "parent_department": ("上级部门", "parent department"),
    "manager_number": ("上级工号", "manager number", "直属上级工号", "manager employee number"),
    "position": ("岗位", "position", "职位"),
    "hire_date": ("入职日期", "hire date"),
    "email": ("邮箱", "email", "电子邮箱", "e-mail"),
    "language": ("语言", "language"),
    "status": ("状态", "status", "在职状态"),
}
REQUIRED_FIELDS = ("employee_number", "name")
MAX_ROWS = 50_000

_LANGUAGES = {
    **dict.fromkeys(
        ("zhhans", "zh", "zhcn", "中文", "简体中文", "汉语", "chinese"), Language.ZH_HANS
    ),
    **dict.fromkeys(("en", "english", "英文", "英语"), Language.EN),
}
_STATUSES = {
    **dict.fromkeys(("在职", "在岗", "active"), EmploymentStatus.ACTIVE),
    **dict.fromkeys(("离职", "已离职", "left"), EmploymentStatus.LEFT),
}
_DATE_TEXT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{1,5}(?:\.\d+)?$")
# Excel counts days from 1899-12-30 (its 1900 leap-year bug makes the base one day early).
_EXCEL_EPOCH = date(1899, 12, 30)


class FileError(Exception):
    """The file as a whole cannot be read; `message` is already translated."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowError:
    row: int | None  # as the spreadsheet shows it, header = 1; None for the file as a whole
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class FileRow:
    number: int
    cells: dict[str, Any]


@dataclass
class OrgFile:
    columns: dict[str, str]  # field → the header exactly as written in the file
    rows: list[FileRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    indexes: dict[str, int] = field(default_factory=dict, repr=False)  # field → cell position

    def has(self, name: str) -> bool:
        return name in self.columns

    def column(self, name: str) -> str:
        """The header the user wrote for a field, or the standard one if the file lacks it."""
        if name in self.columns:
            return self.columns[name]
        chinese = any(_is_cjk(header) for header in self.columns.values())
        return HEADERS[name][0] if chinese or not self.columns else HEADERS[name][1]


def read_org_file(stream: IO[bytes], name: str) -> OrgFile:
    """Read an .xlsx or .csv file. Raises FileError when it is neither or cannot be opened."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix == "xlsx":
        return _from_lines(_xlsx_lines(stream))
    if suffix == "csv":
        return _from_lines(_csv_lines(stream.read()))
    raise FileError(_("Only .xlsx and .csv files can be imported."))


def header_key(header: object) -> str:
    return re.sub(r"[\s_.\-:：]+", "", normalise(header).lower())


_ALIASES = {header_key(alias): name for name, aliases in HEADERS.items() for alias in aliases}


def _from_lines(lines: Iterable[tuple[int, list[Any]]]) -> OrgFile:
    iterator = iter(lines)
    for number, cells in iterator:
        if not _is_blank(cells):
            org_file = _with_header(number, cells)
            break
    else:
        raise FileError(_("The file is empty."))
    for number, cells in iterator:
        if _is_blank(cells):
            continue
        if len(org_file.rows) >= MAX_ROWS:
            raise FileError(_("The file has more than %(limit)s rows.") % {"limit": MAX_ROWS})
        org_file.rows.append(FileRow(number, _cells_by_field(cells, org_file.indexes)))
    if not org_file.rows and not org_file.errors:
        org_file.errors.append(RowError(None, "", _("The file has no rows below the header.")))
    return org_file


def _with_header(number: int, cells: list[Any]) -> OrgFile:
    columns: dict[str, str] = {}
    ignored: list[str] = []
    errors: list[RowError] = []
    indexes: dict[str, int] = {}
    for index, cell in enumerate(cells):
        header = normalise(cell)
        if not header:
            continue
        name = _ALIASES.get(header_key(header))
        if name is None:
            ignored.append(header)
        elif name in columns:
            message = _("This column appears twice (also as %(other)s).") % {"other": columns[name]}
            errors.append(RowError(number, header, message))
        else:
            columns[name] = header
            indexes[name] = index
    org_file = OrgFile(columns=columns, errors=errors, ignored_columns=ignored, indexes=indexes)
    missing = [name for name in REQUIRED_FIELDS if name not in columns]
    if "department" not in columns and "department_code" not in columns:
        missing.append("department")
    for name in missing:
        message = _("This column is required but missing from the header row.")
        org_file.errors.append(RowError(number, org_file.column(name), message))
    return org_file


def _cells_by_field(cells: list[Any], indexes: dict[str, int]) -> dict[str, Any]:
    return {name: cells[at] if at < len(cells) else None for name, at in indexes.items()}


def _xlsx_lines(stream: IO[bytes]) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileError(_("The file could not be opened as an Excel workbook (.xlsx).")) from error
    try:
        sheet = workbook.worksheets[0]
        # Some programs write a wrong sheet size; reading row by row does not need it.
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(values)
    finally:
        workbook.close()


def _csv_lines(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            decoded = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FileError(_("The file is neither UTF-8 nor GB18030 text."))
    # The header line decides the separator: comma, or semicolon or tab as some exports use.
    first_line = decoded.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    yield from enumerate(csv.reader(io.StringIO(decoded, newline=""), delimiter=delimiter), start=1)


def _is_blank(cells: list[Any]) -> bool:
    return all(normalise(cell) == "" for cell in cells)


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


# --- cells -----------------------------------------------------------------------------------


def text(value: object) -> str:
    """A cell as text; whole numbers lose the ".0" a spreadsheet gives them."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, datetime | date):
        value = value.isoformat()
    return normalise(value)


def parse_date(value: object) -> date | None:
    """Dates as Excel stores them (date cells, serial numbers) or as people type them."""
    if value is None or (isinstance(value, str) and not normalise(value)):
        return None
    if isinstance(value, datetime):
        return _plausible(value.date(), value)
    if isinstance(value, date):
        return _plausible(value, value)
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return _from_number(float(value))
    typed = normalise(value)
    match = _DATE_TEXT.match(typed) or _DATE_COMPACT.match(typed)
    if match:
        year, month, day = (int(part) for part in match.groups())
        return _plausible(date(year, month, day), value)
    if _SERIAL.match(typed):
        return _from_number(float(typed))
    raise ValueError(value)


def _from_number(number: float) -> date:
    if number.is_integer() and 19000101 <= number <= 21001231:
        digits = str(int(number))
        return _plausible(date(int(digits[:4]), int(digits[4:6]), int(digits[6:])), number)
    if 1 <= number < 100_000:
        return _plausible(_EXCEL_EPOCH + timedelta(days=int(number)), number)
    raise ValueError(number)


def _plausible(value: date, original: object) -> date:
    if not 1900 <= value.year <= 2100:
        raise ValueError(original)
    return value


def parse_language(value: object) -> str | None:
    key = header_key(value)
    if not key:
        return None
    if key not in _LANGUAGES:
        raise ValueError(value)
    return _LANGUAGES[key]


def parse_status(value: object) -> str | None:
    key = header_key(value)
    if not key:
        return None
    if key not in _STATUSES:
        raise ValueError(value)
    return _STATUSES[key]


def parse_email(value: object) -> str:
    email = text(value)
    if email:
        try:
            validate_email(email)
        except ValidationError as error:
            raise ValueError(value) from error
    return email
