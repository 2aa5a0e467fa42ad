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
_QUANTITY = re.compile(
    rf"(?P<q>{_QUALIFIER})?\s*(?P<n>\d+(?:\.\d+)?(?:\s*[-~]\s*\d+(?:\.\d+)?)?)\s*"
    rf"(?P<mul>[万亿千](?!平方|千瓦))?\s*(?P<u>{_MEASURES})\s*(?P<tail>以上|以下|左右|以内)?"
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
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|《[^》]*》|\([^)]*\)")


def find_milestones(span: Span, period: Period | None, due_default: date | None,
                    document: str) -> list[Milestone]:
    out: list[Milestone] = []
    for sentence in _sentences(span):
        due, due_text, opened = None, None, None
        for index, (lo, hi) in enumerate(_clauses(sentence)):
            clause = sentence[lo:hi]
            marker = _MARKER.match(clause.norm.lstrip())
            dated_here = bool(marker and _is_year_marker(clause.norm.lstrip(), marker))
            if dated_here:
                lead = len(clause.norm) - len(clause.norm.lstrip())
                due_text = clause.raw[lead + marker.start("to" if marker["to"] else "year") : lead + marker.end()].strip()
                due, _ = parse_deadline(marker["year"] + "年", period)
                opened = (index, lo)
            # A target right after its year marker is quoted from the marker on.
            text_from = opened[1] if opened and index - opened[0] <= 1 else lo
            for m in _targets(clause, sentence[text_from:hi], due, due_text, due_default, document):
                # 30%以上，力争达到40%左右: the second level stretches the first.
                if out and not dated_here and not m.metric \
                        and m.text.lstrip().startswith(("力争", "争取")):
                    out[-1].target_stretch = m.target
                else:
                    out.append(m)
    return out


def _sentences(span: Span) -> list[Span]:
    pieces, lo = [], 0
    for i, ch in enumerate(span.norm):
        if ch in "。!?;":
            pieces.append(span[lo : i + 1])
            lo = i + 1
    pieces.append(span[lo:])
    return [p for p in pieces if p.norm.strip()]


def _clauses(sentence: Span) -> list[tuple[int, int]]:
    masked = _QUOTED.sub(lambda m: "_" * len(m[0]), sentence.norm)
    out, lo = [], 0
    for m in _CLAUSE_SPLIT.finditer(masked):
        out.append((lo, m.start()))
        lo = m.end()
    out.append((lo, len(masked)))
    return [(a, b) for a, b in out if sentence.norm[a:b].strip(" 。")]


def _is_year_marker(text: str, marker: re.Match[str]) -> bool:
    after = text[marker.end(): marker.end() + 2]
    return not after.startswith(("以来", "起", "度", "版", "的", "开始", "基础", "水平"))


def _targets(clause: Span, quoted: Span, due: date | None, due_text: str | None,
             due_default: date | None, document: str) -> list[Milestone]:
    masked = _QUOTED.sub(lambda m: "_" * len(m[0]), clause.norm)
    marker = _MARKER.match(masked.lstrip())
    skip = (len(masked) - len(masked.lstrip()) + marker.end()) if marker else 0
    quoted = quoted.strip(" 。;")
    coverage = re.search(r"(?:实现|达到)?(.*\d.*全覆盖)$", masked.rstrip(" 。"))
    if coverage and coverage.start(1) >= skip:
        # 实现全县25个乡镇及1个工业园区全覆盖: the whole reach is the one target.
        target = clause.raw[coverage.start(1) : coverage.end(1)].strip()
        return [Milestone(text=quoted.raw, due=due or due_default, due_text=due_text,
                          metric="覆盖范围", target=re.sub(r"\s+", "", target),
                          optional=due is None, source=quoted.source(document))]
    found: list[Milestone] = []
    for q in _QUANTITY.finditer(masked, skip):
        if _descriptive(masked, q):
            continue
        target = re.sub(r"\s+", "", "".join(filter(None, (q["q"], q["n"], q["mul"], q["u"], q["tail"]))))
        found.append(Milestone(
            text=quoted.raw,
            due=due or due_default,
            due_text=due_text,
            metric=_metric(clause.raw[skip:q.start()], clause.raw[q.end():]),
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
    return bool(re.search(r"\d[.:]?$", before))


def _metric(before: str, after: str) -> str:
    """The noun phrase a target measures, verbatim: the subject before the verb, or the
    object after the number when the clause opens with the verb (完成535座…的废弃矿山治理)."""
    folded = fold(before)
    lo = max((m.end() for m in re.finditer(r"[、和及与]", folded)), default=0) if "、" in folded else 0
    lo += len(folded[lo:]) - len(folded[lo:].lstrip())
    lead = re.match(r"(?:力争|争取|确保|实现)+", folded[lo:])
    lo += lead.end() if lead else 0
    verb = _VERBS.match(folded[lo:])
    lo += verb.end() if verb else 0
    hi = len(folded.rstrip())
    tail_verb = re.search(r"(?:力争|争取|确保|实现)?(?:达到|达|提高到|提高至|提升至|增加至|上升到|稳定在|"
                          r"保持在|控制在|下降|降低|减少|不低于|不少于|突破|超过)$", folded[lo:hi])
    hi = lo + tail_verb.start() if tail_verb else hi
    subject = before[lo:hi].strip()
    if subject:
        return subject
    obj = re.match(r"\s*的?([^,;、。和]{2,30})", fold(after))
    return after[obj.start(1) : obj.end(1)].strip() if obj else ""
