"""The first worksheet of an .xlsx workbook as a stream of rows, read within limits.

A workbook is a zip of XML parts, and a few hundred kilobytes can unpack to gigabytes: millions
of empty rows, one enormous cell. Nothing in the file is trusted. Before any part is unpacked,
the zip directory is checked (its size, the number of parts, each part's unpacked size and
compression ratio); before the rows, the sheet's declared size (`<dimension>`); while the XML
streams through expat in small pieces, the row count (blank rows included), the columns and
each cell's length. No part is ever held whole and a cell is refused as soon as it grows past
the limit, so memory stays small whatever the file holds, and a refusal comes within moments.

Values come out as openpyxl's read-only mode gives them with `values_only` and `data_only`:
text, int, float, bool, datetime for numbers with a date format, None for an empty cell; a
merged range's value sits in its top-left cell.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any
from xml.parsers import expat

from django.utils.translation import gettext as _
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel, from_ISO8601

from .spreadsheets import FileError, Limits, is_percent_format

__all__ = ["read_xlsx"]

_CHUNK = 1 << 16
_MB = 1 << 20
# The zip directory itself: about 80 bytes a part, so this allows some 25,000 parts.
_MAX_DIRECTORY_BYTES = 2 * _MB
_MAX_PARTS = 10_000
# Small parts compress as they like; the ratio is only checked above this size.
_RATIO_FROM_BYTES = _MB
# Bytes fed to the parser without a single event: one tag or attribute larger than this.
_MAX_SILENT_BYTES = 8 * _MB
_MAX_META_BYTES = 10 * _MB  # workbook.xml, the relationship parts
_MAX_STYLES_BYTES = 20 * _MB
# Shared strings are held in memory while the sheet is read: so many texts, so many characters.
_MAX_SHARED_STRINGS = 1_000_000
_MAX_SHARED_CHARACTERS = 32_000_000
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_DIGITS = "0123456789"


def read_xlsx(
    stream: IO[bytes], limits: Limits, *, percent: Callable[[int | float], Any] | None = None
) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) for each row the first worksheet stores; rows it leaves out are blank.

    A number in a cell formatted as a percentage (it holds 0.92 and shows 92 %) comes out as
    `percent(0.92)` when `percent` is given. Raises FileError when the file is no workbook or
    goes beyond `limits`.
    """
    _check_directory(stream)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise _unreadable() from error
    try:
        if len(archive.infolist()) > _MAX_PARTS:
            raise FileError(
                _("The workbook has more than %(limit)s parts.") % {"limit": _MAX_PARTS}
            )
        yield from _Workbook(archive, limits, percent).rows()
    except (zipfile.BadZipFile, zlib.error, expat.ExpatError, EOFError, RuntimeError) as error:
        raise _unreadable() from error
    finally:
        archive.close()


def _unreadable() -> FileError:
    return FileError(_("The file could not be opened as an Excel workbook (.xlsx)."))


def _check_directory(stream: IO[bytes]) -> None:
    """Refuse a zip whose directory alone would take much memory, before zipfile reads it."""
    head = stream.read(8)
    if head == _OLE_MAGIC:
        message = _(
            "The file is an old .xls workbook or is protected with a password; save it in "
            "Excel as an .xlsx workbook without a password."
        )
        raise FileError(message)
    size = stream.seek(0, 2)
    tail_size = min(size, 22 + 65_535 + 20)
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    stream.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise _unreadable()
    directory_bytes = struct.unpack("<I", tail[at + 12 : at + 16])[0]
    locator = at - 20
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        # ZIP64: the real directory size is in a record the locator points to.
        record_at = struct.unpack("<Q", tail[locator + 8 : locator + 16])[0]
        if record_at + 56 > size:
            raise _unreadable()
        stream.seek(record_at)
        record = stream.read(56)
        stream.seek(0)
        if record[:4] != b"PK\x06\x06":
            raise _unreadable()
        directory_bytes = struct.unpack("<Q", record[40:48])[0]
    if directory_bytes > _MAX_DIRECTORY_BYTES:
        raise FileError(_("The workbook has more than %(limit)s parts.") % {"limit": _MAX_PARTS})


