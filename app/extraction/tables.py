"""Task tables (重点任务清单, 任务分工表, 重点工程附表): found by their header, read row by row.

Web captures flatten a table one cell per line and lose the row boundaries and blank cells.
A row starts at its 序号; its lines are then given to the header's columns in order by
choosing, among every way to cut them, the one whose cells best fit their columns (a unit
list in 责任单位, a date in 完成时限). Tables that keep their rows (tab-separated lines from
HTML or .docx, spreadsheet rows) are read cell by cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.extraction.dates import is_deadline_text
from app.extraction.structure import number_style
from app.extraction.text import Line, Span
from app.extraction.units import has_unit_ending, unit_list_share
from app.extraction.vocab import DEADLINE_LABELS, PERSON_LABELS, ROLE_LABELS

HEADER_KINDS: dict[str, str] = {
    "序号": "number", "编号": "number",
    "重点任务": "title", "任务名称": "title", "项目名称": "title", "工程名称": "title",
    "主要任务": "title", "任务": "title", "工作任务": "title", "重点工作": "title",
    "工作事项": "title", "事项": "title", "目标任务": "title", "重点项目": "title",
    "工作内容": "content", "任务内容": "content", "建设内容及规模": "content", "建设内容": "content",
    "主要内容": "content", "具体内容": "content", "工作措施": "content", "具体措施": "content",
    "主要措施": "content", "目标要求": "content", "任务要求": "content", "具体任务": "content",
    "具体举措": "content", "工作目标": "content", "推进措施": "content",
    "备注": "note",
    **dict.fromkeys(DEADLINE_LABELS, "deadline"),
    **dict(ROLE_LABELS),
    **dict.fromkeys(PERSON_LABELS, "person"),
}
_DELIMITED = re.compile(r"\t|\s{2,}|\|")
_NUMBER_HEADINGS = [cell for cell, kind in HEADER_KINDS.items() if kind == "number"]
_CELL_SEPARATORS = {"\t": re.compile("\t"), "|": re.compile(r"\|"), None: re.compile(r"\s{2,}")}
_HEADER_NOISE = re.compile(r"\([^)]*\)|\s")
_NOTE = re.compile(r"\([^)]*\)")
_APPENDIX = re.compile(r"^附\s*(?:件|表)")
_MEASURE_NUMBER = re.compile(r"^\(?\d{1,2}\)")
_PERSON_NAMES = re.compile(r"[\u4e00-\u9fff、,]{2,30}")


def cells_of(norm: str) -> list[tuple[int, int]]:
    """Cell bounds of a row printed on one line: tabs (a blank cell between two tabs
    stays a cell), else bars, else runs of two or more spaces."""
    body = norm.rstrip("\r\n")
    sep = "\t" if "\t" in body else "|" if "|" in body else None
    bounds, lo = [], 0
    for m in _CELL_SEPARATORS[sep].finditer(body):
        bounds.append((lo, m.start()))
        lo = m.end()
    bounds.append((lo, len(body)))
    return bounds
_CATEGORY = re.compile(r"^(?:\([一二三四五六七八九十]+\)|[一二三四五六七八九十]+[、.])\s*\S")


@dataclass(slots=True)
class Row:
    number: str
    printed: str
    category: str | None
    cells: dict[str, Span]
    span: Span


@dataclass(slots=True)
class Table:
    columns: list[str]
    labels: list[str]  # the header cells as printed, e.g. 牵头领导 for a person column
    is_project: bool = False
    delimited: bool = False
    rows: list[Row] = field(default_factory=list)
    lines: set[int] = field(default_factory=set)
    stopped_at: Line | None = None  # a line that ended the table without looking like its end


def header_kind(cell: str) -> str | None:
    cell = _HEADER_NOISE.sub("", cell)
    return HEADER_KINDS.get(cell)


def find_tables(lines: list[Line], skip: set[int], stops: set[int] = frozenset()) -> list[Table]:
    """Task tables among `lines`; `stops` (site chrome such as 相关链接) end a table."""
    tables: list[Table] = []
    live = [ln for ln in lines if (ln.no not in skip or ln.no in stops) and not ln.blank]
    i = 0
    while i < len(live):
        if live[i].no in stops:
            i += 1
            continue
        table, used = _header_at(live, i)
        if table is None:
            i += 1
            continue
        end = _read_rows(table, live, i + used, stops)
        if table.rows:
            tables.append(table)
        i = max(end, i + 1)
    return tables


def _header_at(live: list[Line], i: int) -> tuple[Table | None, int]:
    # A header opens with 序号 or the like, so a line without its characters is passed over
    # before it is cut into cells.
    if not any(all(ch in live[i].norm for ch in cell) for cell in _NUMBER_HEADINGS):
        return None, 0
    first = live[i].norm.strip()
    bounds = cells_of(live[i].norm)
    cells = [live[i].norm[a:b].strip() for a, b in bounds] if len(bounds) >= 3 else []
    if cells and header_kind(cells[0]) == "number":
        kinds = [header_kind(c) or "other" for c in cells]
        table = _qualify(kinds, cells, delimited=True, raw=first)
        if table:
            table.lines.add(live[i].no)
        return table, 1
    if header_kind(first) != "number":
        return None, 0
    kinds, labels, used = ["number"], [first], 1
    while i + used < len(live) and used < 12:
        text = live[i + used].norm.strip()
        kind = header_kind(text)
        if kind is None and _NOTE.fullmatch(text):
            used += 1  # a note under the cell above, e.g. (按职责分工负责)
            continue
        if kind is None:
            break
        kinds.append(kind)
        labels.append(text)
        used += 1
    table = _qualify(kinds, labels, delimited=False, raw=" ".join(ln.norm for ln in live[i : i + used]))
    if table:
        table.lines.update(ln.no for ln in live[i : i + used])
    return table, used


def _qualify(kinds: list[str], labels: list[str], *, delimited: bool, raw: str) -> Table | None:
    textual = {"title", "content"} & set(kinds)
    duties = {"lead", "responsible", "cooperating", "deadline"} & set(kinds)
    if not textual or not duties:
        return None
    is_project = any(word in raw for word in ("项目", "工程", "建设内容"))
    return Table(kinds, labels, is_project=is_project, delimited=delimited)


def _read_rows(table: Table, live: list[Line], i: int, stops: set[int]) -> int:
    if table.delimited:
        return _read_delimited(table, live, i)
    expected, category, row_lines, number = 1, None, [], None
    printed, restart = "", False
    while i < len(live):
        line = live[i]
        text = line.norm.strip()
        if line.no in stops or _ends_table(text):
            break
        # After a category row the numbering may restart at 1 or run on.
        found = _row_number(text, expected) or (_row_number(text, 1) if restart else None)
        restart = False
        if found is not None:
            _close_row(table, number, printed, category, row_lines)
            number, printed, row_lines = found, text, []
            expected = int(found) + 1
        elif _CATEGORY.match(text) and len(text) <= 40 and "。" not in text:
            _close_row(table, number, printed, category, row_lines)
            number, row_lines, category, restart = None, [], line.raw.strip(), True
        elif number is not None:
            row_lines.append(line)
        elif table.rows or category:
            table.stopped_at = line
            break
        else:
            i += 1
            continue
        table.lines.add(line.no)
        i += 1
    _close_row(table, number, printed, category, row_lines)
    return i


def _ends_table(text: str) -> bool:
    found = number_style(text)
    return bool(_APPENDIX.match(text)) or text.startswith(("相关文章", "相关链接")) or (
        found is not None and found[0] in ("chapter", "section", "part") and len(text) < 60
    )


def _row_number(text: str, expected: int) -> str | None:
    if not text.isdigit():
        return None
    if text == str(expected):
        return text
    doubled = str(expected) * 2
    return str(expected) if text == doubled else None


def _close_row(table: Table, number: str | None, printed: str, category: str | None,
               row_lines: list[Line]) -> None:
    if number is None:
        return
    columns = [k for k in table.columns if k != "number"]
    pieces = [Span.of_stripped_line(ln) for ln in row_lines]
    cells = _assign(columns, pieces)
    span = Span.empty()
    for piece in pieces:
        span = span + piece
    table.rows.append(Row(number, printed, category, cells, span))


def _assign(columns: list[str], pieces: list[Span]) -> dict[str, Span]:
    """Cut the row's lines into one contiguous run per column, best fit first."""
    n, c = len(pieces), len(columns)
    best: dict[tuple[int, int], tuple[float, list[int]]] = {(0, 0): (0.0, [])}
    for col in range(c):
        for start in range(n + 1):
            if (col, start) not in best:
                continue
            score, cuts = best[(col, start)]
            cell = Span.empty()
            for end in range(start, n + 1):
                if end > start:  # the cell of lines start..end is the one before plus one line
                    cell = _extend(columns[col], cell, pieces[end - 1])
                total = score + _fit(columns[col], cell, end - start)
                key = (col + 1, end)
                if key not in best or total > best[key][0]:
                    best[key] = (total, [*cuts, end])
    _, cuts = best.get((c, n), (0.0, [n] * c))
    cells, lo = {}, 0
    for col, hi in zip(columns, cuts, strict=False):
        cell = _join(col, pieces[lo:hi])
        if cell.norm.strip():
            cells[col] = cells[col] + cell if col in cells else cell
        lo = hi
    return cells


