"""Reading the spreadsheets people upload (xlsx or csv) as they really keep them.

One reader for the organisation, KPI and roster imports. Each import describes its columns in
a `Layout`: field → accepted headers (Chinese and English), the required fields, and the key
field that identifies a row (the employee number). `open_sheet` then

- finds the header row itself among the first rows, by scoring each row against the layout's
  headers: title rows ("2026年第三季度 心内科 绩效数据", merged across the columns), blank rows
  and notes above it are skipped and listed;
- streams the data rows below it with their real row numbers, leaving out blank rows, the
  header repeated on each printed page and, after the data, notes and signature lines
  ("制表人：…", "备注：…", "合计"), which are listed as ignored, never reported as errors; a row
  that looks like data (its employee number, or two of the known columns, filled) is data,
  and is checked as such wherever it stands;
- reads CSV in UTF-8 (with or without a byte order mark), UTF-16 with a byte order mark, or
  GB18030, which covers GBK (what Excel in China saves), separated by commas, semicolons or tabs;
- refuses a file beyond its `Limits` (rows, blank ones included; columns; characters in a cell;
  unpacked size) before and while reading, with a message that names the limit. The workbook
  side is `xlsx.py`.

Nothing here touches the database.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from django.utils.translation import gettext as _

from .text import normalise

__all__ = [
    "HEADER_SEARCH_ROWS",
    "FileError",
    "Layout",
    "Limits",
    "Note",
    "RowError",
    "Sheet",
    "SheetHeader",
    "header_key",
    "is_percent_format",
    "open_sheet",
    "rows_not_read",
]

# The header row is looked for among this many non-blank rows at the top of the sheet.
HEADER_SEARCH_ROWS = 30
# Note-like rows held back to see whether data follows them; past this many, they are data.
_MAX_TRAILING_NOTES = 1_000
_MB = 1 << 20
_SCAN_BYTES = _MB
_NOTE_TEXT = 200
_KEY_LENGTH = 50

# Rows that start so are notes, totals or signature lines, not data.
_NOTE_WORDS = (
    r"\s*(?:制表|填表|编制|制单|审核|复核|审批|批准|签字|签名|签章|盖章|备注|附注|说明|注意|"
    r"注\s*[:：\d]|合计|总计|小计|共计|汇总|负责人|统计人|经办人|打印|"
    r"(?:prepared|checked|approved|reviewed|printed)\s+by|notes?\b|remarks?\b|total\b|"
    r"subtotal\b|grand\s+total\b|signature\b|sum\b)"
)
_NOTE_START = re.compile(_NOTE_WORDS, re.IGNORECASE)
# The characters a note word can start with: only cells starting so need the pattern above.
_NOTE_FIRST = frozenset("制填编审复批签盖备附说注合总小共汇负统经打pcarntsgPCARNTSG \t\u3000")
# A sentence or a "label: value" pair is not an employee number.
_SENTENCE = re.compile(r"[:：。；;，]")
# Template markers around a header: "工号*", "姓名（必填）".
_HEADER_MARKERS = re.compile(r"\*|\((?:必填|选填|可选|必须|required|optional)\)")


class FileError(Exception):
    """The file as a whole cannot be read; `message` is already translated."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowError:
    row: int | None  # as the spreadsheet shows it; None for the file as a whole
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class Note:
    """A row that is not data: a title above the header, a note or signature line below."""

    row: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "text": self.text}


@dataclass(frozen=True)
class Limits:
    """What a file may hold. The defaults are Excel's own limits where Excel has one."""

    sheet_rows: int = 1_048_576  # rows of a worksheet, blank rows included
    csv_lines: int = 1_048_576
    columns: int = 1_024
    cell_chars: int = 32_767
    sheet_mb: int = 200  # a worksheet's XML, unpacked
    ratio: int = 100  # unpacked size ÷ packed size of a large workbook part
    line_mb: int = 1  # one line of a CSV file


@dataclass(frozen=True)
class Layout:
    """The columns of one kind of file: field → accepted headers (the Chinese one first, then
    the English one, then other spellings), the fields that must be there (a tuple inside means
    "one of these"), and the field that identifies a row. `percent`, when given, wraps a number
    that a workbook formats as a percentage (it holds 0.92 and shows 92 %)."""

    headers: Mapping[str, tuple[str, ...]]
    required: tuple[str | tuple[str, ...], ...]
    key: str
    limits: Limits = field(default_factory=Limits)
    percent: Callable[[int | float], Any] | None = None
    aliases: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        aliases = {
            header_key(alias): name
            for name, spellings in self.headers.items()
            for alias in spellings
        }
        object.__setattr__(self, "aliases", aliases)

    def field_of(self, header: object) -> str | None:
        key = header_key(header)
        return self.aliases.get(key) or self.aliases.get(_HEADER_MARKERS.sub("", key))


