"""Unit names: splitting a list, repairing what the print damaged, and resolving each name
to its canonical form within the issuing jurisdiction."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.extraction.models import Jurisdiction
from app.extraction.text import Span, fold
from app.extraction.vocab import (
    ABBREVIATIONS,
    DEPARTMENT_CORES,
    GROUP_MARKERS,
    LEVEL_PREFIXES,
    UNIT_ENDINGS,
    UNIT_NOTES,
)

_SEPARATORS = "、,;"
_PLACE = r"[\u4e00-\u9fff]{2,3}?(?:自治县|县|区|市|旗)"
_PLACE_RUN = re.compile(rf"^((?:{_PLACE}){{2,}}?)(人民政府|政府)?$")
_ONE_PLACE = re.compile(rf"^{_PLACE}$")
_SENTENCE_MARKS = re.compile(r"[。!?！？\"“”《》]")
_SPLIT_AFTER = ("局", "厅", "中心")
_DATE_WORDS = re.compile(r"^[\d年月]|底前|年底|月底|\d{4}")
_PREFIXED_BODIES = ("人大", "政协", "委", "纪委")


@dataclass(slots=True)
class Name:
    as_written: str
    name: str
    span: Span


def split_list(span: Span) -> list[Span]:
    """Split a unit list on 、，,;； and runs of spaces, never inside parentheses."""
    pieces: list[Span] = []
    depth, lo = 0, 0
    norm = span.norm
    for i, ch in enumerate(norm):
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
        elif depth == 0 and (ch in _SEPARATORS or ch == " "):
            pieces.append(span[lo:i])
            lo = i + 1
    pieces.append(span[lo:])
    return [p for p in (strip_notes(p) for p in pieces) if p.norm]


_NOTES = ("(按职责分工负责)", "(排名第一位的为牵头单位)", *UNIT_NOTES)


def strip_notes(piece: Span) -> Span:
    text = piece.norm
    lo, hi = 0, len(text)
    while lo < hi and text[lo] in " ,.:;、。":
        lo += 1
    changed = True
    while changed:
        changed = False
        while hi > lo and text[hi - 1] in " ,.:;、。":
            hi -= 1
        for note in _NOTES:
            if text.endswith(note, lo, hi) and hi - lo > len(note) + 1:
                hi -= len(note)
                changed = True
    return piece[lo:hi] if (lo, hi) != (0, len(text)) else piece


def has_unit_ending(name: str) -> bool:
    return name.endswith(UNIT_ENDINGS) or name in DEPARTMENT_CORES


def is_group(name: str) -> bool:
    name = fold(name)
    return name.startswith("各") or any(marker in name for marker in GROUP_MARKERS)


def looks_like_unit(name: str) -> bool:
    name = fold(name)
    if not 2 <= len(name) <= 40 or _SENTENCE_MARKS.search(name) or _DATE_WORDS.search(name):
        return False
    bare = re.sub(r"\([^)]*\)$", "", name)
    return has_unit_ending(bare) or is_group(name)


def unit_list_share(span: Span) -> tuple[int, int]:
    """How many pieces of a would-be list are unit names, out of how many."""
    if "。" in span.norm or len(span.norm) > 400:
        return 0, 1
    names = repair(split_list(span), None)
    return sum(looks_like_unit(n.name) for n in names), len(names)


def repair(pieces: list[Span], jurisdiction: Jurisdiction | None) -> list[Name]:
    """Names as they should read: fused names split, shared prefixes and suffixes restored,
    and a lost jurisdiction prefix put back (交通运输局 -> 县交通运输局 in a county document)."""
    names: list[Name] = []
    for piece in pieces:
        for part in _split_fused(piece):
            # Names keep the document's own characters (各乡镇（街道）); matching folds them.
            names.append(Name(part.raw.strip(), part.raw.strip(), part))
    _share_government_suffix(names)
    for i, item in enumerate(names):
        if i and item.name[:1] in LEVEL_PREFIXES:
            item.name = _share_group_head(names[i - 1].name, item.name)
        item.name = restore_prefix(item.name, jurisdiction)
    return names


def _split_fused(piece: Span) -> list[Span]:
    text = piece.norm
    run = _PLACE_RUN.match(text)
    places = re.findall(_PLACE, run.group(1)) if run else []
    # 赣州市赣县区 is one place inside another, not two peers.
    if run and not (len(places) == 2 and places[0].endswith("市")):
        parts, lo = [], 0
        for place in places:
            parts.append(piece[lo : lo + len(place)])
            lo += len(place)
        if run.group(2):
            parts[-1] = parts[-1] + piece[lo:]
        return parts
    for i in range(2, len(text) - 2):
        head, rest = text[:i], text[i:]
        if head.endswith(_SPLIT_AFTER) and _starts_new_unit(rest):
            return [piece[:i], *_split_fused(piece[i:])]
    return [piece]


def _starts_new_unit(rest: str) -> bool:
    core = rest[1:] if rest[:1] in LEVEL_PREFIXES else rest
    if core in DEPARTMENT_CORES:
        return True
    head = re.match(_PLACE, rest)
    return bool(head) and (rest == head.group(0) or rest[head.end():] in ("人民政府", "政府"))


def _share_government_suffix(names: list[Name]) -> None:
    # 崇义县、寻乌县人民政府: the bare places share the last one's 人民政府.
    for i, item in enumerate(names):
        if not _ONE_PLACE.match(item.name):
            continue
        for later in names[i + 1 :]:
            tail = re.match(rf"^{_PLACE}(人民政府|政府)$", later.name)
            if tail:
                item.name += tail.group(1)
                break
            if not _ONE_PLACE.match(later.name):
                break


def _share_group_head(previous: str, name: str) -> str:
    # 各设区市委、市人民政府: the second name keeps the first one's 各设区.
    if previous.startswith("各") and name[1:] in ("人民政府", "政府", "委", "党委"):
        at = previous.find(name[0], 1)
        if at > 0 and re.fullmatch(r"[\u4e00-\u9fff]+", previous[:at]):
            return previous[:at] + name
    return name


def restore_prefix(name: str, jurisdiction: Jurisdiction | None) -> str:
    if jurisdiction is None or is_group(name):
        return name
    if name in DEPARTMENT_CORES or (name.startswith(_PREFIXED_BODIES) and has_unit_ending(name)):
        return jurisdiction.prefix + name
    # A short bare department (卫健局, 商务委) with no place in it is the issuer's own.
    if re.fullmatch(r"[\u4e00-\u9fff]{2}(?:局|委)", name) and not re.search(r"[省市县区州旗]", name) \
            and not name.startswith(("国家", "中国", "中共", "团")):
        return jurisdiction.prefix + name
    return name


def canonical(name: str, jurisdiction: Jurisdiction | None) -> str:
    """The jurisdiction-qualified name with short forms expanded: 区林业分局 -> 赣县区林业局."""
    name = fold(name)
    if is_group(name):
        return (jurisdiction.name or "") + name if jurisdiction else name
    prefix, core = "", name
    if name[:1] in LEVEL_PREFIXES and len(name) > 2:
        prefix, core = name[0], name[1:]
    core = ABBREVIATIONS.get(core, core)
    if prefix and jurisdiction and jurisdiction.name:
        if prefix == jurisdiction.prefix:
            return jurisdiction.name + core
        if jurisdiction.parent and jurisdiction.parent.endswith(prefix):
            return jurisdiction.parent + core
    return prefix + core
