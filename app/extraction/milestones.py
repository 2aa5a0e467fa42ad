"""Milestones: the measurable targets inside a task's text, each with the date it is due.

A target sentence opens with a year marker (到2025年, 2026年, 力争到2027年, 2024—2026年) and
governs every clause up to the end of the sentence; a target without a year of its own is
kept as optional, due when its task is due.
"""

from __future__ import annotations

import re
from datetime import date

from app.extraction.dates import parse_deadline
from app.extraction.models import Milestone, Period
from app.extraction.text import Span, fold

_MEASURES = (
    "个百分点|万平方千米|万平方公里|万千瓦时|万千瓦|千瓦|亿立方米|万立方米/日|立方米/日|吨/日|万立方米|立方米|微克/立方米|"
    "平方公里|平方千米|万平方米|平方米|公顷|万亩|亩|公里|千米|万吨|吨|亿元|万元|元|万根|根|座|个工作日|个|家|"
    "条|处|项|台|辆|套|户|所|批|件|宗|例|类|人次|万人|人|倍|%|‰|个工作日|工作日|天|小时|万标箱|标箱|艘|列"
)
_QUALIFIER = r"约|超过|不低于|不少于|不超过|不高于|低于|下降|降低|减少"
# The lookaheads name the characters a match, and a measure, can start with: without them the
# engine tries the optional qualifier at every character and all the measures after every digit.
# No measure starts with a digit, so a number never gives digits back (\d++): backtracking into
# 2029 digit by digit only ever fails.
_MEASURE_HEADS = "".join(sorted({m[0] for m in _MEASURES.split("|")}))
_QUANTITY = re.compile(
    rf"(?=[约超不低下降减\s\d])(?P<q>{_QUALIFIER})?\s*(?P<n>\d++(?:\.\d++)?(?:\s*[-~]\s*\d++(?:\.\d++)?)?)\s*"
    rf"(?P<mul>[万亿千](?!平方|千瓦))?\s*(?=[{_MEASURE_HEADS}])(?P<u>{_MEASURES})\s*(?P<tail>以上|以下|左右|以内)?"
)
_MARKER = re.compile(
    r"(?P<lead>力争|争取|确保)?\s*(?P<to>到|至|在|于)?\s*"
    r"(?P<year>(?:(?:19|20)\d{2}\s*[-~至]?\s*)?(?:19|20)\d{2})\s*年(?:底|末)?(?:前)?"
)
_ATTRIBUTE_NOUNS = ("路宽", "海拔", "宽度", "高度", "长度", "深度", "直径", "单机", "功率", "占地",
                    "用地规模", "日处理", "年产", "年处理", "规模")
_VERBS = re.compile(
    r"^(?:力争|争取|确保|实现|全面)*(?:累计)?(?:达到|达|提高到|提高至|提升到|提升至|增加至|增加到|"
    r"上升到|上升至|下降到|下降至|降低到|降至|控制在|稳定在|保持在|维持在|建成|完成|新建设|新建|"
    r"改造|创建|培育形成|培育|打造|新增|新认证|认证|新改建|建设改造|建设|推进|实施|续建|摸排)"
)
_CLAUSE_SPLIT = re.compile(r"[,;:]")
_JOINERS = re.compile(r"[、和及与]")
_RESOLVE = re.compile(r"(?:力争|争取|确保|实现)+")
_TAIL_VERB = re.compile(r"(?:力争|争取|确保|实现)?(?:达到|达|提高到|提高至|提升至|增加至|上升到|稳定在|"
                        r"保持在|控制在|下降|降低|减少|不低于|不少于|突破|超过)$")
_OBJECT = re.compile(r"\s*的?([^,;、。和]{2,30})")
_NUMBER_BEFORE = re.compile(r"\d[.:]?$")
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|《[^》]*》|\([^)]*\)")
_OPENERS = re.compile(r"[“\"《(]")
_SENTENCE_STOP = re.compile(r"[。!?;]")
_COVERAGE = re.compile(r"(?:实现|达到)?(.*\d.*全覆盖)$")
_SPACES = re.compile(r"\s+")
# Every year marker and every target holds a digit, so text without one is passed over.
_DIGIT = re.compile(r"\d")


def find_milestones(span: Span, period: Period | None, due_default: date | None,
                    document: str) -> list[Milestone]:
    # Sentences and clauses are (start, end) offsets into `span`: a span is cut only for a
    # target's quote, which few clauses have.
    out: list[Milestone] = []
    norm = span.norm
    for start, end in _sentences(norm):
        masked = _mask_quoted(norm[start:end])
        # A clause is masked as its sentence is, so a sentence without a quantity or a 全覆盖
        # holds no target, and its year markers date nothing.
        if "全覆盖" not in masked and not _QUANTITY.search(masked):
            continue
        due, due_text, opened = None, None, None
        for index, (lo, hi) in enumerate(_clauses(norm, start, masked)):
            if not _DIGIT.search(norm, lo, hi):
                continue
            text = norm[lo:hi]
            marker = _MARKER.match(text.lstrip())
            dated_here = bool(marker and _is_year_marker(text.lstrip(), marker))
            if dated_here:
                lead = lo + len(text) - len(text.lstrip())
                due_text = span.raw[lead + marker.start("to" if marker["to"] else "year") : lead + marker.end()].strip()
                due, _ = parse_deadline(marker["year"] + "年", period)
                opened = (index, lo)
            # A target right after its year marker is quoted from the marker on.
            text_from = opened[1] if opened and index - opened[0] <= 1 else lo
            for m in _targets(span, (lo, hi), marker, text_from, due, due_text, due_default, document):
                # 30%以上，力争达到40%左右: the second level stretches the first.
                if out and not dated_here and not m.metric \
                        and m.text.lstrip().startswith(("力争", "争取")):
                    out[-1].target_stretch = m.target
                else:
                    out.append(m)
    return out


