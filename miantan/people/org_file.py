"""Reading an organisation file (xlsx or csv) into rows of cells keyed by field.

Nothing here touches the database: this module knows the accepted headers and how one cell
becomes a value (text, date, language, status); `miantan.core.spreadsheets` finds the header
row and reads either format. `importing.py` decides what the rows mean for the organisation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from miantan.core.spreadsheets import (
    FileError,
    Layout,
    RowError,
    Sheet,
    SheetHeader,
    header_key,
    open_sheet,
)
from miantan.core.text import normalise

from .enums import EmploymentStatus, Language

__all__ = [
    "HEADERS",
    "LAYOUT",
    "FileError",
    "FileRow",
    "OrgFile",
    "RowError",
    "header_key",
    "parse_date",
    "parse_email",
    "parse_language",
    "parse_status",
    "read_org_file",
    "text",
]

# Field → (Chinese header, English header, further accepted spellings, as HR systems and
# rosters (花名册) write them). Matching ignores case, spaces, "_", "-", "." and markers such as
# "*" or "（必填）", so "Employee_Number" and "工号*" are the headers they look like.
HEADERS: dict[str, tuple[str, ...]] = {
    "employee_number": (
        "工号",
        "employee number",
        "员工编号",
        "员工工号",
        "职工号",
        "员工号",
        "人员编号",
        "employee no",
        "employee id",
    ),
    "name": ("姓名", "name", "员工姓名", "full name"),
    "department": (
        "部门",
        "department",
        "部门名称",
        "所属部门",
        "所在部门",
        "科室",
        "所属科室",
        "department name",
    ),
    "department_code": ("部门编码", "department code", "部门代码", "部门编号", "科室编码"),
    "parent_department": ("上级部门", "parent department"),
    "manager_number": (
        "上级工号",
        "manager number",
        "直属上级工号",
        "直接上级工号",
        "汇报对象工号",
        "manager employee number",
        "manager no",
        "manager id",
    ),
    "manager_name": (
        "直属上级",
        "manager",
        "直接上级",
        "上级",
        "上级姓名",
        "直属上级姓名",
        "直属领导",
        "汇报对象",
        "manager name",
        "reports to",
    ),
    "position": ("岗位", "position", "职位", "职务", "岗位名称", "job title"),
    "hire_date": ("入职日期", "hire date", "入职时间", "到岗日期", "start date"),
    "email": ("邮箱", "email", "电子邮箱", "e-mail", "邮件地址", "电子邮件"),
    "language": ("语言", "language"),
    "status": ("状态", "status", "在职状态", "员工状态"),
}
REQUIRED_FIELDS = ("employee_number", "name")
LAYOUT = Layout(
    HEADERS, (*REQUIRED_FIELDS, ("department", "department_code")), key="employee_number"
)
MAX_ROWS = 50_000

_LANGUAGES = {
    **dict.fromkeys(
        ("zhhans", "zh", "zhcn", "中文", "简体中文", "汉语", "chinese"), Language.ZH_HANS
    ),
    **dict.fromkeys(("en", "english", "英文", "英语"), Language.EN),
}
_STATUSES = {
    **dict.fromkeys(("在职", "在岗", "试用", "试用期", "active"), EmploymentStatus.ACTIVE),
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


@dataclass(frozen=True)
class FileRow:
    number: int
    cells: dict[str, Any]


@dataclass
class OrgFile(SheetHeader):
    """The header of an organisation file (where it was found, what it names) and its rows."""

    sheet: Sheet = field(repr=False)
    rows: list[FileRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.sheet.columns


def read_org_file(stream: IO[bytes], name: str) -> OrgFile:
    """Read an .xlsx or .csv file. Raises FileError when it is neither, cannot be opened or
    goes beyond the limits."""
    sheet = open_sheet(stream, name, LAYOUT)
    org_file = OrgFile(sheet=sheet, errors=list(sheet.errors))
    for number, cells in sheet.rows():
        if len(org_file.rows) >= MAX_ROWS:
            raise FileError(_("The file has more than %(limit)s rows.") % {"limit": MAX_ROWS})
        org_file.rows.append(FileRow(number, sheet.cells(cells)))
    if not org_file.rows and not org_file.errors:
        org_file.errors.append(RowError(None, "", _("The file has no rows below the header.")))
    return org_file


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
