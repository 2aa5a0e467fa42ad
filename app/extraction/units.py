"""Unit names: splitting a list, repairing what the print damaged, and resolving each name
to its canonical form within the issuing jurisdiction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

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
_ONE_PLACE_AT = re.compile(_PLACE)
_PLACE_ENDS = ("县", "区", "市", "旗")  # how every _PLACE ends: a cheap test before the regex
_ONE_PLACE = re.compile(rf"^{_PLACE}$")
_SENTENCE_MARKS = re.compile(r"[。!?！？\"“”《》]")
# Where a fused name may split: right after one of 局, 厅, 中心.
_SPLIT_AFTER = re.compile(r"局|厅|中心")
_DATE_WORDS = re.compile(r"^[\d年月]|底前|年底|月底|\d{4}")
_PREFIXED_BODIES = ("人大", "政协", "委", "纪委")
_GOVERNMENT_TAIL = re.compile(rf"^{_PLACE}(人民政府|政府)$")
_GROUP = re.compile("^各|" + "|".join(map(re.escape, GROUP_MARKERS)))
_LIST_MARKS = re.compile("[" + re.escape("([)] " + _SEPARATORS) + "]")  # what split_list acts on
_TRAILING_NOTE = re.compile(r"\([^)]*\)$")
_BARE_DEPARTMENT = re.compile(r"[\u4e00-\u9fff]{2}(?:局|委)")
_PLACE_CHAR = re.compile(r"[省市县区州旗]")
_HAN = re.compile(r"[\u4e00-\u9fff]+")


@dataclass(slots=True)
class Name:
    as_written: str
    name: str
    span: Span


def split_list(span: Span) -> list[Span]:
    """Split a unit list on 、，,;； and runs of spaces, never inside parentheses."""
    return [span[a:b] for a, b in _list_bounds(span.norm)]


# A document prints the same unit lists again and again, and where to cut one depends on
# its text alone: the pieces' bounds, trailing notes (等按职责分工负责) left out.
@lru_cache(maxsize=4096)
def _list_bounds(norm: str) -> tuple[tuple[int, int], ...]:
    cuts, depth, lo = [], 0, 0
    for m in _LIST_MARKS.finditer(norm):
        ch, i = m[0], m.start()
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= depth > 0
        elif depth == 0:
            cuts.append((lo, i))
            lo = i + 1
    cuts.append((lo, len(norm)))
    pieces = (_without_notes(norm, a, b) for a, b in cuts)
    return tuple((a, b) for a, b in pieces if a < b)


_NOTES = ("(按职责分工负责)", "(排名第一位的为牵头单位)", *UNIT_NOTES)


def _without_notes(text: str, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and text[lo] in " ,.:;、。":
        lo += 1
    changed = True
    while changed:
        changed = False
        while hi > lo and text[hi - 1] in " ,.:;、。":
            hi -= 1
        if not text.endswith(_NOTES, lo, hi):  # the usual case: no note to strip
            break
        for note in _NOTES:
            if text.endswith(note, lo, hi) and hi - lo > len(note) + 1:
                hi -= len(note)
                changed = True
    return lo, hi


def has_unit_ending(name: str) -> bool:
    return name.endswith(UNIT_ENDINGS) or name in DEPARTMENT_CORES


# A document names the same few hundred units again and again; these two answer per name.
@lru_cache(maxsize=4096)
def is_group(name: str) -> bool:
    return _GROUP.search(fold(name)) is not None


@lru_cache(maxsize=4096)
def looks_like_unit(name: str) -> bool:
    name = fold(name)
    if not 2 <= len(name) <= 40 or _SENTENCE_MARKS.search(name) or _DATE_WORDS.search(name):
        return False
    bare = _TRAILING_NOTE.sub("", name)
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
            written = part.raw.strip()
            names.append(Name(written, written, part))
    _share_government_suffix(names)
    for i, item in enumerate(names):
        if i and item.name[:1] in LEVEL_PREFIXES:
            item.name = _share_group_head(names[i - 1].name, item.name)
        if jurisdiction is not None:
            item.name = _restore_prefix(item.name, jurisdiction.prefix)
    return names


def _split_fused(piece: Span) -> list[Span]:
    bounds = _fused_bounds(piece.norm)
    return [piece] if len(bounds) == 1 else [piece[a:b] for a, b in bounds]


# Where a name splits depends on its text alone, and a document repeats its names.
@lru_cache(maxsize=4096)
def _fused_bounds(text: str) -> tuple[tuple[int, int], ...]:
    run = _PLACE_RUN.match(text)
    places = _ONE_PLACE_AT.findall(run.group(1)) if run else []
    # 赣州市赣县区 is one place inside another, not two peers.
    if run and not (len(places) == 2 and places[0].endswith("市")):
        bounds, lo = [], 0
        for place in places:
            bounds.append((lo, lo + len(place)))
            lo += len(place)
        if run.group(2):
            bounds[-1] = (bounds[-1][0], len(text))
        return tuple(bounds)
    for m in _SPLIT_AFTER.finditer(text, 0, len(text) - 3):
        i = m.end()
        if i >= 2 and _starts_new_unit(text[i:]):
            return ((0, i), *((a + i, b + i) for a, b in _fused_bounds(text[i:])))
    return ((0, len(text)),)


def _starts_new_unit(rest: str) -> bool:
    core = rest[1:] if rest[:1] in LEVEL_PREFIXES else rest
    if core in DEPARTMENT_CORES:
        return True
    head = _ONE_PLACE_AT.match(rest)
    return bool(head) and (rest == head.group(0) or rest[head.end():] in ("人民政府", "政府"))


def _share_government_suffix(names: list[Name]) -> None:
    # 崇义县、寻乌县人民政府: the bare places share the last one's 人民政府.
    for i, item in enumerate(names):
        if not item.name.endswith(_PLACE_ENDS) or not _ONE_PLACE.match(item.name):
            continue
        for later in names[i + 1 :]:
            tail = _GOVERNMENT_TAIL.match(later.name)
            if tail:
                item.name += tail.group(1)
                break
            if not _ONE_PLACE.match(later.name):
                break


def _share_group_head(previous: str, name: str) -> str:
    # 各设区市委、市人民政府: the second name keeps the first one's 各设区.
    if previous.startswith("各") and name[1:] in ("人民政府", "政府", "委", "党委"):
        at = previous.find(name[0], 1)
        if at > 0 and _HAN.fullmatch(previous[:at]):
            return previous[:at] + name
    return name


def restore_prefix(name: str, jurisdiction: Jurisdiction | None) -> str:
    return name if jurisdiction is None else _restore_prefix(name, jurisdiction.prefix)


# Cached on the jurisdiction's fields: the model itself is not hashable.
@lru_cache(maxsize=4096)
def _restore_prefix(name: str, prefix: str) -> str:
    if is_group(name):
        return name
    if name in DEPARTMENT_CORES or (name.startswith(_PREFIXED_BODIES) and has_unit_ending(name)):
        return prefix + name
    # A short bare department (卫健局, 商务委) with no place in it is the issuer's own.
    if _BARE_DEPARTMENT.fullmatch(name) and not _PLACE_CHAR.search(name) \
            and not name.startswith(("国家", "中国", "中共", "团")):
        return prefix + name
    return name


def canonical(name: str, jurisdiction: Jurisdiction | None) -> str:
    """The jurisdiction-qualified name with short forms expanded: 区林业分局 -> 赣县区林业局."""
    if jurisdiction is None:
        return _canonical(name, None, None, None)
    return _canonical(name, jurisdiction.name, jurisdiction.prefix, jurisdiction.parent)


@lru_cache(maxsize=4096)  # as _restore_prefix
def _canonical(name: str, place: str | None, place_prefix: str | None, parent: str | None) -> str:
    name = fold(name)
    if is_group(name):
        return (place or "") + name
    prefix, core = "", name
    if name[:1] in LEVEL_PREFIXES and len(name) > 2:
        prefix, core = name[0], name[1:]
    core = ABBREVIATIONS.get(core, core)
    if prefix and place:
        if prefix == place_prefix:
            return place + core
        if parent and parent.endswith(prefix):
            return parent + core
    return prefix + core
