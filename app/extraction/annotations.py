"""Unit annotations inside a task's text: where they are and what they say.

The genre marks a task's units in many ways: 〔牵头单位:X;责任单位:Y〕, (X、Y等按职责分工负责)
with or without its opening bracket, labels on their own line, "X牵头，Y配合", person fields
such as 责任领导. An annotation may also carry a document-wide rule or a 完成时限.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field

from app.extraction.models import Jurisdiction
from app.extraction.text import Span
from app.extraction.units import (
    Name,
    is_group,
    looks_like_unit,
    repair,
    split_list,
    unit_list_share,
)
from app.extraction.vocab import DEADLINE_LABELS, PERSON_LABELS, ROLE_LABELS

_LABELS = sorted([*ROLE_LABELS, *PERSON_LABELS, *DEADLINE_LABELS], key=len, reverse=True)
# The lookahead on the labels' first characters spares trying every label after every comma.
_LABEL = re.compile(r"(?:^|(?<=[\s;,。.、]))(?=[" + "".join(sorted({w[0] for w in _LABELS})) + "])("
                    + "|".join(map(re.escape, _LABELS)) + r")\s*[:为]?\s*")
_ROLE_VERB = re.compile(r"(牵头负责|牵头|配合|协助|参与|协办|负责|按职责分工负责|按职责分别负责|分别负责)"
                        r"(?:落实|实施|推进|完成)?$")
_VERB_ROLE = {"牵头": "lead", "牵头负责": "lead", "配合": "cooperating", "协助": "cooperating", "参与": "cooperating",
              "协办": "cooperating"}
_MARKERS = ("按职责分工负责", "按职责分别负责", "分别负责", "负责", "牵头", "配合", "负责落实", "负责实施",
            "牵头落实", "配合落实", "参与", "协助")
_MARKER_WORDS = re.compile("负责|牵头|配合|参与|协助")  # every one of _MARKERS holds one of these

# Each rule pattern with the words a text needs before the regex is tried: the words it
# cannot match without, so that most text (every annotation names 牵头单位) skips it.
RULES: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    ("responsible_is_lead", ("无牵头单位",), re.compile(r"无牵头单位的?,?责任单位即?为牵头单位")),
    ("lead_first_listed", ("第一", "为牵头单位"), re.compile(
        r"(?:有多个责任单位的?,?)?(?:排名|排序|排列|列)?第一(?:位)?的?(?:单位)?为牵头单位,?(?:下同)?")),
    # 责任 is required even though 实施主体 could match without it.
    ("implied_units", ("责任", "任务", "不"), re.compile(
        r"(?P<units>[^,;:。]*?)(?:为|是)(?P<scope>以下|下列)?(?:各项|所有|全部|每项)?(?:重点)?(?:工作)?"
        r"任务的?(?:共同)?(?:责任单位|责任主体|实施主体),?(?:以下)?(?:不再?一一列出|不再单列|不再列出|"
        r"不一一列举|不再重复列出)")),
    ("implied_units", ("均需", "落实", "不"), re.compile(
        r"(?P<scope>以下|下列)?(?:各项任务)?均需(?P<units>[^;。]+?)落实,?(?:不再列出|不一一列出|不再单列)")),
)
_BRACKETS = re.compile(r"[\[()\]。]")  # the only characters find_annotations acts on
_BREAKS = re.compile(r"[。;]")
_LONGEST = 600  # characters inside the brackets, stripped: longer is prose, not an annotation
_STOPS = re.compile(r"[。.]")
_LEAD_VERB = re.compile(r"牵头[,;]")


@dataclass(slots=True)
class Mention:
    role: str
    name: Name


@dataclass(slots=True)
class FoundRule:
    kind: str
    span: Span
    implied: list[Name] = field(default_factory=list)
    from_here_on: bool = False


@dataclass(slots=True)
class Annotation:
    lo: int
    hi: int
    span: Span
    inner: Span
    mentions: list[Mention] = field(default_factory=list)
    leaders: list[tuple[str, Span]] = field(default_factory=list)
    rules: list[FoundRule] = field(default_factory=list)
    deadline: Span | None = None
    explicit_lead: bool = False
    unrecognised: list[Span] = field(default_factory=list)


def find_rules(span: Span, jurisdiction: Jurisdiction | None) -> list[FoundRule]:
    found: list[FoundRule] = []
    taken: list[tuple[int, int]] = []
    norm = span.norm
    for kind, words, pattern in RULES:
        if not _has_all(norm, words):
            continue
        for m in pattern.finditer(norm):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            implied = repair(split_list(span[m.start("units") : m.end("units")]), jurisdiction) \
                if "units" in pattern.groupindex else []
            text = m[0]
            from_here_on = bool(("scope" in pattern.groupindex and m["scope"]) or "下同" in text)
            found.append(FoundRule(kind, span[m.start() : m.end()], implied, from_here_on))
    return sorted(found, key=lambda r: r.span.offsets[0])


def _has_all(text: str, words: tuple[str, ...]) -> bool:
    for word in words:  # a loop, not all(): this runs for every rule on every annotation
        if word not in text:
            return False
    return True


def find_annotations(block: Span, jurisdiction: Jurisdiction | None) -> list[Annotation]:
    norm = block.norm
    found: list[Annotation] = []
    # Every bracket's partner, and every sentence break, found once: looking them up from each
    # bracket in turn took quadratic time on a run of thousands of brackets.
    i, sentence_start, closers = 0, 0, _closers(norm)
    breaks = [m.start() for m in _BREAKS.finditer(norm)]
    while (mark := _BRACKETS.search(norm, i)) is not None:
        i = mark.start()
        ch = norm[i]
        if ch in "[(":
            close = closers.get(i)
            end = close if close is not None else len(norm)
            inner = None if _too_long(norm, i + 1, end) else block[i + 1 : end]
            if inner is not None and _is_annotation(inner, _after_sentence(norm, sentence_start, i)):
                hi = close + 1 if close is not None else len(norm)
                found.append(_parse(block, i, hi, inner, jurisdiction))
                i = sentence_start = hi
                continue
            i = close + 1 if close is not None else i + 1
            continue
        if ch in ")]":
            before = bisect_left(breaks, i) - 1
            start = max(breaks[before] if before >= 0 else -1, found[-1].hi - 1 if found else -1)
            inner = None if _too_long(norm, start + 1, i) else block[start + 1 : i]
            if inner is not None and _is_annotation(inner, after_sentence=False):
                found.append(_parse(block, start + 1, i + 1, inner, jurisdiction))
                sentence_start = i + 1
        elif ch == "。":
            sentence_start = i + 1
        i += 1
    return _merge_fieldless(sorted(found + _unbracketed(block, found, jurisdiction), key=lambda a: a.lo))


def _merge_fieldless(anns: list[Annotation]) -> list[Annotation]:
    """A 完成时限 or 责任领导 field with no units completes the annotation before it."""
    out: list[Annotation] = []
    for ann in anns:
        if out and not ann.mentions and not ann.rules:
            prev = out[-1]
            prev.deadline = prev.deadline or ann.deadline
            prev.leaders += ann.leaders
            prev.hi, prev.span = ann.hi, prev.span + ann.span
            continue
        out.append(ann)
    return out


def _too_long(norm: str, lo: int, hi: int) -> bool:
    """Whether norm[lo:hi] is surely longer than an annotation once stripped, told without
    copying it: so when it does not begin or end with a space."""
    return hi - lo > _LONGEST and not norm[lo].isspace() and not norm[hi - 1].isspace()


def _after_sentence(norm: str, sentence_start: int, at: int) -> bool:
    """Nothing but spaces since the sentence began, or the text before ends a sentence."""
    last = at - 1
    while last >= 0 and norm[last].isspace():
        last -= 1
    return last < sentence_start or norm[last] in "。;"


def _closers(norm: str) -> dict[int, int]:
    """Where the bracket opened at each position closes; an opener left out never closes.
    After "(": the ) or ] at its own depth, unless a 。 comes first. After "[": the first ],
    or the first ) at its own depth ( "(" nests, "[" does not). One pass for the whole block:
    scanning ahead from every opener took quadratic time on a run of unclosed brackets."""
    found: dict[int, int] = {}
    parens: list[int] = []  # open "(", innermost last
    squares: dict[int, list[int]] = {}  # open "[", by the paren depth they were opened at
    depth = 0
    for m in _BRACKETS.finditer(norm):
        ch, j = m[0], m.start()
        if ch == "(":
            parens.append(j)
            depth += 1
        elif ch == "[":
            squares.setdefault(depth, []).append(j)
        elif ch == "。":
            parens.clear()
        else:
            if parens:
                found[parens.pop()] = j
            for at in squares.pop(depth, []):
                found[at] = j
            if ch == "]":
                for waiting in squares.values():
                    found.update(dict.fromkeys(waiting, j))
                squares.clear()
            depth -= 1
    return found


def _is_annotation(inner: Span, after_sentence: bool) -> bool:
    text = inner.norm.strip()
    if not text or len(text) > _LONGEST:
        return False
    if _LABEL.match(text) and not text.startswith(tuple(DEADLINE_LABELS)):
        return True
    masked = _mask_rules(inner.norm)
    if masked != inner.norm:
        inner = Span(inner.raw, masked, inner.offsets, inner.lines)
        text = masked.strip(" ;,")
    units, pieces = unit_list_share(inner)
    if not units:
        return False
    if text.endswith(_MARKERS) or _LEAD_VERB.search(text):
        return units * 2 >= pieces
    return after_sentence and units == pieces


def _unbracketed(block: Span, found: list[Annotation], jurisdiction: Jurisdiction | None) -> list[Annotation]:
    """Labels written out in the text (牵头单位：X；责任单位：Y) and a trailing unit list that lost
    both its brackets (…。自然资源局、生态环境局等按职责分工负责)."""
    norm = block.norm
    taken = [(a.lo, a.hi) for a in found]
    out: list[Annotation] = []
    for m in _LABEL.finditer(norm):
        if any(a <= m.start() < b for a, b in taken):
            continue
        before = norm[: m.start()].rstrip()
        if before and not before.endswith(("。", ";", ".", "]", ")")):
            continue
        end = norm.find("。", m.end())
        hi = len(norm) if end < 0 else end + 1
        out.append(_parse(block, m.start(), hi, block[m.start() : hi], jurisdiction))
        taken.append((m.start(), hi))
        break
    # Sentences that are nothing but a unit list with its verb: 县自然资源局牵头，县财政局配合。
    # Such a sentence lies outside every annotation found, and so does its verb: most blocks
    # have none there and skip the sentence by sentence reading.
    verbs = (m for m in _MARKER_WORDS.finditer(norm) if not _overlaps(m.start(), m.end(), taken))
    if next(verbs, None) is None:
        return out
    lo = 0
    stops = [m.end() for m in _STOPS.finditer(norm)
             if m[0] == "。" or not norm[m.end() : m.end() + 1].isdigit()]
    for end in [*stops, len(norm)]:
        text = norm[lo:end].strip(" 。.")
        if text and text.endswith(_MARKERS) and not _overlaps(lo, end, taken):
            sentence = block[lo:end]
            if _is_annotation(sentence.strip(" 。."), after_sentence=False):
                out.append(_parse(block, lo, end, sentence, jurisdiction))
                taken.append((lo, end))
        lo = end
    return out


def _overlaps(lo: int, hi: int, taken: list[tuple[int, int]]) -> bool:
    for a, b in taken:
        if a < hi and lo < b:
            return True
    return False


def _mask_rules(norm: str) -> str:
    for _, words, pattern in RULES:
        if _has_all(norm, words):
            norm = pattern.sub(lambda m: ";" * len(m[0]), norm)
    return norm


def parse_field(cell: Span, role: str, jurisdiction: Jurisdiction | None) -> Annotation:
    """A table cell or a labelled field whose column already says the role."""
    return _parse(cell, 0, len(cell), cell, jurisdiction, default_role=role)


def _parse(block: Span, lo: int, hi: int, inner: Span, jurisdiction: Jurisdiction | None,
           default_role: str = "responsible") -> Annotation:
    ann = Annotation(lo, hi, block[lo:hi], inner)
    ann.rules = find_rules(inner, jurisdiction)
    text = _masked(inner, ann.rules) if ann.rules else inner.norm
    fields: list[tuple[str | None, int, int]] = []
    labels = list(_LABEL.finditer(text))
    if not labels or labels[0].start() > 0:
        fields.append((None, 0, labels[0].start() if labels else len(text)))
    for k, m in enumerate(labels):
        fields.append((m[1], m.end(), labels[k + 1].start() if k + 1 < len(labels) else len(text)))
    for label, a, b in fields:
        # Rule text is masked as separators, so the list splitter drops it.
        body = Span(inner.raw[a:b], text[a:b], inner.offsets[a:b], inner.lines[a:b])
        if label in PERSON_LABELS:
            ann.leaders += [(label, p) for p in split_list(body)]
        elif label in DEADLINE_LABELS:
            ann.deadline = body.strip(" ,;")
        else:
            _add_units(ann, body, ROLE_LABELS.get(label or "", None), jurisdiction, default_role)
    return ann


def _masked(inner: Span, rules: list[FoundRule]) -> str:
    masked = list(inner.norm)
    for rule in rules:
        start = inner.offsets.index(rule.span.offsets[0])
        end = start + len(rule.span)
        # A rule in its own brackets, (以下均需…不再列出), takes its brackets with it.
        if start and end < len(masked) and masked[start - 1] in "([" and masked[end] in ")]":
            start, end = start - 1, end + 1
        masked[start:end] = ";" * (end - start)
    return "".join(masked)


def _add_units(ann: Annotation, body: Span, role: str | None, jurisdiction: Jurisdiction | None,
               default_role: str) -> None:
    for part in _split_top(body, ",;") if role is None else [body]:
        part_role = role
        if role is None:
            part = part.strip(" ,;。.")
            verb = _ROLE_VERB.search(part.norm)
            part_role = _VERB_ROLE.get(verb[1], default_role) if verb else default_role
            if verb and verb.start() > 0 and verb[1] in _VERB_ROLE:
                part = part[: verb.start()]
            if part.norm.startswith("由"):
                part = part[1:]
        ann.explicit_lead |= part_role == "lead"
        for name in repair(split_list(part), jurisdiction):
            if looks_like_unit(name.name) or is_group(name.name) or role is not None:
                ann.mentions.append(Mention(part_role, name))
            else:
                ann.unrecognised.append(name.span)


def _split_top(span: Span, sep: str) -> list[Span]:
    out, depth, lo = [], 0, 0
    for i, ch in enumerate(span.norm):
        depth += ch in "(["
        depth -= ch in ")]" and depth > 0
        if ch in sep and depth == 0:
            out.append(span[lo:i])
            lo = i + 1
    out.append(span[lo:])
    return [s for s in out if s.norm.strip()]