def _join(kind: str, pieces: list[Span]) -> Span:
    out = Span.empty()
    for piece in pieces:
        out = _extend(kind, out, piece)
    return out


def _extend(kind: str, out: Span, piece: Span) -> Span:
    sep = ""
    if out.norm and kind == "content" and _MEASURE_NUMBER.match(piece.norm):
        sep = "\n"
    elif out.norm and kind in ("lead", "responsible", "cooperating") \
            and not out.norm.endswith(("、", ",", ";")) and has_unit_ending(out.norm) \
            and has_unit_ending(piece.norm) and len(piece.norm) > 3:
        sep = "、"
    return out.joined(piece, sep)


def _fit(kind: str, cell: Span, lines: int) -> float:
    text = cell.norm.strip()
    # A cell never ends on a list separator: 市住建局、 continues on the next line.
    if text.endswith(("、", ",")) or text.startswith(("、", ",")):
        return -5.0
    if not text:
        return {"title": -3.0, "content": -0.5, "deadline": -0.1, "note": 0.0}.get(kind, -0.6)
    if kind in ("lead", "responsible", "cooperating"):
        units, pieces = unit_list_share(cell)
        return 3.0 if units == pieces else -4.0 + units / max(pieces, 1)
    if kind == "deadline":
        return 3.0 if is_deadline_text(text) else -4.0
    if kind == "title":
        return (2.0 if "。" not in text.rstrip("。") and len(text) <= 60 else -1.0) - (lines - 1)
    if kind == "person":
        return 1.0 if _PERSON_NAMES.fullmatch(text) else -2.0
    units, pieces = unit_list_share(cell)
    return -1.5 if units == pieces or is_deadline_text(text) else 1.0


def _read_delimited(table: Table, live: list[Line], i: int) -> int:
    category = None
    while i < len(live):
        line = live[i]
        bounds = cells_of(line.norm)
        texts = [line.norm[a:b].strip() for a, b in bounds]
        if _CATEGORY.match(texts[0]) and not any(texts[1:]):
            category = line.raw.strip()
        elif len(texts) >= 2 and texts[0].isdigit():
            cells = {kind: Span.of_line(line, a, b).strip()
                     for kind, (a, b), text in zip(table.columns, bounds, texts, strict=False)
                     if kind != "number" and text}
            table.rows.append(Row(texts[0], texts[0], category, cells, Span.of_line(line)))
        else:
            break
        table.lines.add(line.no)
        i += 1
    return i