def _sentences(norm: str) -> list[tuple[int, int]]:
    bounds, lo = [], 0
    for m in _SENTENCE_STOP.finditer(norm):
        bounds.append((lo, m.end()))
        lo = m.end()
    bounds.append((lo, len(norm)))
    return [(a, b) for a, b in bounds if _DIGIT.search(norm, a, b)]


def _mask_quoted(norm: str) -> str:
    if not _OPENERS.search(norm):  # most clauses quote nothing: skip the substitution
        return norm
    return _QUOTED.sub(lambda m: "_" * len(m[0]), norm)


def _clauses(norm: str, start: int, masked: str) -> list[tuple[int, int]]:
    """The clauses of the sentence at `start`, split where its `masked` text is unquoted."""
    out, lo = [], 0
    for m in _CLAUSE_SPLIT.finditer(masked):
        out.append((start + lo, start + m.start()))
        lo = m.end()
    out.append((start + lo, start + len(masked)))
    return [(a, b) for a, b in out if norm[a:b].strip(" 。")]


def _is_year_marker(text: str, marker: re.Match[str]) -> bool:
    after = text[marker.end(): marker.end() + 2]
    return not after.startswith(("以来", "起", "度", "版", "的", "开始", "基础", "水平"))


def _targets(span: Span, clause: tuple[int, int], marker: re.Match[str] | None, text_from: int,
             due: date | None, due_text: str | None, due_default: date | None,
             document: str) -> list[Milestone]:
    """The targets of `span[clause]`, each quoting the span from `text_from` to the clause's end;
    `marker` is the clause's year marker, read again here once quotes are masked."""
    lo, hi = clause
    masked = _mask_quoted(span.norm[lo:hi])
    if masked != span.norm[lo:hi]:
        marker = _MARKER.match(masked.lstrip())
    skip = (len(masked) - len(masked.lstrip()) + marker.end()) if marker else 0
    coverage = _COVERAGE.search(masked.rstrip(" 。")) if "全覆盖" in masked else None
    covered = coverage is not None and coverage.start(1) >= skip
    quantities = [] if covered else \
        [q for q in _QUANTITY.finditer(masked, skip) if not _descriptive(masked, q)]
    if not (covered or quantities):
        return []  # the usual clause: nothing to quote, so no span is cut
    raw = span.raw[lo:hi]
    quoted = span[text_from:hi].strip(" 。;")
    if covered:
        # 实现全县25个乡镇及1个工业园区全覆盖: the whole reach is the one target.
        target = raw[coverage.start(1) : coverage.end(1)].strip()
        return [Milestone(text=quoted.raw, due=due or due_default, due_text=due_text,
                          metric="覆盖范围", target=_SPACES.sub("", target),
                          optional=due is None, source=quoted.source(document))]
    found: list[Milestone] = []
    for q in quantities:
        target = _SPACES.sub("", "".join(filter(None, (q["q"], q["n"], q["mul"], q["u"], q["tail"]))))
        found.append(Milestone(
            text=quoted.raw,
            due=due or due_default,
            due_text=due_text,
            metric=_metric(raw[skip:q.start()], raw[q.end():]),
            target=target,
            optional=due is None,
            source=quoted.source(document),
        ))
    return found


def _descriptive(text: str, q: re.Match[str]) -> bool:
    before, after = text[: q.start()], text[q.end():]
    if before.endswith(_ATTRIBUTE_NOUNS) or after.startswith(("及以下", "及以上", "/小时", "范围")):
        return True
    digits = q["n"].split(".")[0]
    # A year that lost its 年 (以20243条示范带) is not a count of 20243.
    if len(digits) >= 5 and digits[:2] in ("19", "20") and not q["mul"]:
        return True
    return bool(_NUMBER_BEFORE.search(before))


def _metric(before: str, after: str) -> str:
    """The noun phrase a target measures, verbatim: the subject before the verb, or the
    object after the number when the clause opens with the verb (完成535座…的废弃矿山治理)."""
    folded = fold(before)
    lo = max((m.end() for m in _JOINERS.finditer(folded)), default=0) if "、" in folded else 0
    lo += len(folded[lo:]) - len(folded[lo:].lstrip())
    lead = _RESOLVE.match(folded[lo:])
    lo += lead.end() if lead else 0
    verb = _VERBS.match(folded[lo:])
    lo += verb.end() if verb else 0
    hi = len(folded.rstrip())
    tail_verb = _TAIL_VERB.search(folded[lo:hi])
    hi = lo + tail_verb.start() if tail_verb else hi
    subject = before[lo:hi].strip()
    if subject:
        return subject
    obj = _OBJECT.match(fold(after))
    return after[obj.start(1) : obj.end(1)].strip() if obj else ""
