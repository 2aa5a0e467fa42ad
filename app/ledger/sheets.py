"""Spreadsheets in: an uploaded .xlsx or .csv to rows of cell values, told apart by content.

An .xlsx is a zip holding xl/workbook.xml; anything else is read as CSV in UTF-8 (with or
without a BOM) or GB18030. Only the first sheet is read, lazily, so a large ledger costs one
row at a time.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from app.errors import BinaryDocument, EmptyDocument, InvalidInput, UnknownEncoding

_SEND = "Send the sheet as .xlsx, or as .csv in UTF-8 or GB18030."
# Far above any real task list or 100k-row ledger, far below what a zip bomb unpacks to.
_MAX_UNPACKED = 400_000_000
_NOT_SHEETS = [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style .xls/.et workbook",
     "Open it in Excel or WPS and save it as .xlsx."),
    (b"%PDF", "a PDF file", "Export the table from the original as .xlsx or .csv."),
]


@dataclass(frozen=True, slots=True)
class Sheet:
    format: Literal["xlsx", "csv"]
    encoding: str | None
    rows: Iterator[list[Any]]  # cell values: str, int, float, datetime or None


def open_sheet(data: bytes, filename: str | None) -> Sheet:
    who = f"'{filename}'" if filename else "The file"
    if not data.strip():
        raise EmptyDocument(f"{who} is empty. {_SEND}")
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return Sheet("xlsx", None, _xlsx_rows(data, who))
    for magic, what, fix in _NOT_SHEETS:
        if data.startswith(magic):
            raise BinaryDocument(f"{who} is {what}, not a spreadsheet. {fix}")
    text, encoding = _decode(data, who)
    return Sheet("csv", encoding, _csv_rows(text))


def _xlsx_rows(data: bytes, who: str) -> Iterator[list[Any]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        unpacked = sum(i.file_size for i in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise BinaryDocument(f"{who} is a damaged zip file. {_SEND}") from exc
    if "xl/workbook.xml" not in names:
        what = "a Word .docx document" if "word/document.xml" in names else "a zip archive"
        raise InvalidInput(f"{who} is {what}, not an .xlsx workbook. {_SEND}")
    if unpacked > _MAX_UNPACKED:
        raise InvalidInput(f"{who} unpacks to {unpacked // 1_000_000} MB; split the sheet.")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except _BROKEN as exc:
        raise _unreadable(who, exc) from exc
    return _first_sheet(book, who)


# What openpyxl raises for a workbook it cannot parse (XML errors are SyntaxErrors).
_BROKEN = (KeyError, ValueError, TypeError, IndexError, OSError, SyntaxError,
           zipfile.BadZipFile, InvalidFileException)


def _unreadable(who: str, exc: Exception) -> InvalidInput:
    return InvalidInput(f"{who} cannot be read as an .xlsx workbook ({type(exc).__name__}). {_SEND}")


def _first_sheet(book: Any, who: str) -> Iterator[list[Any]]:
    try:
        for values in book.worksheets[0].iter_rows(values_only=True):
            yield _trimmed(list(values))
    except _BROKEN as exc:
        raise _unreadable(who, exc) from exc
    finally:
        book.close()


def _decode(data: bytes, who: str) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            raise UnknownEncoding(f"{who} starts with a UTF-8 byte-order mark but is not UTF-8. "
                                  f"{_SEND}") from exc
    if b"\x00" in data:
        raise BinaryDocument(f"{who} contains NUL bytes, so it is not a CSV file. {_SEND}")
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            continue
    raise UnknownEncoding(f"{who} is neither UTF-8 nor GB18030 text. {_SEND}")


def _csv_rows(text: str) -> Iterator[list[Any]]:
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        for values in csv.reader(io.StringIO(text, newline=""), dialect):
            yield _trimmed([v if v != "" else None for v in values])
    except csv.Error as exc:  # a runaway quote, or a cell over the csv module's size limit
        raise InvalidInput(f"The CSV file cannot be read: {exc}. {_SEND}") from exc


def _trimmed(values: list[Any]) -> list[Any]:
    while values and (values[-1] is None or (isinstance(values[-1], str) and not values[-1].strip())):
        values.pop()
    return values


_BREAKS = re.compile(r"[\t\r\n\v\f]+")
_ISO_DAY = re.compile(r"^((?:19|20)\d{2})[-/.](\d{1,2})[-/.](\d{1,2})$")


def text_of(value: Any) -> str:
    """A cell as the one line a document would print: a number as written (1, not 1.0), a
    date as 2025年6月30日, breaks inside the cell as spaces."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return f"{value.year}年{value.month}月{value.day}日"
    text = _BREAKS.sub(" ", str(value)).strip()
    # 2025-06-30 in a deadline cell is a day; a document would print it 2025年6月30日.
    day = _ISO_DAY.match(text)
    return f"{day[1]}年{int(day[2])}月{int(day[3])}日" if day else text


# --- A 台账 read back: the columns a re-import uses, found by header in any order ---------------

_KEYS = ("责任ID", "任务ID")
_READ = {"责任ID": "assignment_id", "任务ID": "task_id", "版本": "version", "完成时限": "deadline",
         "责任单位": "unit", "本期进展": "summary", "进度": "progress"}
_DAY = re.compile(r"^((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_HEADER_ROWS = 10


@dataclass(slots=True)
class LedgerRow:
    row: int  # as Excel numbers it
    assignment_id: int
    task_id: int | None
    version: int | None
    cells: dict[str, Any]  # deadline, unit, summary, progress as read; absent when no column


def ledger_rows(data: bytes, filename: str | None) -> tuple[list[LedgerRow], list[tuple[int, str]]]:
    """The data rows of an exported 台账 (edited or not), and (row, message) for rows that
    cannot be read. A column the sheet lacks is left out of `cells`: it is not an edit."""
    rows = enumerate(open_sheet(data, filename).rows, start=1)
    columns: dict[str, int] | None = None
    for number, values in rows:
        names = [text_of(v) for v in values]
        if all(key in names for key in _KEYS):
            columns = {_READ[n]: i for i, n in enumerate(names) if n in _READ}
            break
        if number >= _HEADER_ROWS:
            break
    if columns is None:
        raise InvalidInput("The sheet has no 责任ID and 任务ID columns: re-import a 台账 exported by "
                           "GET /api/v1/dispatch/{period}/ledger.xlsx (or .csv), with its header row.")
    found: list[LedgerRow] = []
    errors: list[tuple[int, str]] = []
    for number, values in rows:
        if not any(text_of(v) for v in values):
            continue
        cell = {name: values[i] if i < len(values) else None for name, i in columns.items()}
        ident = whole(cell.pop("assignment_id"))
        if ident is None:
            errors.append((number, "责任ID is empty or not a number: keep the 责任ID the export wrote."))
            continue
        task, version = whole(cell.pop("task_id")), cell.pop("version", None)
        found.append(LedgerRow(number, ident, task, whole(version) if version is not None else None,
                               cell))
    return found, errors


def whole(value: Any) -> int | None:
    """An id, a version or a progress as a whole number; None when blank or not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = text_of(value).removesuffix("%").strip()
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    return int(text) if text.isdecimal() and len(text) <= 9 else None


def day(value: Any) -> date | None:
    """A deadline cell: a date, or text such as 2025-06-30, 2025/6/30 or 2025年6月30日.
    None when blank; ValueError when it is not a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = text_of(value) if not isinstance(value, str) else " ".join(value.split())
    if not text:
        return None
    found = _DAY.match(text)
    if found is None:
        raise ValueError(text)
    return date(int(found[1]), int(found[2]), int(found[3]))
