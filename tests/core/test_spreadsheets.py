"""Reading spreadsheets as people keep them, and refusing the ones built to hurt.

Real-looking files are built with openpyxl (merged title cells, blank rows, notes under the data);
the bombs are written as zip files directly, a deflate block repeated, so that a 0.4 MB file
really unpacks to 300 or 400 MB without the test ever holding that much.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from openpyxl import Workbook

from miantan.core import xlsx as xlsx_module
from miantan.core.spreadsheets import FileError, Layout, Limits, Sheet, open_sheet
from miantan.core.xlsx import read_xlsx

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = Layout(
    {
        "employee_number": ("工号", "employee number"),
        "name": ("姓名", "name"),
        "department": ("部门", "department"),
        "value": ("实际值", "value"),
    },
    ("employee_number", "name"),
    key="employee_number",
)
HEADER = ["工号", "姓名", "部门", "实际值"]


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def workbook(rows: list[list[Any]], merged: tuple[str, ...] = ()) -> io.BytesIO:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for cells in merged:
        sheet.merge_cells(cells)
    stream = io.BytesIO()
    book.save(stream)
    stream.seek(0)
    return stream


def opened(stream: io.BytesIO, name: str = "data.xlsx", layout: Layout = LAYOUT) -> Sheet:
    return open_sheet(stream, name, layout)


def data(sheet: Sheet) -> list[tuple[int, list[Any]]]:
    return list(sheet.rows())


def as_kept_by_hr() -> list[list[Any]]:
    """A department's sheet as HR keeps it: a title merged across the columns, a line with the
    date, a blank row, the header in row 4, two blank rows inside the data, notes at the end."""
    return [
        ["2026年第三季度 心内科 绩效数据"],
        ["制表日期：2026年10月8日"],
        [],
        HEADER,
        ["H0011", "李明", "心内科", 92],
        [],
        ["H0012", "王芳", "心内科", 88],
        ["H0013", "赵强", "心内科", 95],
        [],
        [],
        ["制表人：孙丽", None, "审核：张伟"],
        ["备注：数据来源于 HIS 系统，截至 9 月 30 日。"],
    ]


# --- finding the header, leaving out what is not data ------------------------------------------


def test_open_sheet_finds_the_header_below_a_merged_title() -> None:
    sheet = opened(workbook(as_kept_by_hr(), merged=("A1:D1", "A2:D2")))

    assert sheet.header_row == 4
    assert sheet.columns == {
        "employee_number": "工号",
        "name": "姓名",
        "department": "部门",
        "value": "实际值",
    }
    assert [(note.row, note.text) for note in sheet.skipped] == [
        (1, "2026年第三季度 心内科 绩效数据"),
        (2, "制表日期：2026年10月8日"),
    ]


def test_open_sheet_rows_keep_the_spreadsheets_own_numbers() -> None:
    sheet = opened(workbook(as_kept_by_hr(), merged=("A1:D1",)))

    assert [(number, cells[0]) for number, cells in data(sheet)] == [
        (5, "H0011"),
        (7, "H0012"),
        (8, "H0013"),
    ]


def test_open_sheet_lists_notes_after_the_data_instead_of_reading_them() -> None:
    sheet = opened(workbook(as_kept_by_hr(), merged=("A1:D1",)))
    data(sheet)

    assert [(note.row, note.text) for note in sheet.notes] == [
        (11, "制表人：孙丽 审核：张伟"),
        (12, "备注：数据来源于 HIS 系统，截至 9 月 30 日。"),
    ]


def test_open_sheet_reads_a_data_looking_row_after_the_notes_as_data() -> None:
    rows = [*as_kept_by_hr(), [None, "钱进", "心内科", 90]]

    sheet = opened(workbook(rows))

    # The notes stand inside the data now, so they are data too, and checked as such.
    assert [number for number, _cells in data(sheet)] == [5, 7, 8, 11, 12, 13]
    assert sheet.notes == []


@pytest.mark.parametrize(
    "row",
    [
        ["合计", None, None, 275],
        [None, "小计", None, 275],
        ["Prepared by: Sun Li"],
        ["以上数据经科室核对无误。"],
        ["注：满分 100 分"],
    ],
)
def test_open_sheet_tells_totals_and_remarks_from_data(row: list[Any]) -> None:
    sheet = opened(workbook([HEADER, ["H0011", "李明", "心内科", 92], row]))

    assert [number for number, _cells in data(sheet)] == [2]
    assert [note.row for note in sheet.notes] == [3]


@pytest.mark.parametrize(
    "row",
    [
        [None, "钱进", "心内科", 90],  # no employee number, but two known columns filled
        ["H0014"],  # an employee number alone
        [1004, None, None, None],  # a number cell in the key column
    ],
)
def test_open_sheet_keeps_a_data_looking_row_with_problems_as_data(row: list[Any]) -> None:
    sheet = opened(workbook([HEADER, ["H0011", "李明", "心内科", 92], row]))

    assert [number for number, _cells in data(sheet)] == [2, 3]
    assert sheet.notes == []


def test_open_sheet_skips_the_header_repeated_on_each_printed_page() -> None:
    rows = [HEADER, ["H0011", "李明", "心内科", 92], HEADER, ["H0012", "王芳", "心内科", 88]]

    sheet = opened(workbook(rows))

    assert [number for number, _cells in data(sheet)] == [2, 4]
    assert sheet.repeated_headers == [3]


def test_open_sheet_matches_headers_written_with_template_markers() -> None:
    sheet = opened(workbook([["工号*", "姓名（必填）", "部门"], ["H0011", "李明", "心内科"]]))

    assert set(sheet.columns) == {"employee_number", "name", "department"}
    assert sheet.errors == []


def test_open_sheet_without_any_known_header_reports_the_first_row() -> None:
    sheet = opened(workbook([["月度汇总"], ["a", "b"]]))

    assert sheet.header_row == 1
    assert [(error.row, error.column) for error in sheet.errors] == [(1, "工号"), (1, "姓名")]


def test_open_sheet_reports_a_column_given_twice() -> None:
    sheet = opened(workbook([["工号", "姓名", "Name"], ["H0011", "李明", "李明"]]))

    assert [(error.row, error.column) for error in sheet.errors] == [(1, "Name")]


def test_open_sheet_refuses_an_empty_file_and_other_formats() -> None:
    with pytest.raises(FileError):
        opened(workbook([[], []]))
    with pytest.raises(FileError):
        opened(io.BytesIO(b"x"), name="data.xls")


# --- CSV as Excel and other programs save it ----------------------------------------------------


def csv_bytes(rows: list[list[Any]], encoding: str, delimiter: str = ",") -> io.BytesIO:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return io.BytesIO(text.getvalue().encode(encoding))


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_open_sheet_reads_csv_in_the_encodings_excel_saves(encoding: str) -> None:
    # Excel pads every row to the width of the sheet, the title row too.
    rows = [["2026年第三季度 心内科 绩效数据", "", "", ""], *as_kept_by_hr()[3:]]

    sheet = opened(csv_bytes(rows, encoding), name="绩效.csv")

    assert sheet.header_row == 2
    assert [(number, cells[1]) for number, cells in data(sheet)] == [
        (3, "李明"),
        (5, "王芳"),
        (6, "赵强"),
    ]
    assert sheet.notes[0].text == "制表人：孙丽 审核：张伟"


def test_open_sheet_reads_utf16_tab_separated_text() -> None:
    stream = csv_bytes([HEADER, ["H0011", "李明", "心内科", "92"]], "utf-16", delimiter="\t")

    sheet = opened(stream, name="export.csv")

    assert data(sheet) == [(2, ["H0011", "李明", "心内科", "92"])]


def test_open_sheet_refuses_text_in_no_known_encoding() -> None:
    with pytest.raises(FileError) as refused:
        opened(io.BytesIO(b"abc\xff\n"), name="broken.csv")

    assert "GB18030" in refused.value.message


def test_open_sheet_leaves_the_callers_stream_open() -> None:
    stream = csv_bytes([HEADER, ["H0011", "李明", "心内科", "92"]], "utf-8")

    data(opened(stream, name="a.csv"))

    assert not stream.closed


def test_csv_with_more_lines_than_allowed_is_refused_before_reading() -> None:
    layout = Layout(
        LAYOUT.headers, LAYOUT.required, key="employee_number", limits=Limits(csv_lines=5)
    )
    stream = csv_bytes([HEADER] + [["H1", "李明", "心内科", "1"]] * 10, "utf-8")

    with pytest.raises(FileError) as refused:
        opened(stream, name="a.csv", layout=layout)

    assert "5" in refused.value.message


def test_csv_cell_longer_than_excel_allows_is_refused() -> None:
    stream = csv_bytes([HEADER, ["H0011", "李" * 40_000, "心内科", "1"]], "utf-8")

    with pytest.raises(FileError) as refused:
        data(opened(stream, name="a.csv"))

    assert "32,767" in refused.value.message and "row 2" in refused.value.message


def test_csv_line_longer_than_allowed_is_refused_before_reading() -> None:
    stream = io.BytesIO(("工号,姓名\n" + "x" * (1 << 20) + "1,李明\n").encode())

    with pytest.raises(FileError) as refused:
        opened(stream, name="a.csv")

    assert "1 MB" in refused.value.message


# --- the workbook reader ------------------------------------------------------------------------


def test_read_xlsx_gives_values_as_openpyxl_does() -> None:
    stream = workbook(
        [
            ["text", 42, 4.5, True, datetime(2026, 11, 17, 8, 30), date(2026, 1, 2)],
            [None, None, "=1+1", "", "a\nb", 0.92],
        ]
    )

    rows = list(read_xlsx(stream, Limits()))

    assert rows[0] == (
        1,
        ["text", 42, 4.5, True, datetime(2026, 11, 17, 8, 30), datetime(2026, 1, 2)],
    )
    # A formula without a saved result has no value, as in openpyxl's data_only mode.
    assert rows[1] == (2, [None, None, None, None, "a\nb", 0.92])


def test_read_xlsx_wraps_numbers_in_percentage_cells() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([0.92, 0.92])
    sheet["A1"].number_format = "0%"
    stream = io.BytesIO()
    book.save(stream)
    stream.seek(0)

    rows = list(read_xlsx(stream, Limits(), percent=lambda number: ("percent", number)))

    assert rows == [(1, [("percent", 0.92), 0.92])]


def test_read_xlsx_refuses_an_old_xls_file() -> None:
    stream = io.BytesIO(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)

    with pytest.raises(FileError) as refused:
        list(read_xlsx(stream, Limits()))

    assert ".xlsx" in refused.value.message


def test_read_xlsx_refuses_what_is_no_zip() -> None:
    with pytest.raises(FileError):
        list(read_xlsx(io.BytesIO(b"not a workbook at all"), Limits()))


# --- hand-made workbooks: bombs and tricks -------------------------------------------------------

SHEET_START = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
WORKBOOK = (
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
RELATIONS = (
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="http://schemas.openxmlformats'
    b'.org/officeDocument/2006/relationships/worksheet"/></Relationships>'
)


def deflated(prefix: bytes, unit: bytes = b"", count: int = 0, suffix: bytes = b"") -> tuple:
    """(compressed, size, crc) of prefix + unit × count + suffix: one block of the repeated
    part is compressed once, with its history cleared, and its bytes repeated."""
    per_block = max(1, (1 << 20) // max(len(unit), 1))
    block = unit * per_block
    blocks, rest = divmod(count, per_block) if unit else (0, 0)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH) if blocks else b""
    tail_data = unit * rest + suffix
    tail = compressor.compress(tail_data) + compressor.flush()
    crc = zlib.crc32(prefix)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail_data, crc)
    size = len(prefix) + len(block) * blocks + len(tail_data)
    return head + body * blocks + tail, size, crc


def zipped(parts: dict[str, tuple]) -> bytes:
    """A zip of already deflated parts, written field by field."""
    out = bytearray()
    directory = bytearray()
    for name, (data, size, crc) in parts.items():
        encoded = name.encode()
        offset = len(out)
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0
        )
        out += encoded + data
        directory += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(data),
            size,
            len(encoded),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        directory += encoded
    start = len(out)
    out += directory
    out += struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(directory), start, 0
    )
    return bytes(out)


def book_with_sheet(sheet: tuple) -> bytes:
    return zipped(
        {
            "xl/workbook.xml": deflated(WORKBOOK),
            "xl/_rels/workbook.xml.rels": deflated(RELATIONS),
            "xl/worksheets/sheet1.xml": sheet,
        }
    )


def sheet_xml(rows: bytes, head: bytes = b"") -> tuple:
    return deflated(SHEET_START + head + b"<sheetData>" + rows + b"</sheetData></worksheet>")


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two files of the attack battery: 50 million empty rows, one cell of 400 MB."""
    folder = tmp_path_factory.mktemp("bombs")
    rows = deflated(
        SHEET_START + b"<sheetData>", b"<row/>", 50_000_000, b"</sheetData></worksheet>"
    )
    cell = deflated(
        SHEET_START + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>',
        b"A",
        400_000_000,
        b"</t></is></c></row></sheetData></worksheet>",
    )
    paths = {"rows": folder / "rows.xlsx", "cell": folder / "cell.xlsx"}
    paths["rows"].write_bytes(book_with_sheet(rows))
    paths["cell"].write_bytes(book_with_sheet(cell))
    return paths