class _Workbook:
    """The parts of one workbook: where its first sheet is, its shared strings, date styles."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        limits: Limits,
        percent: Callable[[int | float], Any] | None,
    ) -> None:
        self.archive = archive
        self.limits = limits
        self.percent = percent
        self.names = {info.filename.lower(): info for info in archive.infolist()}

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        workbook_path = self._office_document()
        relations = self._relations(workbook_path)
        sheet_id, epoch = self._first_sheet(workbook_path)
        sheet_path = relations.get(sheet_id, ("", ""))[0] if sheet_id else ""
        by_type = {kind.rsplit("/", 1)[-1]: path for path, kind in relations.values()}
        sheet = self._part(sheet_path or "xl/worksheets/sheet1.xml")
        if sheet is None:
            raise _unreadable()
        limit = self.limits.sheet_mb * _MB
        self._check_part(sheet, limit)
        strings_part = self._part(by_type.get("sharedStrings", "xl/sharedStrings.xml"))
        strings = self._shared_strings(strings_part) if strings_part else []
        styles_part = self._part(by_type.get("styles", "xl/styles.xml"))
        styles = self._styles(styles_part) if styles_part else _Styles()
        reader = _SheetReader(self.limits, strings, styles, epoch, self.percent)
        for _progress in _feed(self.archive, sheet, reader.parser, limit, reader.counter):
            if reader.rows:
                yield from reader.rows
                reader.rows.clear()

    # -- where things are ------------------------------------------------------------------

    def _part(self, path: str) -> zipfile.ZipInfo | None:
        return self.names.get(path.lstrip("/").lower())

    def _office_document(self) -> str:
        found = self._read_relations("_rels/.rels", "")
        for path, kind in found.values():
            if kind.endswith("/officeDocument"):
                return path
        return "xl/workbook.xml"

    def _relations(self, source: str) -> dict[str, tuple[str, str]]:
        folder, name = posixpath.split(source)
        return self._read_relations(posixpath.join(folder, "_rels", f"{name}.rels"), folder)

    def _read_relations(self, path: str, folder: str) -> dict[str, tuple[str, str]]:
        """Relationship id → (part path, relationship type)."""
        info = self._part(path)
        found: dict[str, tuple[str, str]] = {}
        if info is None:
            return found

        def start(name: str, attrs: dict[str, str]) -> None:
            if _local(name) == "Relationship" and attrs.get("TargetMode") != "External":
                target = attrs.get("Target", "")
                if target.startswith("/"):
                    resolved = target.lstrip("/")
                else:
                    resolved = posixpath.normpath(posixpath.join(folder, target))
                found[attrs.get("Id", "")] = (resolved, attrs.get("Type", ""))

        self._parse_small(info, {"start": start}, _MAX_META_BYTES)
        return found

    def _first_sheet(self, workbook_path: str) -> tuple[str, Any]:
        info = self._part(workbook_path)
        if info is None:
            raise _unreadable()
        first: list[str] = []
        epoch = [WINDOWS_EPOCH]

        def start(name: str, attrs: dict[str, str]) -> None:
            tag = _local(name)
            if tag == "workbookPr" and attrs.get("date1904", "").lower() in ("1", "true"):
                epoch[0] = MAC_EPOCH
            elif tag == "sheet" and not first:
                relation = next((v for k, v in attrs.items() if _local(k) == "id" and ":" in k), "")
                first.append(relation)

        self._parse_small(info, {"start": start}, _MAX_META_BYTES)
        return (first[0] if first else ""), epoch[0]

    # -- shared strings and styles ---------------------------------------------------------

    def _shared_strings(self, info: zipfile.ZipInfo) -> list[str]:
        reader = _TextCollector(self.limits.cell_chars)
        strings: list[str] = []
        characters = [0]

        def start(name: str, attrs: dict[str, str]) -> None:
            reader.counter[0] += 1
            tag = _local(name)
            if tag == "si":
                reader.begin()
            elif tag == "t" and not reader.phonetic:
                reader.collecting = True
            elif tag == "rPh":
                reader.phonetic += 1

        def end(name: str) -> None:
            reader.counter[0] += 1
            tag = _local(name)
            if tag == "t":
                reader.collecting = False
            elif tag == "rPh":
                reader.phonetic -= 1
            elif tag == "si":
                text = _unescape(reader.text() or "")
                characters[0] += len(text)
                if len(strings) >= _MAX_SHARED_STRINGS or characters[0] > _MAX_SHARED_CHARACTERS:
                    message = _(
                        "The workbook holds more than %(strings)s different texts or "
                        "%(characters)s characters of text."
                    )
                    limits = {
                        "strings": f"{_MAX_SHARED_STRINGS:,}",
                        "characters": f"{_MAX_SHARED_CHARACTERS:,}",
                    }
                    raise FileError(message % limits)
                strings.append(text)

        handlers = {"start": start, "end": end, "text": reader.add}
        limit = self.limits.sheet_mb * _MB
        self._check_part(info, limit)
        parser = _parser(handlers)
        for _progress in _feed(self.archive, info, parser, limit, reader.counter):
            pass
        return strings

    def _styles(self, info: zipfile.ZipInfo) -> _Styles:
        """Style indexes (as written in a cell's `s`) whose number format is a date, a time or
        a percentage."""
        custom: dict[int, str] = {}
        formats: list[int] = []
        depth = [0]

        def start(name: str, attrs: dict[str, str]) -> None:
            tag = _local(name)
            if tag == "numFmt":
                custom[_int(attrs.get("numFmtId"))] = attrs.get("formatCode", "")
            elif tag == "cellXfs":
                depth[0] += 1
            elif tag == "xf" and depth[0]:
                formats.append(_int(attrs.get("numFmtId")))

        def end(name: str) -> None:
            if _local(name) == "cellXfs":
                depth[0] -= 1

        self._parse_small(info, {"start": start, "end": end}, _MAX_STYLES_BYTES)
        styles = _Styles()
        for index, format_id in enumerate(formats):
            code = custom.get(format_id) or BUILTIN_FORMATS.get(format_id)
            if code and is_date_format(code):
                styles.dates.add(str(index))
                if is_timedelta_format(code):
                    styles.durations.add(str(index))
            elif is_percent_format(code):
                styles.percents.add(str(index))
        return styles

    # -- reading parts ---------------------------------------------------------------------

    def _check_part(self, info: zipfile.ZipInfo, limit: int) -> None:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _unreadable()
        if info.file_size > limit:
            raise _too_large(limit)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FROM_BYTES and ratio > self.limits.ratio:
            message = _(
                "The workbook unpacks to %(ratio)s times its size; real spreadsheets stay below "
                "%(limit)s times, so it is refused as a possible zip bomb."
            )
            raise FileError(message % {"ratio": f"{ratio:,.0f}", "limit": self.limits.ratio})

    def _parse_small(self, info: zipfile.ZipInfo, handlers: dict[str, Any], limit: int) -> None:
        self._check_part(info, limit)
        counter = [0]
        start = handlers.get("start")
        if start is not None:

            def counting(name: str, attrs: dict[str, str]) -> None:
                counter[0] += 1
                start(name, attrs)

            handlers = {**handlers, "start": counting}
        for _progress in _feed(self.archive, info, _parser(handlers), limit, counter):
            pass


class _Styles:
    def __init__(self) -> None:
        self.dates: set[str] = set()
        self.durations: set[str] = set()
        self.percents: set[str] = set()


def _too_large(limit: int) -> FileError:
    message = _(
        "The worksheet unpacks to more than %(limit)s MB; split the data into smaller files."
    )
    return FileError(message % {"limit": limit // _MB})


def _parser(handlers: dict[str, Any]) -> Any:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = _CHUNK
    parser.ordered_attributes = False
    if "start" in handlers:
        parser.StartElementHandler = handlers["start"]
    if "end" in handlers:
        parser.EndElementHandler = handlers["end"]
    if "text" in handlers:
        parser.CharacterDataHandler = handlers["text"]
    # Spreadsheets never declare a document type; refusing one rules out entity expansion.
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    return parser


def _refuse_doctype(*args: Any) -> None:
    raise _unreadable()


def _feed(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, parser: Any, limit: int, counter: list[int]
) -> Iterator[None]:
    """Feed one part to the parser in small pieces, counting what it unpacks to; yields after
    each piece so that the caller can hand on the rows read so far."""
    unpacked = 0
    silent = 0
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK):
            unpacked += len(chunk)
            if unpacked > limit:
                raise _too_large(limit)
            events = counter[0]
            parser.Parse(chunk, False)
            silent = silent + len(chunk) if counter[0] == events else 0
            if silent > _MAX_SILENT_BYTES:
                message = _("The workbook holds a single element larger than %(limit)s MB.")
                raise FileError(message % {"limit": _MAX_SILENT_BYTES // _MB})
            yield
    parser.Parse(b"", True)
    yield


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _unescape(text: str) -> str:
    """Excel writes control characters as _x000D_; give them back."""
    if "_x" not in text:
        return text
    return _ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), text)


def _cell_too_long(limit: int, row: int | None) -> FileError:
    if row is None:
        message = _(
            "A text in the workbook is longer than %(limit)s characters, the most Excel allows "
            "in one cell."
        )
        return FileError(message % {"limit": f"{limit:,}"})
    message = _(
        "A cell in row %(row)s holds more than %(limit)s characters, the most Excel allows in "
        "one cell."
    )
    return FileError(message % {"row": row, "limit": f"{limit:,}"})


class _TextCollector:
    """The text of one string item (<si> or a cell), refused once it passes the limit."""

    def __init__(self, limit: int, row: Callable[[], int | None] = lambda: None) -> None:
        self.limit = limit
        self.row = row
        self.parts: list[str] | None = None
        self.length = 0
        self.collecting = False
        self.phonetic = 0
        self.counter = [0]

    def begin(self) -> None:
        self.parts = None
        self.length = 0
        self.collecting = False

    def add(self, data: str) -> None:
        self.counter[0] += 1
        if not self.collecting:
            return
        self.length += len(data)
        if self.length > self.limit:
            raise _cell_too_long(self.limit, self.row())
        if self.parts is None:
            self.parts = [data]
        else:
            self.parts.append(data)

    def text(self) -> str | None:
        if self.parts is None:
            return None
        return self.parts[0] if len(self.parts) == 1 else "".join(self.parts)


class _SheetReader:
    """expat callbacks for a worksheet: completed rows pile up in `rows` until taken."""

    def __init__(
        self,
        limits: Limits,
        strings: list[str],
        styles: _Styles,
        epoch: Any,
        percent: Callable[[int | float], Any] | None,
    ) -> None:
        self.limits = limits
        self.strings = strings
        self.dates = styles.dates
        self.durations = styles.durations
        self.percents = styles.percents if percent is not None else set()
        self.percent = percent
        self.epoch = epoch
        self.rows: list[tuple[int, list[Any]]] = []
        self.number = 0
        self.seen = 0
        self.cells: list[Any] = []
        self.column = 0
        self.kind = "n"
        self.style: str | None = None
        self.in_cell = False
        self.text = _TextCollector(limits.cell_chars, lambda: self.number)
        self.counter = self.text.counter
        self.tags: dict[str, str] = {}
        self.parser = _parser({"start": self.start, "end": self.end, "text": self.text.add})

    def _tag(self, name: str) -> str:
        tag = self.tags.get(name)
        if tag is None:
            tag = self.tags[name] = _local(name)
        return tag

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.counter[0] += 1
        tag = self.tags.get(name) or self._tag(name)
        if tag == "c":
            ref = attrs.get("r")
            self.column = _column_number(ref.rstrip(_DIGITS)) if ref else self.column + 1
            self.kind = attrs.get("t", "n")
            self.style = attrs.get("s")
            self.in_cell = True
            self.text.begin()
        elif self.in_cell and (tag == "v" or (tag == "t" and not self.text.phonetic)):
            self.text.collecting = True
        elif tag == "row":
            self._start_row(attrs.get("r"))
        elif tag == "rPh":
            self.text.phonetic += 1
        elif tag == "dimension":
            self._check_dimension(attrs.get("ref", ""))

    def end(self, name: str) -> None:
        self.counter[0] += 1
        tag = self.tags.get(name) or self._tag(name)
        if tag == "v" or tag == "t":
            self.text.collecting = False
        elif tag == "c":
            self.in_cell = False
            value = self._value()
            if value is not None:
                self._place(value)
        elif tag == "row":
            self.rows.append((self.number, self.cells))
        elif tag == "rPh":
            self.text.phonetic -= 1

    def _start_row(self, ref: str | None) -> None:
        number = int(ref) if ref and ref.isdigit() else self.number + 1
        self.seen += 1
        # A row number jumps over blank rows, and rows may repeat a number: both count.
        if max(number, self.seen) > self.limits.sheet_rows:
            raise _too_many_rows(self.limits.sheet_rows, max(number, self.seen))
        self.number = number
        self.cells = []
        self.column = 0

    def _check_dimension(self, ref: str) -> None:
        corner = ref.rpartition(":")[2].replace("$", "")
        digits = corner[len(corner.rstrip(_DIGITS)) :]
        if digits.isdigit() and int(digits) > self.limits.sheet_rows:
            raise _too_many_rows(self.limits.sheet_rows, int(digits))

    def _place(self, value: Any) -> None:
        column = self.column
        if column > self.limits.columns:
            raise _too_many_columns(self.limits.columns)
        cells = self.cells
        if column == len(cells) + 1:
            cells.append(value)
        elif column > len(cells):
            cells.extend([None] * (column - len(cells) - 1))
            cells.append(value)
        elif column >= 1:
            cells[column - 1] = value

    def _value(self) -> Any:
        text = self.text.text()
        kind = self.kind
        if text is None:
            return None
        if kind == "n":
            if not text:
                return None
            number: int | float = (
                float(text) if ("." in text or "e" in text or "E" in text) else int(text)
            )
            style = self.style
            if style is None:
                return number
            if style in self.dates:
                try:
                    return from_excel(number, self.epoch, timedelta=style in self.durations)
                except (OverflowError, ValueError):
                    return number
            if style in self.percents and self.percent is not None:
                return self.percent(number)
            return number
        if kind == "s":
            try:
                return self.strings[int(text)]
            except (IndexError, ValueError) as error:
                raise _unreadable() from error
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "d":
            try:
                return from_ISO8601(text)
            except ValueError:
                return text
        return _unescape(text)  # inlineStr, str (a formula's text), e (an error such as #N/A)


def _column_number(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number


def _too_many_rows(limit: int, row: int) -> FileError:
    message = _(
        "The sheet reaches row %(row)s; at most %(limit)s rows are read, blank rows included."
    )
    return FileError(message % {"row": f"{row:,}", "limit": f"{limit:,}"})


def _too_many_columns(limit: int) -> FileError:
    message = _("The sheet has values beyond column %(limit)s; at most %(limit)s columns are read.")
    return FileError(message % {"limit": f"{limit:,}"})