def header_key(header: object) -> str:
    """What is compared when matching names: case, spaces, "_", "-", "." and colons ignored."""
    return re.sub(r"[\s_.\-:：]+", "", normalise(header).lower())


@dataclass
class Sheet:
    """An opened file: its header and, through `rows()`, its data rows (read once, lazily)."""

    layout: Layout
    header_row: int
    columns: dict[str, str] = field(default_factory=dict)  # field → the header as written
    indexes: dict[str, int] = field(default_factory=dict)  # field → cell position
    errors: list[RowError] = field(default_factory=list)  # problems of the header row
    ignored_columns: list[str] = field(default_factory=list)
    skipped: list[Note] = field(default_factory=list)  # rows above the header
    notes: list[Note] = field(default_factory=list)  # rows after the data; complete after rows()
    repeated_headers: list[int] = field(default_factory=list)
    lines: Iterator[tuple[int, list[Any]]] = field(default_factory=lambda: iter(()), repr=False)

    def column(self, name: str) -> str:
        """The header the user wrote for a field, or the standard one if the file lacks it."""
        if name in self.columns:
            return self.columns[name]
        chinese = any(_is_cjk(header) for header in self.columns.values())
        spellings = self.layout.headers[name]
        return spellings[0] if chinese or not self.columns else spellings[1]

    def cells(self, cells: list[Any]) -> dict[str, Any]:
        """One row's cells by field; a column the row does not reach is None."""
        return {name: cells[at] if at < len(cells) else None for name, at in self.indexes.items()}

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(row number, cells) of each data row. Note-like rows are held back until the next
        data row shows they stand inside the data (then they are data); those still held at the
        end are the notes after the data."""
        classify = _Classifier(self)
        # The common row, checked here without a call: a plain employee number first.
        first_is_key, key_header = classify.key_at == 0, classify.key_header
        held: deque[tuple[int, list[Any]]] = deque()
        for number, cells in self.lines:
            key = cells[0] if first_is_key and cells else None
            if (
                type(key) is str
                and key.isalnum()
                and len(key) <= _KEY_LENGTH
                and key[0] not in _NOTE_FIRST
                and key != key_header
            ):
                kind = _DATA
            else:
                kind = classify(cells)
            if kind is _DATA:
                if held:
                    yield from held
                    held.clear()
                yield number, cells
            elif kind is _NOTE:
                held.append((number, cells))
                if len(held) > _MAX_TRAILING_NOTES:
                    yield held.popleft()
            elif kind is _HEADER:
                self.repeated_headers.append(number)
        self.notes.extend(Note(number, note_text(cells)) for number, cells in held)


class SheetHeader:
    """What an import's file object tells about the header of the `sheet` it was read from:
    where the header stands, the columns it names, and the rows around the data not read."""

    sheet: Sheet

    @property
    def columns(self) -> dict[str, str]:
        """Field → the header exactly as written in the file."""
        return self.sheet.columns

    @property
    def header_row(self) -> int:
        return self.sheet.header_row

    @property
    def ignored_columns(self) -> list[str]:
        return self.sheet.ignored_columns

    @property
    def skipped(self) -> list[Note]:
        """Rows above the header: titles, blank-looking lines, notes."""
        return self.sheet.skipped

    @property
    def notes(self) -> list[Note]:
        """Rows after the data that are not data (notes, signatures, totals); complete once
        the data rows are read."""
        return self.sheet.notes

    def column(self, name: str) -> str:
        """The header the user wrote for a field, or the standard one if the file lacks it."""
        return self.sheet.column(name)


def open_sheet(stream: IO[bytes], name: str, layout: Layout) -> Sheet:
    """Open an .xlsx (its first worksheet) or .csv file and find its header row.

    Raises FileError when the file is neither, cannot be read, is empty or goes beyond the
    layout's limits. Problems of the header (a required column missing, a column twice) are in
    `errors`; the data rows are read lazily through `rows()`.
    """
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix == "xlsx":
        from .xlsx import read_xlsx

        lines = read_xlsx(stream, layout.limits, percent=layout.percent)
    elif suffix == "csv":
        lines = _csv_lines(stream, layout.limits)
    else:
        raise FileError(_("Only .xlsx and .csv files can be imported."))
    top: list[tuple[int, list[Any]]] = []
    for number, cells in lines:
        if not is_blank(cells):
            top.append((number, cells))
            if len(top) == HEADER_SEARCH_ROWS:
                break
    if not top:
        raise FileError(_("The file is empty."))
    at = _header_position(top, layout)
    sheet = _with_header(layout, *top[at])
    sheet.skipped = [Note(number, note_text(cells)) for number, cells in top[:at]]
    sheet.lines = itertools.chain(top[at + 1 :], lines)
    return sheet


def rows_not_read(header_row: int | None, above: list[Any], after: list[Any]) -> list[str]:
    """Lines for the command line: where the header is, which rows were left out. `above` and
    `after` hold Notes or their dictionaries (as a report keeps them)."""
    lines = []
    if above:
        message = _("The column names are in row %(row)s; the rows above it were skipped.")
        lines.append(message % {"row": header_row})
    for note in after:
        row, text = (note["row"], note["text"]) if isinstance(note, dict) else (note.row, note.text)
        message = _("Row %(row)s is not data and was left out: %(text)s")
        lines.append(message % {"row": row, "text": text})
    return lines


# --- the header ------------------------------------------------------------------------------


def _header_position(top: list[tuple[int, list[Any]]], layout: Layout) -> int:
    """The row that names the most of the layout's required fields, then of all its fields;
    the first such row. Without any known header at all, the first row."""
    best, best_score = 0, (0, 0)
    for position, (_number, cells) in enumerate(top):
        fields = {layout.field_of(cell) for cell in cells if isinstance(cell, str)}
        fields.discard(None)
        required = sum(
            1
            for need in layout.required
            if (need in fields if isinstance(need, str) else any(n in fields for n in need))
        )
        score = (required, len(fields))
        if score > best_score:
            best, best_score = position, score
    return best


def _with_header(layout: Layout, number: int, cells: list[Any]) -> Sheet:
    sheet = Sheet(layout=layout, header_row=number)
    for index, cell in enumerate(cells):
        header = normalise(cell)
        if not header:
            continue
        name = layout.field_of(header)
        if name is None:
            sheet.ignored_columns.append(header)
        elif name in sheet.columns:
            message = _("This column appears twice (also as %(other)s).") % {
                "other": sheet.columns[name]
            }
            sheet.errors.append(RowError(number, header, message))
        else:
            sheet.columns[name] = header
            sheet.indexes[name] = index
    for need in layout.required:
        group = (need,) if isinstance(need, str) else need
        if not any(name in sheet.columns for name in group):
            message = _("This column is required but missing from the header row.")
            sheet.errors.append(RowError(number, sheet.column(group[0]), message))
    return sheet


# --- telling data from notes -------------------------------------------------------------------

_DATA, _NOTE, _BLANK, _HEADER = "data", "note", "blank", "header"


class _Classifier:
    """Data, note, blank or the header again, for one row; the common case costs little: a
    filled key cell that reads as an employee number, with no note word before it."""

    def __init__(self, sheet: Sheet) -> None:
        self.key_at = sheet.indexes.get(sheet.layout.key, -1)
        self.key_header = sheet.columns.get(sheet.layout.key)
        self.header = {sheet.indexes[name]: header for name, header in sheet.columns.items()}
        self.others = [at for name, at in sheet.indexes.items() if name != sheet.layout.key]

    def __call__(self, cells: list[Any]) -> str:
        at = self.key_at
        if 0 <= at < len(cells):
            key = cells[at]
            kind = type(key)
            if kind is str:
                if _reads_as_key_text(key):
                    if key == self.key_header and self._repeats_header(cells):
                        return _HEADER
                    if at == 0 or not self._note_before(cells, at):
                        return _DATA
            elif (kind is int or kind is float) and (at == 0 or not self._note_before(cells, at)):
                return _DATA
        return self._slow(cells)

    def _note_before(self, cells: list[Any], at: int) -> bool:
        for cell in cells[:at]:
            if isinstance(cell, str) and cell.strip():
                return bool(_NOTE_START.match(cell))
            if cell is not None and cell != "":
                return False
        return False

    def _repeats_header(self, cells: list[Any]) -> bool:
        return all(
            at < len(cells) and normalise(cells[at]) == header for at, header in self.header.items()
        )

    def _slow(self, cells: list[Any]) -> str:
        first = next((cell for cell in cells if not _blank_cell(cell)), None)
        if first is None:
            return _BLANK
        if isinstance(first, str) and _NOTE_START.match(first):
            return _NOTE
        key = cells[self.key_at] if 0 <= self.key_at < len(cells) else None
        if not _blank_cell(key) and _reads_as_key(key):
            return _DATA
        filled = sum(1 for at in self.others if at < len(cells) and not _blank_cell(cells[at]))
        return _DATA if filled >= 2 else _NOTE


def _reads_as_key(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return _reads_as_key_text(normalise(value))


def _reads_as_key_text(text: str) -> bool:
    """Could be an employee number: short, no sentence, no note word. Letters and digits alone
    (nearly every employee number) skip the pattern searches."""
    if not text or len(text) > _KEY_LENGTH:
        return False
    if not text.isalnum() and (text.isspace() or _SENTENCE.search(text)):
        return False
    return text[0] not in _NOTE_FIRST or not _NOTE_START.match(text)


def _blank_cell(cell: Any) -> bool:
    return cell is None or (type(cell) is str and not cell.strip())


def is_blank(cells: list[Any]) -> bool:
    return all(cell is None or (type(cell) is str and not cell.strip()) for cell in cells)


def note_text(cells: list[Any]) -> str:
    """A row shown as one line of text, as written: its non-blank cells, spaced."""
    text = " ".join(_shown(cell) for cell in cells if not _blank_cell(cell))
    return text if len(text) <= _NOTE_TEXT else f"{text[: _NOTE_TEXT - 1]}…"


def is_percent_format(number_format: str | None) -> bool:
    """Whether an Excel number format shows its number as a percentage (multiplied by 100).
    A "%" in quotes or after a backslash is printed as it is and multiplies nothing."""
    if not number_format or "%" not in number_format:
        return False
    return "%" in re.sub(r'"[^"]*"|\\.', "", number_format)


def _shown(cell: Any) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, date | datetime):
        return cell.isoformat()
    return str(cell).strip()


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


# --- CSV -----------------------------------------------------------------------------------------


def _csv_lines(stream: IO[bytes], limits: Limits) -> Iterator[tuple[int, list[Any]]]:
    """The rows of a CSV file, numbered from 1. One pass over the bytes first settles the
    encoding and refuses too many lines or too long a line, so that reading stays small."""
    encoding, longest = _scan(stream, limits)
    stream.seek(0)
    sample = stream.read(_SCAN_BYTES).decode(encoding, errors="replace")
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=_delimiter(sample))
    # A row has at most as many cells, and a cell as many characters, as its line has bytes.
    check = longest > limits.cell_chars or longest >= limits.columns
    try:
        if not check:
            yield from enumerate(reader, start=1)
            return
        for number, row in enumerate(reader, start=1):
            if len(row) > limits.columns:
                message = _("Row %(row)s has more than %(limit)s columns.")
                raise FileError(message % {"row": number, "limit": f"{limits.columns:,}"})
            if any(len(cell) > limits.cell_chars for cell in row):
                raise _cell_too_long(number, limits)
            yield number, row
    except UnicodeDecodeError as error:
        raise FileError(_("The file is neither UTF-8 nor GB18030 text.")) from error
    except csv.Error as error:
        raise _cell_too_long(reader.line_num, limits) from error
    finally:
        # The caller owns the stream: do not let the wrapper close it.
        text.detach()


def _cell_too_long(row: int, limits: Limits) -> FileError:
    message = _(
        "A cell in row %(row)s holds more than %(limit)s characters, the most Excel allows in "
        "one cell."
    )
    return FileError(message % {"row": row, "limit": f"{limits.cell_chars:,}"})


def _scan(stream: IO[bytes], limits: Limits) -> tuple[str, int]:
    """(encoding, longest line in bytes), from one pass over the file."""
    head = stream.read(4)
    stream.seek(0)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates: tuple[str, ...] = ("utf-16",)
    else:
        candidates = ("utf-8-sig", "gb18030")
    for encoding in candidates:
        try:
            longest = _scan_as(stream, encoding, limits)
        except UnicodeDecodeError:
            stream.seek(0)
            continue
        return encoding, longest
    raise FileError(_("The file is neither UTF-8 nor GB18030 text."))


def _scan_as(stream: IO[bytes], encoding: str, limits: Limits) -> int:
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = longest = current = 0
    max_line = limits.line_mb * _MB
    while chunk := stream.read(_SCAN_BYTES):
        decoder.decode(chunk)
        lines += chunk.count(b"\n")
        if lines > limits.csv_lines:
            message = _("The file has more than %(limit)s lines, blank lines included.")
            raise FileError(message % {"limit": f"{limits.csv_lines:,}"})
        pieces = chunk.split(b"\n")
        if len(pieces) == 1:
            current += len(chunk)
        else:
            longest = max(longest, current + len(pieces[0]), *map(len, pieces[1:-1]))
            current = len(pieces[-1])
        if max(longest, current) > max_line:
            message = _("Line %(row)s is longer than %(limit)s MB.")
            raise FileError(message % {"row": lines + 1, "limit": limits.line_mb})
    decoder.decode(b"", final=True)
    return max(longest, current)


def _delimiter(sample: str) -> str:
    """Comma, or semicolon or tab as some exports use: whichever the first lines use most."""
    top = "\n".join(sample.splitlines()[:HEADER_SEARCH_ROWS])
    return max((",", ";", "\t"), key=top.count)