def test_bombs_are_small_files_that_unpack_to_hundreds_of_megabytes(bombs: dict[str, Path]) -> None:
    import zipfile

    for path, unpacked in ((bombs["rows"], 300_000_000), (bombs["cell"], 400_000_000)):
        assert path.stat().st_size < 600_000
        info = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
        assert info.file_size > unpacked


# Each case: (bomb, the import whose limits apply, limits changed for the case, what the refusal
# must name). Refused from the zip directory: the sheet unpacks to more than allowed, or, where
# large sheets are allowed (KPI values), by its compression ratio; and with both of those
# checks out of the way, while reading: the rows are counted, blank ones too, and a cell is cut
# off as soon as it passes Excel's limit.
BOMB_CASES = [
    ("rows", "miantan.people.org_file", {}, "200 MB"),
    ("cell", "miantan.scheduling.rosters", {}, "200 MB"),
    ("rows", "miantan.metrics.values_file", {}, "100 times"),
    ("cell", "miantan.metrics.values_file", {}, "100 times"),
    ("rows", "miantan.metrics.values_file", {"ratio": 10**6, "sheet_rows": 100_000}, "100,000"),
    ("cell", "miantan.metrics.values_file", {"ratio": 10**6}, "32,767"),
]

MEASURED = """
import json, os, sys, time
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
import django
django.setup()
from importlib import import_module
from django.utils import translation
from miantan.core.spreadsheets import FileError, Layout, Limits, open_sheet
translation.activate("en")
for path, module, changed in json.loads(sys.argv[1]):
    base = import_module(module).LAYOUT
    limits = Limits(**{**base.limits.__dict__, **changed})
    layout = Layout(base.headers, base.required, key=base.key, limits=limits)
    started = time.monotonic()
    try:
        with open(path, "rb") as stream:
            for _row in open_sheet(stream, "bomb.xlsx", layout).rows():
                pass
        outcome = "read"
    except FileError as error:
        outcome = error.message
    print(json.dumps({"outcome": outcome, "seconds": time.monotonic() - started}))
# VmHWM is this process's own peak; ru_maxrss would carry over the parent's peak through exec.
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"peak_mb": peak / 1024}))
"""


