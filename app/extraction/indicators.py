"""Plan-indicator tables (指标体系): a header fixes the columns, 序号 opens a row, 指标属性 closes it.

Tables arrive flattened one cell per line or one row per line (cells split on tabs or 2+
spaces); both become one stream of cells, so a single row parser serves both layouts.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import NamedTuple

from app.extraction.models import Indicator, Warning
from app.extraction.text import Line, Span, fold

_HEAD = {word: role for role, words in (
    ("domain", "领域 维度"), ("category", "任务 类别 分类 类型 方面"), ("number", "序号 编号"),
    ("name", "指标名称 指标 名称 具体指标"), ("unit", "单位 计量单位"),
    ("standard", "指标值 标准值 国家标准 考核标准"), ("baseline", "现状值 基准值 基期值 现状"),
    ("target", "目标值 目标 规划目标 预期目标"), ("attribute", "指标属性 属性 指标性质 性质"),
) for word in words.split()}
_NUMBER_WORDS = [word for word, role in _HEAD.items() if role == "number"]
_VALUE_ROLES = {"unit", "standard", "baseline", "target", "attribute"}
_ATTR = re.compile(r"约束性|预期性|参考性|引导性")
_YEAR = re.compile(r"(?:19|20)\d\d")
_HEAD_NOISE = re.compile(r"(?:19|20)\d\d年?|[()\s]")
_ROWNO = re.compile(r"\d{1,3}")
_MARKER = re.compile(r"\(?[一二三四五六七八九十]+[)、]")
_CONT = re.compile(r"\((?:19|20)\d\d年?\)")  # "(2020年)" printed on the line under its value
_CMP = re.compile(r"[≥≤><]=?\s*-?\d")
_NUM = re.compile(r"-?\d+(?:\.\d+)?%?")
_UNIT = re.compile(r"[-%‰]|[^\d\s,;。≥≤><]{1,8}/[^\d\s,;。≥≤><]{1,8}|[万亿千百十]?(?:元|吨|千克|公斤|克|米"
                   r"|平方米|立方米|平方公里|公里|千米|公顷|亩|个|项|家|人|人次|户|天|小时|座|处|辆|台|套|件|倍|度|千瓦时?|岁)")
_HEADING = re.compile(r"第[一二三四五六七八九十百\d]+[章节条]")
_PROSE = re.compile(r"[。!?]")
_REGION = re.compile(r"(?:地区|城市|区|市|县|县城|省|乡镇|农村|城镇)$")
_INLINE_REGION = re.compile(r"(\D*[^\d\s≥≤><=])\s*([≥≤><]=?\s*\d.*)")
_SEP = re.compile(r" *\t *| {2,}")
_PAGE = re.compile(r"-\s*\d+\s*-|第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?")  # page furniture, never a cell


class _Cell(NamedTuple):
    text: str  # folded, for matching
    span: Span  # verbatim, for values and provenance
    line: int


@dataclass(slots=True)
class _Col:
    role: str
    label: str
    year: int | None = None


def find_indicator_tables(
    lines: list[Line], document: str
) -> tuple[list[Indicator], list[Warning], set[int]]:
    """Indicators of every plan-indicator table in the document, warnings, and the line numbers consumed."""
    # A table opens with a 序号 (or 编号) header cell; most documents have no line holding one
    # and are spared cutting every line into cells.
    if not any(all(ch in ln.norm for ch in word) for ln in lines for word in _NUMBER_WORDS):
        return [], [], set()
    cells = _cells(lines)
    indicators: list[Indicator] = []
    warnings: list[Warning] = []
    consumed: set[int] = set()
    i = 0
    while i < len(cells):
        j = i
        while j < len(cells) and (not cells[j].text or _head(cells[j].text)):
            j += 1
        if j == i or not cells[i].text:
            i += 1
            continue
        cols = _columns([c.text for c in cells[i:j] if c.text])
        roles = {c.role for c in cols}
        if {"number", "name"} <= roles and len(roles & _VALUE_ROLES) >= 2:
            rows, found, j, last = _table(cells, j, cols, document)
            if not rows:
                found.append(_warn("indicator_table_empty", "indicator table header without rows", [cells[i]], document))
            indicators += rows
            warnings += found
            consumed |= set(range(cells[i].line, last + 1))
        i = j
    return indicators, warnings, consumed


def _cells(lines: list[Line]) -> list[_Cell]:
    out: list[_Cell] = []
    for line in lines:
        if line.blank or _PAGE.fullmatch(line.norm.strip()):
            continue
        probe = line.raw.replace("\u3000", " ").replace("\xa0", " ")
        at, hi = len(probe) - len(probe.lstrip()), len(probe.rstrip())
        bounds = []
        for m in _SEP.finditer(probe, at, hi):
            bounds.append((at, m.start()))
            at = m.end()
        for a, b in [*bounds, (at, hi)]:  # empty cells between two tabs hold a column's place
            span = Span.of_line(line, a, b).strip(" ")
            out.append(_Cell(span.norm, span, line.no))
    return out


def _head(text: str) -> tuple[str, int | None, bool] | None:
    year = next((int(y) for y in _YEAR.findall(text)), None)
    core = _HEAD_NOISE.sub("", text)
    if not core:  # a year cell: "2025", or "2021年)" split from the 现状值( above it
        return ("year", year, "(" in text or ")" in text) if year else None
    return (_HEAD[core], year, False) if core in _HEAD else None


def _columns(texts: list[str]) -> list[_Col]:
    cols: list[_Col] = []
    for text in texts:
        role, year, paren = _head(text) or ("", None, False)
        if role == "year" and paren and cols and cols[-1].year is None:
            cols[-1].year = year
        elif text == "属性" and cols and cols[-1].label == "指标" and any(c.role == "name" for c in cols[:-1]):
            cols[-1] = _Col("attribute", "指标属性")  # "指标属性" wrapped inside its cell
        else:
            cols.append(_Col(role, text, year))
    years = [c for c in cols if c.role == "year"]
    holes = [c for c in cols if c.role == "target" and c.year is None]
    base = next((c for c in cols if c.role == "baseline"), None)
    if not holes:  # bare year columns: the earliest is the baseline when none is named
        for k, c in enumerate(years):
            c.role = "baseline" if k == 0 and base is None and len(years) > 1 else "target"
        return cols
    # a two-level header: 目标值 spans the year cells printed after the first header row
    pending = [c.year for c in years]
    if base and base.year is None and len(pending) >= 3 and len(pending) > len(holes):
        base.year = pending.pop(0)
    out: list[_Col] = []
    for c in cols:
        if c.role == "target" and c.year is None and pending:
            take = pending if len(holes) == 1 else pending[:1]
            out += [_Col("target", c.label, y) for y in take]
            pending = pending[len(take):]
        elif c.role != "year":
            out.append(c)
    return out


def _table(cells: list[_Cell], i: int, cols: list[_Col], document: str):
    after = cols[[c.role for c in cols].index("number") + 1:]
    roles = {c.role for c in cols}
    rows: list[Indicator] = []
    warnings: list[Warning] = []
    domain = category = expect = None
    pre: list[_Cell] = []
    last = cells[i - 1].line
    while i < len(cells):
        cell, t = cells[i], cells[i].text
        if not t or _head(t):  # a blank tab cell, or the header repeated at a page break
            i += 1
            continue
        if not _ROWNO.fullmatch(t):  # domain / category lines carry over to the rows below
            if _HEADING.match(t) or _PROSE.search(t) or len(t) > 30 or len(pre) >= 6:
                break
            pre.append(cell)
            i += 1
            continue
        if expect is not None and not 0 <= int(t) - expect <= 5:
            break
        if expect is not None and int(t) != expect:
            warnings.append(_warn("indicator_number_gap", f"row {t} follows row {expect - 1}", [cell], document))
        if pre:
            domain, category, pre = *_groups(pre, roles, domain, category), []
        row, j, complete = _collect(cells, i + 1, after)
        result = _row(cell, row, after, domain, category, document) if complete else "no 指标属性 cell"
        if isinstance(result, Indicator):
            rows.append(result)
        else:
            # a row that lost its attribute swallows the next one: give up on it, resume there
            nxt = next((k for k, c in enumerate(row) if c.text == str(int(t) + 1)), None)
            if nxt is not None and complete:
                row, j = row[:nxt], i + 1 + nxt
            message = f"indicator row {t} not parsed: {result}"
            warnings.append(_warn("indicator_row_unparsed", message, [cell, *row], document))
        if not complete:  # ran into prose: the table ended inside this row
            break
        last, expect, i = max(c.line for c in [cell, *row]), int(t) + 1, j
    return rows, warnings, i, last


def _collect(cells: list[_Cell], i: int, after: list[_Col]) -> tuple[list[_Cell], int, bool]:
    roles = [c.role for c in after]
    need = None if "attribute" in roles else len(roles)  # None: still looking for the attribute
    start = i
    while i < len(cells) and need != 0:
        t = cells[i].text  # a cell may hold a sentence; a heading or a paragraph ends the table
        if _HEADING.match(t) or (len(t) > 50 and _PROSE.search(t)) or i - start > 60:
            return cells[start:i], i, False
        if need is not None:
            need -= 1
        elif _ATTR.fullmatch(t):  # then the columns after the attribute, if any
            need = len(roles) - 1 - roles.index("attribute")
        i += 1
    return cells[start:i], i, need == 0


def _groups(pre: list[_Cell], roles: set[str], domain: str | None, category: str | None):
    texts = [c.span.raw for c in pre]
    mark = next((k for k, c in enumerate(pre) if _MARKER.match(c.text)), None)
    if mark is not None:  # "(一)" + its title, possibly on two lines
        category = texts[mark]
        if _MARKER.fullmatch(pre[mark].text) and mark + 1 < len(texts):
            category += texts[mark + 1]
        lead = texts[:mark]
    elif "category" in roles:  # merged cells: a lone label opens a new category in the same domain
        lead, category = texts[:-1], texts[-1]
    else:
        lead = texts
    return (lead[-1] if lead else domain), category


def _join(a: _Cell, b: _Cell) -> _Cell:
    return _Cell(a.text + b.text, a.span + b.span, b.line)


def _row(no: _Cell, row: list[_Cell], after: list[_Col], domain, category, document):
    cells: list[_Cell] = []
    for c in row:
        if _CONT.fullmatch(c.text) and cells:
            cells[-1] = _join(cells[-1], c)
        else:
            cells.append(c)
    cols, attribute = [c for c in after if c.role != "attribute"], None
    if len(cols) < len(after):
        attribute = cells.pop(max(k for k, c in enumerate(cells) if _ATTR.fullmatch(c.text))).span.raw
    if (len(cells) > len(cols) > 1 and cols[1].role == "unit" and len(cells) > 2
            and not _UNIT.fullmatch(cells[1].text) and _UNIT.fullmatch(cells[2].text)):
        cells[:2] = [_join(cells[0], cells[1])]  # a single label line is the name wrapped in its cell
    common = {
        "number": no.text, "attribute": attribute, "domain": domain, "category": category,
        "baseline_year": next((c.year for c in cols if c.role == "baseline"), None),
        "source": _source([no, *row], document),
    }
    if len(cells) == len(cols):
        fields = _fields(cols, [c.span.raw or None for c in cells])
        return Indicator(**common, **fields) if fields.get("name") else "empty 指标名称"
    if len(cells) < len(cols) or cols[0].role != "name" or "unit" not in {c.role for c in cols}:
        return f"{len(cells)} cells for {len(cols)} columns"
    return _composite(cells, [c for c in cols[1:] if c.role != "unit"], common)


def _composite(cells: list[_Cell], vcols: list[_Col], common: dict):
    # name, k label lines (sub-indicators or regions), 1 or k units, then the value columns
    name, body = cells[0].span.raw, cells[1:]
    k = next((p for p, c in enumerate(body) if _UNIT.fullmatch(c.text)), len(body))
    if k >= len(body):
        return "composite row without a 单位 cell"
    nunits = k if k > 1 and all(_UNIT.fullmatch(c.text) for c in body[k:2 * k]) else 1
    labels = [c.span.raw for c in body[:k]]
    units = [_unit(c.span.raw or None) for c in body[k:k + nunits]]
    values = [c.span.raw or None for c in body[k + nunits:]]
    if not labels:  # "大城市≥60": the region and its standard share one cell
        hits = [p for p, v in enumerate(values) if v and _INLINE_REGION.fullmatch(fold(v))]
        if len(hits) < 2 or hits[-1] - hits[0] != len(hits) - 1:
            return f"{len(values)} values for {len(vcols)} columns and no sub-row labels"
        for p in hits:
            cut = _INLINE_REGION.fullmatch(fold(values[p])).start(2)
            labels.append(values[p][:cut].strip())
            values[p] = values[p][cut:]
        k = len(labels)
    roles = [c.role for c in vcols]
    if "standard" in roles and len(values) == k + len(vcols) - 1 and all(_REGION.search(fold(x)) for x in labels):
        chunks = _split(values, [k if r == "standard" else 1 for r in roles])
        fields = _fields(vcols, [None if r == "standard" else ch[0] for r, ch in zip(roles, chunks, strict=True)])
        regions = [{"region": x, "standard": v or ""} for x, v in zip(labels, chunks[roles.index("standard")], strict=True)]
        unit = units[0] if nunits == 1 else None
        return Indicator(**common, **fields, name=name, unit=unit, standard_by_region=regions)
    if k < 2 or k ** len(vcols) > 100_000:
        return f"{k} sub-row labels over {len(vcols)} columns"
    options = [s for s in itertools.product(range(1, k + 1), repeat=len(vcols)) if sum(s) == len(values)]
    if not options:
        return f"{len(values)} values do not fit {len(vcols)} columns x {k} sub-rows"
    chunks = _split(values, list(min(options, key=lambda s: _score(_split(values, list(s)), k))))
    subs = [  # a column of one value is shared; a short column leaves its last sub-rows blank
        Indicator(name=label, unit=units[s if nunits > 1 else 0], baseline_year=common["baseline_year"],
                  **_fields(vcols, [ch[0] if len(ch) == 1 else (ch[s] if s < len(ch) else None) for ch in chunks]))
        for s, label in enumerate(labels)
    ]

    def shared(get):  # the row's own value is one serving every sub-row; differing ones are not
        got = {get(x) for x in subs}
        return got.pop() if len(got) == 1 else None

    targets = {key: shared(lambda x, key=key: x.targets.get(key)) for key in subs[0].targets}
    return Indicator(**common, name=name, unit=shared(lambda x: x.unit), standard=shared(lambda x: x.standard),
                     baseline=shared(lambda x: x.baseline), targets=targets, sub_indicators=subs)


def _score(chunks: list[list[str | None]], k: int) -> float:
    # sub-row s should hold the same kind of value in every column; a column should be uniform
    # and not repeat itself (a value shared by all sub-rows is printed once, as a merged cell);
    # a column shorter than k (blank cells) is allowed but each odd length costs
    multi = [ch for ch in chunks if len(ch) > 1]
    kinds = [[_kind(v) for v in ch] for ch in multi]
    score = sum(2 * sum(x != y for x, y in zip(a, b, strict=False)) for a, b in itertools.combinations(kinds, 2))
    score += 0.5 * sum(len(set(ks)) - 1 for ks in kinds) + sum(len(ch) - len(set(ch)) for ch in multi)
    return score + 3 * len({len(ks) for ks in kinds if len(ks) != k})


def _kind(value: str | None) -> str:
    text = fold(value or "")
    return "cmp" if _CMP.match(text) else "num" if _NUM.fullmatch(text) else "text"


def _split(values: list, sizes: list[int]) -> list[list]:
    return [values[a:b] for a, b in itertools.pairwise(itertools.accumulate(sizes, initial=0))]


def _fields(cols: list[_Col], values: list[str | None]) -> dict:
    pairs = list(zip(cols, values, strict=True))
    fields = {c.role: _unit(v) if c.role == "unit" else v
              for c, v in pairs if c.role in ("name", "unit", "standard", "baseline")}
    return {**fields, "targets": {str(c.year or c.label): v for c, v in pairs if c.role == "target"}}


def _unit(value: str | None) -> str | None:
    return None if value is None or not fold(value).strip("-/ ") else value


def _source(cells: list[_Cell], document: str):
    return sum((c.span for c in cells), Span.empty()).source(document)


def _warn(code: str, message: str, cells: list[_Cell], document: str) -> Warning:
    return Warning(code=code, message=message, line=cells[0].line, source=_source(cells, document))
