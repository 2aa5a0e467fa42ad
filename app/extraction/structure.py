"""From lines to paragraphs to a tree of numbered headings and items.

Web captures break a paragraph across lines (and a bracket mid-word), so a line joins the
paragraph before it until that paragraph ends a sentence; an annotation or a field label
that opens a line always belongs to the paragraph before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from app.extraction.text import Line, Span
from app.extraction.vocab import DEADLINE_LABELS, PERSON_LABELS, ROLE_LABELS

_NUM = "一二三四五六七八九十百零〇两"
STYLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("chapter", re.compile(rf"^第([{_NUM}\d]+)章\s*")),
    ("section", re.compile(rf"^第([{_NUM}\d]+)节\s*")),
    ("part", re.compile(rf"^第([{_NUM}\d]+)(?:部分|篇)\s*")),
    ("cn", re.compile(rf"^([{_NUM}]+)\s*[、.]\s*")),
    ("paren_cn", re.compile(rf"^\(([{_NUM}]+)\)\s*")),
    ("arabic", re.compile(r"^(\d{1,3})\s*[.、](?![\d])\s*")),
    ("paren_arabic", re.compile(r"^\((\d{1,3})\)\s*")),
    ("arabic_paren", re.compile(r"^(\d{1,3})\)\s*")),
    ("circled", re.compile(r"^([①-⑳])\s*")),
)
_LABEL_START = re.compile(
    r"^[\[(]?\s*(?:" + "|".join(map(re.escape, [*ROLE_LABELS, *PERSON_LABELS, *DEADLINE_LABELS]))
    + r")\s*[:]"
)
_TERMINAL = tuple("。;!?:)]”\"』」")
_APPENDIX = re.compile(r"^附\s*(?:件|表)\s*\d*")
_ANNOTATED = re.compile(r"[\[(].*(单位|负责)")
NON_TASK_SECTIONS = ("保障措施", "组织保障", "实施保障", "工作保障", "保障机制", "组织实施", "组织领导",
                     "总体要求", "指导思想", "基本原则", "工作原则", "主要目标", "工作目标", "发展目标",
                     "总体目标", "工作要求", "附则", "形势")
_NON_TASK = re.compile("|".join(map(re.escape, NON_TASK_SECTIONS)))


@dataclass(slots=True)
class Paragraph:
    span: Span
    style: str | None = None
    number: str | None = None
    body_at: int = 0  # where the text after the number starts

    @property
    def rest(self) -> str:
        return self.span.norm[self.body_at:].strip()

    @property
    def heading_only(self) -> bool:
        if self.style is None:
            return False
        rest = self.rest.replace("*", "")
        return "。" not in rest.rstrip("。") and len(rest) <= 50 and not _ANNOTATED.search(rest)


@dataclass(eq=False)
class Node:
    para: Paragraph | None
    parent: Node | None = None
    body: list[Paragraph] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    @property
    def style(self) -> str | None:
        return self.para.style if self.para else None

    def path(self) -> list[str]:
        return list(self._headings)

    @cached_property
    def _headings(self) -> tuple[str, ...]:
        # Read for a task's section path and again for whether its section holds tasks; a
        # built tree does not change, so each node's headings are read once.
        parent = self.parent
        if parent is None or parent.para is None:
            return ()
        return (*parent._headings, heading_text(parent.para))

    def own_span(self) -> Span:
        return Span.concat([self.para.span] * bool(self.para) + [p.span for p in self.body])

    def spans(self):
        """Its own spans and those of every node below it, in the document's order."""
        for node in self.walk():
            if node.para:
                yield node.para.span
            yield from (p.span for p in node.body)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def heading_text(para: Paragraph) -> str:
    raw = para.span.raw.strip()
    if para.heading_only:
        return raw
    stop = para.span.norm.find("。", para.body_at)
    return raw if stop < 0 else para.span.raw[:stop].strip()


def number_style(norm: str) -> tuple[str, str, int] | None:
    text = norm.lstrip().lstrip("*")
    lead = len(norm) - len(text)
    for style, pattern in STYLES:
        m = pattern.match(text)
        if m:
            return style, m[1], lead + m.end()
    return None


def paragraphs(lines: list[Line], skip: set[int]) -> list[Paragraph]:
    out: list[Paragraph] = []
    # The current paragraph's pieces, joined once it ends: joining at every line took quadratic
    # time on a paragraph of thousands of lines, and so did testing the whole text each time.
    pieces: list[Span] = []
    size, head = 0, ""  # characters in the pieces, and the first 64 of them
    for line in lines:
        if line.no in skip or line.blank:
            continue
        piece = Span.of_stripped_line(line)
        starts_field = bool(_LABEL_START.match(piece.norm))
        if pieces and (starts_field or _open_pieces(pieces, size, head)) \
                and not _starts_new(piece.norm):
            # A bare label on its own line starts a field; a space keeps it readable as a label.
            bare_label = starts_field and piece.norm[:1] not in "[("
            anchor = next((p for p in reversed(pieces) if p.raw), None)
            if bare_label and anchor is not None:
                pieces.append(Span(" ", " ", [anchor.offsets[-1]], [anchor.lines[-1]]))
                size, head = size + 1, (head + " ")[:64]
            pieces.append(piece)
            size, head = size + len(piece.norm), head if len(head) == 64 else (head + piece.norm)[:64]
            continue
        if pieces:
            out.append(_classify(Span.concat(pieces)))
        pieces, size, head = [piece], len(piece.norm), piece.norm[:64]
    if pieces:
        out.append(_classify(Span.concat(pieces)))
    return out


def _open_pieces(pieces: list[Span], size: int, head: str) -> bool:
    """`_open` of the pieces joined, reading only the ends of a long paragraph: past 60
    characters a number no longer matters, only how the text begins and ends."""
    if size <= 200:
        return _open(Span.concat(pieces))
    trailing, last = 0, ""
    for p in reversed(pieces):
        last = p.norm.rstrip()
        trailing += len(p.norm) - len(last)
        if last:
            break
    if size - trailing <= 60:
        return _open(Span.concat(pieces))
    return not last.endswith(_TERMINAL) and not _APPENDIX.match(head)


def _open(span: Span) -> bool:
    text = span.norm.rstrip()
    if not text or text.endswith(_TERMINAL):
        return False
    numbered = number_style(text)
    return not (numbered and len(text) <= 60) and not _APPENDIX.match(text)


def _starts_new(norm: str) -> bool:
    if _LABEL_START.match(norm):
        return False
    return number_style(norm) is not None or bool(_APPENDIX.match(norm))


def _classify(span: Span) -> Paragraph:
    found = number_style(span.norm)
    if found is None:
        return Paragraph(span)
    style, number, at = found
    return Paragraph(span, style, number, at)


def build_tree(paras: list[Paragraph]) -> Node:
    root = Node(None)
    stack: list[Node] = [root]
    for para in paras:
        if para.style is None:
            if _APPENDIX.match(para.span.norm):
                del stack[1:]
                continue
            stack[-1].body.append(para)
            continue
        styles = [n.style for n in stack]
        if para.style in styles:
            del stack[styles.index(para.style):]
        node = Node(para, parent=stack[-1])
        stack[-1].children.append(node)
        stack.append(node)
    return root


def in_task_section(node: Node) -> bool:
    headings = node.path() + ([node.para.span.raw] if node.para and node.para.heading_only else [])
    return not any(_NON_TASK.search(heading) for heading in headings)