def test_xlsx_bombs_are_refused_within_seconds_in_little_memory(bombs: dict[str, Path]) -> None:
    cases = [(str(bombs[bomb]), module, limits) for bomb, module, limits, _named in BOMB_CASES]
    # A process of its own, so that its peak memory is the reader's (and Django's) alone.
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, json.dumps(cases)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    *results, peak = [json.loads(line) for line in done.stdout.strip().splitlines()]

    for (bomb, module, _limits, named), result in zip(BOMB_CASES, results, strict=True):
        assert named in result["outcome"], (bomb, module, result)
        assert result["seconds"] < 5, (bomb, module, result)
    assert peak["peak_mb"] < 300


def test_xlsx_bomb_is_refused_by_the_kpi_import_naming_the_limit(
    bombs: dict[str, Path], hospital: Any
) -> None:
    from miantan.metrics.importing import import_values_file

    with bombs["rows"].open("rb") as stream:
        outcome, _file = import_values_file(
            hospital.organisation, stream, name="bomb.xlsx", actor=None
        )

    assert not outcome.applied
    assert "100" in outcome.problems[0].message


def test_xlsx_reading_holds_no_more_than_a_few_pieces_in_memory() -> None:
    # 50,000 rows of about 70 bytes each: 3.5 MB of XML from a file of a few KB.
    row = b'<row><c t="inlineStr"><is><t>H0011</t></is></c><c><v>92</v></c></row>'
    sheet = deflated(SHEET_START + b"<sheetData>", row, 50_000, b"</sheetData></worksheet>")
    stream = io.BytesIO(book_with_sheet(sheet))
    tracemalloc.start()
    try:
        count = sum(1 for _row in read_xlsx(stream, Limits(ratio=10**6)))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 50_000
    assert peak < 5 * 1024 * 1024


