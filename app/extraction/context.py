"""What task builders share while reading one document: its text, metadata, the rules it
states once for every task, and the warnings raised so far."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.extraction.annotations import Annotation, FoundRule, Mention
from app.extraction.models import DocumentMeta, Leader, Task, UnitMention, Warning
from app.extraction.text import Span
from app.extraction.units import canonical, is_group


@dataclass(slots=True)
class StatedRule:
    found: FoundRule
    offset: int
    hits: list[str] = field(default_factory=list)


@dataclass
class Context:
    document: str
    meta: DocumentMeta
    rules: list[StatedRule] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)

    def warn(self, code: str, message: str, span: Span | None = None) -> None:
        source = span.source(self.document) if span is not None and len(span) else None
        self.warnings.append(Warning(code=code, message=message,
                                     line=source.line if source else None, source=source))

    def add_rules(self, found: list[FoundRule]) -> None:
        known = {r.offset for r in self.rules}
        for rule in found:
            offset = rule.span.offsets[0]
            if offset not in known:
                self.rules.append(StatedRule(rule, offset))
                known.add(offset)
        self.rules.sort(key=lambda r: r.offset)

    def lead_rule(self, offset: int) -> StatedRule | None:
        """The lead rule in force at `offset`: stated before it, or stated anywhere without
        a 下同/以下 scope (a rule of the whole document)."""
        active = [r for r in self.rules if r.found.kind != "implied_units"
                  and (r.offset <= offset or not r.found.from_here_on)]
        return active[-1] if active else None


def settle_roles(ann: Annotation, number: str, ctx: Context) -> list[Mention]:
    """Apply a document's lead rule to one annotation that names no lead of its own."""
    mentions = list(ann.mentions)
    if ann.explicit_lead:
        return mentions
    rule = ctx.lead_rule(ann.span.offsets[-1])
    responsible = [m for m in mentions if m.role == "responsible"]
    if rule is None or not responsible:
        return mentions
    if rule.found.kind == "lead_first_listed" and len(responsible) >= 2:
        promote = {id(responsible[0])}
    elif rule.found.kind == "responsible_is_lead":
        promote = {id(m) for m in responsible}
    else:
        return mentions
    rule.hits.append(number)
    return [Mention("lead", m.name) if id(m) in promote else m for m in mentions]


def to_units(mentions: list[Mention], ctx: Context) -> list[UnitMention]:
    jur = ctx.meta.jurisdiction
    return [
        UnitMention(name=m.name.name, as_written=m.name.as_written.strip(),
                    canonical=canonical(m.name.name, jur), role=m.role,
                    group=is_group(m.name.name), source=m.name.span.source(ctx.document))
        for m in mentions
    ]


def to_leaders(anns: list[Annotation], ctx: Context) -> list[Leader]:
    return [Leader(label=label, name=span.raw.strip(), source=span.source(ctx.document))
            for ann in anns for label, span in ann.leaders]


def fill_role_lists(task: Task) -> None:
    """The role lists in reading order; a unit that leads anywhere is listed only as lead."""
    lists: dict[str, list[str]] = {"lead": [], "responsible": [], "cooperating": []}
    for unit in task.units:
        if unit.implied_by_rule:
            continue
        if unit.name not in lists[unit.role]:
            lists[unit.role].append(unit.name)
    lead = set(lists["lead"])
    task.lead_units = lists["lead"]
    task.responsible_units = [n for n in lists["responsible"] if n not in lead]
    taken = lead | set(task.responsible_units)
    task.cooperating_units = [n for n in lists["cooperating"] if n not in taken]


def warn_unrecognised(anns: list[Annotation], ctx: Context) -> None:
    for ann in anns:
        for span in ann.unrecognised:
            ctx.warn("unit_unrecognized", f"“{span.raw.strip()}” in a unit list does not read as "
                     "a unit name; it was left out.", span)
