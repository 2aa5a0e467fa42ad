"""Tasks written as numbered paragraphs: which paragraphs are tasks, and what each one says.

A paragraph is a task when it carries unit annotations of its own (and nothing below it
does), or when it is numbered like the annotated tasks around it inside a task section.
A task with several annotations is several clauses, each a subtask with its own units.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

from app.extraction.annotations import Annotation, find_annotations
from app.extraction.context import (
    Context,
    fill_role_lists,
    settle_roles,
    to_leaders,
    to_units,
    warn_unrecognised,
)
from app.extraction.dates import parse_deadline, text_deadlines
from app.extraction.milestones import find_milestones
from app.extraction.models import Task
from app.extraction.structure import Node, in_task_section
from app.extraction.text import Span

_MEASURE_STYLES = ("paren_arabic", "arabic_paren", "circled")
_SENTENCE_END = re.compile(r"。|\.(?![\d])")
_WORDS = re.compile(r"[\u4e00-\u9fff]{4,}")
# The lookahead names the characters a measure's number starts with: the engine then passes
# over every other character at once instead of trying each alternative there.
_MEASURE = re.compile(r"(?=[(\d①-⑳])(?:\(\d{1,2}\)|(?<![\d.])\d{1,2}\)|[①-⑳])")
_PRINTED = {"arabic": "{}", "cn": "{}", "paren_cn": "({})", "paren_arabic": "({})",
            "arabic_paren": "({})", "circled": "{}", "chapter": "第{}章", "section": "第{}节",
            "part": "第{}部分"}


def tree_tasks(root: Node, ctx: Context, *, fallback: bool) -> list[Task]:
    jur = ctx.meta.jurisdiction
    notes = {n: find_annotations(n.own_span(), jur) for n in root.walk() if n.para is not None}
    _lift_trailing_units(notes)
    above = _above_annotations(root, notes)
    annotated = {n for n, anns in notes.items() if anns and n not in above and in_task_section(n)}
    # Counted in document order: on a tie the first style met wins, the same in every run.
    styles = Counter(n.style for n in notes if n in annotated)
    task_style = styles.most_common(1)[0][0] if styles else None
    if task_style is None and fallback:
        items = [n for n in notes if not n.para.heading_only and in_task_section(n)]
        task_style = items[0].style if items else None
    chosen: list[Node] = []
    picked: set[Node] = set()  # chosen, for membership tests
    for node in notes:
        if any(parent in picked for parent in _ancestors(node)) or node in above:
            continue
        if node in annotated or (node.style == task_style and in_task_section(node)
                                 and not node.para.heading_only):
            chosen.append(node)
            picked.add(node)
    for node, anns in notes.items():
        if anns and node not in picked and not any(d in picked for d in node.walk()) \
                and node not in above:
            ctx.warn("annotation_without_task", "A unit annotation sits outside any task (under "
                     f"“{' / '.join(node.path()) or 'front matter'}”); it was not assigned.",
                     anns[0].span)
    # Where most tasks are several clauses each with its own units, every task is read as
    # clauses, a single-clause task included, so that each part is tracked the same way.
    clauses = sum(len(notes[n]) >= 2 for n in chosen) * 2 >= len(chosen) > 0
    return [_task(node, notes[node], _inherited(node, notes), ctx, clauses) for node in chosen]


def _lift_trailing_units(notes: dict[Node, list[Annotation]]) -> None:
    """1.…（1）…（2）…牵头单位：X: units printed once after a task's numbered measures belong
    to the task, not to its last measure."""
    for node, anns in notes.items():
        kids = node.children
        if anns or len(kids) < 2 or any(k.style not in _MEASURE_STYLES or k.children for k in kids):
            continue
        if notes.get(kids[-1]) and not any(notes.get(k) for k in kids[:-1]):
            notes[node], notes[kids[-1]] = notes[kids[-1]], []


def full_span(node: Node) -> Span:
    return Span.concat(list(node.spans()))


def _above_annotations(root: Node, notes: dict[Node, list[Annotation]]) -> set[Node]:
    """The nodes with an annotated node somewhere below them, found in one walk of the tree."""
    above: set[Node] = set()

    def visit(node: Node) -> bool:  # whether the node or one below it is annotated
        below = False
        for child in node.children:
            below |= visit(child)
        if below:
            above.add(node)
        return below or bool(notes.get(node))

    visit(root)
    return above


def _ancestors(node: Node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def _inherited(node: Node, notes: dict[Node, list[Annotation]]) -> list[Annotation]:
    return next((notes[p] for p in _ancestors(node) if notes.get(p)), [])


def _task(node: Node, anns: list[Annotation], inherited: list[Annotation], ctx: Context,
          clauses: bool) -> Task:
    para = node.para
    span = full_span(node)
    if node.children:
        anns = find_annotations(span, ctx.meta.jurisdiction)
    number = _PRINTED.get(para.style, "{}").format(para.number)
    body_at = para.body_at
    title_stop = _SENTENCE_END.search(span.norm, body_at)
    title_end = title_stop.start() if title_stop else -1
    first_ann = anns[0].lo if anns else len(span)
    title = span.raw[body_at : title_end if 0 <= title_end < first_ann else first_ann]
    task = Task.new(number=number, title=_clean_title(title), text="", section_path=node.path(),
                    source=span.source(ctx.document))
    if len(anns) >= 2 or (clauses and anns):
        clause_at = title_end + 1 if 0 <= title_end < anns[0].lo else body_at
        task.text = span.raw.strip()
        for k, ann in enumerate(anns, start=1):
            clause = span[clause_at : ann.lo].strip(" *")
            task.subtasks.append(_clause(f"{number}.{k}", clause, ann, ctx))
            clause_at = ann.hi
        _trailing(span[clause_at:], ctx)
        for sub in task.subtasks:
            task.units += sub.units
            task.leaders += sub.leaders
    else:
        own = anns or inherited
        text = span[: anns[0].lo] if anns and not span.norm[anns[0].hi :].strip(" 。") else span
        task.text = text.raw.strip()
        _fill(task, text, own, ctx)
    fill_role_lists(task)
    if not task.units:
        ctx.warn("task_without_units", f"Task {number} names no responsible unit.", span)
    warn_unrecognised(anns, ctx)
    return task


def _clause(number: str, clause: Span, ann: Annotation, ctx: Context) -> Task:
    stop = clause.norm.find("。")
    title = clause.raw[: stop if stop > 0 else len(clause)]
    sub = Task.new(number=number, title=_clean_title(title), text=clause.raw.strip(),
                   units_text=ann.span.raw.strip(), source=(clause + ann.span).source(ctx.document))
    _fill(sub, clause, [ann], ctx)
    fill_role_lists(sub)
    return sub


def _fill(task: Task, text: Span, anns: list[Annotation], ctx: Context) -> None:
    period = ctx.meta.period
    for ann in anns:
        task.units += to_units(settle_roles(ann, task.number, ctx), ctx)
    task.leaders = to_leaders(anns, ctx)
    if anns and not task.units_text:
        task.units_text = anns[0].span.raw.strip() if len(anns) == 1 else None
    labelled = next((a.deadline for a in anns if a.deadline is not None), None)
    if labelled is not None:
        task.deadline, task.ongoing = parse_deadline(labelled.raw, period)
        task.deadline_text, task.deadline_source = labelled.raw.strip(), "label"
    else:
        found = _text_deadline(text, period)
        if found is not None:
            task.deadline, task.deadline_source = found[0], "text"
            task.deadline_text = text.raw[found[1] : found[2]]
    task.milestones = find_milestones(text, period, None, ctx.document)


def _text_deadline(text: Span, period) -> tuple[date, int, int] | None:
    """The latest completion phrase (6月底前) — but a task of several numbered measures is
    due when its last measure is: one dated measure does not date the others."""
    measures = [m.start() for m in _MEASURE.finditer(text.norm)]
    if len(measures) < 2:
        measures = [0]
    ends = [*measures[1:], len(text.norm)]
    dated: list[tuple] = []
    for part in (text.norm[a:b] for a, b in zip(measures, ends, strict=True)):
        found = [(parse_deadline(m[0], period)[0], m) for m in text_deadlines(part)]
        found = [(d, m) for d, m in found if d is not None]
        if not found:
            return None
        dated.append(max(found, key=lambda pair: pair[0]))
    due, match = max(dated, key=lambda pair: pair[0])
    offset = measures[[d for d, _ in dated].index(due)]
    at = text.norm.find(match[0], offset)
    return due, at, at + len(match[0])


def _trailing(rest: Span, ctx: Context) -> None:
    if _WORDS.search(rest.norm):
        ctx.warn("clause_without_units", "Text after the last unit annotation of a task names no "
                 "unit of its own; it is kept in the task text only.", rest.strip())


def _clean_title(raw: str) -> str:
    return raw.replace("**", "").strip(" 。.")