def test_xlsx_dimension_beyond_the_row_limit_is_refused_before_any_row() -> None:
    sheet = sheet_xml(
        b'<row r="1"><c r="A1"><v>1</v></c></row>', head=b'<dimension ref="A1:C50000000"/>'
    )
    rows = read_xlsx(io.BytesIO(book_with_sheet(sheet)), Limits())

    with pytest.raises(FileError) as refused:
        next(rows)

    assert "50,000,000" in refused.value.message


def test_xlsx_row_numbers_jumping_past_the_limit_are_refused() -> None:
    sheet = sheet_xml(b'<row r="1"><c r="A1"><v>1</v></c></row><row r="50000000"/>')

    with pytest.raises(FileError) as refused:
        list(read_xlsx(io.BytesIO(book_with_sheet(sheet)), Limits()))

    assert "1,048,576" in refused.value.message


def test_xlsx_rows_repeating_one_number_count_towards_the_limit() -> None:
    sheet = sheet_xml(b'<row r="1"><c r="A1"><v>1</v></c></row>' * 11)

    with pytest.raises(FileError):
        list(read_xlsx(io.BytesIO(book_with_sheet(sheet)), Limits(sheet_rows=10)))


def test_xlsx_value_beyond_the_column_limit_is_refused() -> None:
    sheet = sheet_xml(b'<row r="1"><c r="A1"><v>1</v></c><c r="XFD1"><v>2</v></c></row>')

    with pytest.raises(FileError) as refused:
        list(read_xlsx(io.BytesIO(book_with_sheet(sheet)), Limits()))

    assert "1,024" in refused.value.message


