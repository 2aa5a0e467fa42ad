"""The extraction engine: a document in, a typed Extraction out. Pure and deterministic."""

from __future__ import annotations

from datetime import date

from app.extraction.annotations import find_rules
from app.extraction.bodytasks import tree_tasks
from app.extraction.context import Context, StatedRule
from app.extraction.indicators import find_indicator_tables
from app.extraction.metadata import read_metadata
from app.extraction.models import DocumentMeta, Extraction, Period, Rule, Task, UnitMention
from app.extraction.reader import is_chrome, read_document
from app.extraction.structure import build_tree, paragraphs
from app.extraction.tables import find_tables
from app.extraction.tabletasks import table_tasks
from app.extraction.text import Span, split_lines
from app.extraction.units import canonical, is_group


def extract(data: bytes, filename: str | None = None) -> Extraction:
    decoded = read_document(data, filename)
    return extract_text(decoded.text, fmt=decoded.format, encoding=decoded.encoding)


def extract_text(text: str, *, fmt: str = "text", encoding: str | None = None) -> Extraction:
    lines = split_lines(text)
    chrome = {ln.no for ln in lines if not ln.blank and is_chrome(ln.raw)}
    meta = read_metadata([ln for ln in lines if ln.no not in chrome])
    meta.format, meta.encoding = fmt, encoding  # type: ignore[assignment]
    ctx = Context(text, meta)
    indicators, indicator_warnings, indicator_lines = find_indicator_tables(lines, text)
    ctx.warnings += indicator_warnings
    skip = chrome | indicator_lines
    tables = find_tables(lines, skip, chrome)
    for table in tables:
        skip |= table.lines
        if table.stopped_at is not None:
            ctx.warn("table_ended", f"A task table stopped at “{table.stopped_at.raw.strip()[:40]}”, "
                     "which is neither a row nor a category; anything below it was read as text.",
                     Span.of_line(table.stopped_at))
    paras = paragraphs(lines, skip)
    for para in paras:
        ctx.add_rules(find_rules(para.span, meta.jurisdiction))
    tasks = tree_tasks(build_tree(paras), ctx, fallback=not tables)
    for table in tables:
        tasks += table_tasks(table, ctx)
    _settle_period(meta, tasks)
    _default_deadlines(tasks, meta.period)
    rules = [_apply_implied(rule, tasks, ctx) for rule in ctx.rules]
    if not tasks:
        ctx.warn("no_tasks", "No numbered task with unit annotations and no task table was found; "
                 "the document may be narrative only, or lay its tasks out in a form not read here.")
    if meta.jurisdiction is None:
        ctx.warn("jurisdiction_unknown", "Could not tell the issuing jurisdiction; unit prefixes "
                 "such as 市/县/区 are kept as written and not resolved.")
    return Extraction(document=meta, tasks=tasks, indicators=indicators, rules=rules,
                      warnings=ctx.warnings)


def all_tasks(tasks: list[Task]):
    for task in tasks:
        yield task
        yield from all_tasks(task.subtasks)


def _settle_period(meta: DocumentMeta, tasks: list[Task]) -> None:
    """A plan that prints no period runs from its issue year (or its first deadline) to the
    last year any deadline or target names."""
    if meta.period is not None:
        return
    years = [t.deadline.year for t in all_tasks(tasks) if t.deadline]
    years += [m.due.year for t in all_tasks(tasks) for m in t.milestones if m.due]
    if not years:
        return
    start = meta.issued_on.year if meta.issued_on else min(years)
    meta.period = Period(start=min(start, max(years)), end=max(years), inferred=True)


def _default_deadlines(tasks: list[Task], period: Period | None) -> None:
    end = date(period.end, 12, 31) if period else None
    for task in tasks:
        _default_deadlines(task.subtasks, period)
        if task.deadline is None and not task.ongoing:
            explicit = [s.deadline for s in task.subtasks
                        if s.deadline and s.deadline_source not in ("plan_period", "none")]
            if explicit and (end is None or max(explicit) > end):
                task.deadline, task.deadline_source = max(explicit), "subtasks"
            elif end is not None:
                task.deadline, task.deadline_source = end, "plan_period"
        for m in task.milestones:
            if m.due is None:
                m.due = task.deadline


def _apply_implied(stated: StatedRule, tasks: list[Task], ctx: Context) -> Rule:
    found = stated.found
    holders = [t.number for t in all_tasks(tasks)
               if t.source and t.source.start <= stated.offset < t.source.end]
    stated_in = holders[-1] if holders else None
    if found.kind == "implied_units":
        touched = [t for t in tasks if t.source and (not found.from_here_on
                                                      or t.source.end > stated.offset)]
        for task in touched:
            have = {u.name for u in task.units}
            task.units += [
                UnitMention(name=n.name, as_written=n.as_written.strip(),
                            canonical=canonical(n.name, ctx.meta.jurisdiction), role="responsible",
                            group=is_group(n.name), implied_by_rule=True,
                            source=n.span.source(ctx.document))
                for n in found.implied if n.name not in have
            ]
        stated.hits = [t.number for t in touched]
    return Rule(text=found.span.raw, kind=found.kind, implied_units=[n.name for n in found.implied],
                stated_in=stated_in, applies_to=stated.hits, source=found.span.source(ctx.document))