def test_xlsx_empty_formatted_cells_far_right_are_no_values() -> None:
    sheet = sheet_xml(b'<row r="1"><c r="A1"><v>1</v></c><c r="XFD1" s="1"/></row>')

    assert list(read_xlsx(io.BytesIO(book_with_sheet(sheet)), Limits())) == [(1, [1])]


def test_xlsx_shared_string_longer_than_excel_allows_is_refused() -> None:
    strings = deflated(b'<sst xmlns="x"><si><t>' + b"A" * 40_000 + b"</t></si></sst>")
    relations = RELATIONS.replace(
        b"</Relationships>",
        b'<Relationship Id="rId2" Target="sharedStrings.xml" Type="http://schemas.openxmlformats'
        b'.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>',
    )
    book = zipped(
        {
            "xl/workbook.xml": deflated(WORKBOOK),
            "xl/_rels/workbook.xml.rels": deflated(relations),
            "xl/sharedStrings.xml": strings,
            "xl/worksheets/sheet1.xml": sheet_xml(b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
        }
    )

    with pytest.raises(FileError) as refused:
        list(read_xlsx(io.BytesIO(book), Limits()))

    assert "32,767" in refused.value.message


def test_xlsx_document_type_declaration_is_refused() -> None:
    laughs = b'<!DOCTYPE lolz [<!ENTITY lol "lol">]>'
    sheet = deflated(
        laughs + SHEET_START + b"<sheetData><row><c><v>&lol;</v></c></row></sheetData></worksheet>"
    )

    with pytest.raises(FileError):
        list(read_xlsx(io.BytesIO(book_with_sheet(sheet)), Limits()))


def test_xlsx_one_enormous_tag_is_refused_before_it_is_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(xlsx_module, "_MAX_SILENT_BYTES", 1 << 20)
    sheet = deflated(
        SHEET_START + b'<sheetData><row r="1"><c r="A1" s="',
        b"9",
        3 << 20,
        b'"/></row></sheetData></worksheet>',
    )

    with pytest.raises(FileError) as refused:
        list(read_xlsx(io.BytesIO(book_with_sheet(sheet)), Limits(ratio=10**6)))

    assert "1 MB" in refused.value.message


def test_xlsx_part_declaring_a_smaller_size_than_it_unpacks_to_is_refused() -> None:
    data, _size, crc = sheet_xml(b'<row r="1"><c r="A1"><v>1</v></c></row>' * 1000)
    book = book_with_sheet((data, 100, crc))

    with pytest.raises(FileError):
        list(read_xlsx(io.BytesIO(book), Limits()))


def test_xlsx_zip_directory_too_large_is_refused_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(xlsx_module, "_MAX_DIRECTORY_BYTES", 100)

    with pytest.raises(FileError) as refused:
        list(read_xlsx(workbook([["a"]]), Limits()))

    assert "parts" in refused.value.message


def test_refusals_are_quick_for_every_check() -> None:
    started = time.monotonic()
    for sheet in (
        sheet_xml(b'<row r="50000000"/>'),
        sheet_xml(b"", head=b'<dimension ref="A1:A9999999"/>'),
    ):
        with pytest.raises(FileError):
            list(read_xlsx(io.BytesIO(book_with_sheet(sheet)), Limits()))

    assert time.monotonic() - started < 1
