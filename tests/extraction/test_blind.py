"""Blind check: six invented documents from other provinces, in layouts the seeds do not have.

Each `blind/<name>.txt` has a hand-written `blind/<name>.expected.json`, written from the
document text alone (before reading the engine). One test per document runs the engine and
collects every difference (document metadata, rules, each task's units, deadline, milestones,
clauses) into a single assertion message, so a failure lists everything that is off.

Comparison rules:
- exact for titles, unit lists (order included), roles, deadlines, numbers, subtask counts;
- tasks are matched on (number, title); numbers may repeat (01 restarts (一) per section);
- milestones are compared as sets of (due, target with whitespace removed), over the task and
  its subtasks; expected milestones marked `optional` (a number with no year of its own) may be
  present or absent, and predicted milestones whose target has no Arabic digit are ignored
  (gold/README.md scoring notes);
- implied units of a document-wide rule count for a task when a UnitMention on it is
  `implied_by_rule`, or when the rule lists the task in `applies_to`.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date
from pathlib import Path

import pytest

from app.extraction import extract
from app.extraction.models import Extraction, Task

BLIND = Path(__file__).parent / "blind"
CASES = sorted(p.name.removesuffix(".expected.json") for p in BLIND.glob("*.expected.json"))


@functools.cache
def run(name: str) -> Extraction:
    path = BLIND / f"{name}.txt"
    return extract(path.read_bytes(), path.name)


def expected(name: str) -> dict:
    return json.loads((BLIND / f"{name}.expected.json").read_text(encoding="utf-8"))


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def squeeze(text: str | None) -> str:
    return "".join((text or "").split())


def lists_differ(want: list, got: list) -> str | None:
    if want == got:
        return None
    hint = " (same units, different order)" if sorted(want) == sorted(got) else ""
    return f"expected {want} got {got}{hint}"


# ---- matching -------------------------------------------------------------------------------

def match_tasks(want: list[dict], got: list[Task]):
    """Pair expected and extracted tasks: first on (number, title), then on number, then title."""
    pairs: dict[int, Task] = {}
    used: set[int] = set()
    keys = [
        lambda w, g: w["number"] == g.number and squeeze(w["title"]) == squeeze(g.title),
        lambda w, g: w["number"] == g.number,
        lambda w, g: squeeze(w["title"]) == squeeze(g.title),
    ]
    for same in keys:
        for i, w in enumerate(want):
            if i in pairs:
                continue
            for j, g in enumerate(got):
                if j not in used and same(w, g):
                    pairs[i] = g
                    used.add(j)
                    break
    extra = [g for j, g in enumerate(got) if j not in used]
    return pairs, extra


# ---- per-field checks -----------------------------------------------------------------------

def check_document(want: dict, ex: Extraction, out: list[str]) -> None:
    meta = ex.document
    for field in ("title", "issuer", "doc_number"):
        if getattr(meta, field) != want[field]:
            out.append(f"document.{field}: expected {want[field]!r} got {getattr(meta, field)!r}")
    if iso(meta.issued_on) != want["issued_on"]:
        out.append(f"document.issued_on: expected {want['issued_on']} got {iso(meta.issued_on)} "
                   f"(text {meta.issued_on_text!r})")
    period = meta.period
    got_period = None if period is None else {"start": period.start, "end": period.end}
    if want["period"] is None:
        if period is not None and not (want.get("period_may_be_inferred") and period.inferred):
            out.append(f"document.period: expected none (or an inferred one) got {got_period} "
                       f"inferred={period.inferred} text={period.text!r}")
    elif got_period != want["period"]:
        out.append(f"document.period: expected {want['period']} got {got_period}"
                   + (f" text={period.text!r}" if period else ""))
    jur = meta.jurisdiction
    got_jur = None if jur is None else {"name": jur.name, "level": jur.level}
    if got_jur != want["jurisdiction"]:
        out.append(f"document.jurisdiction: expected {want['jurisdiction']} got {got_jur}")


def check_rules(want: list[dict], ex: Extraction, out: list[str]) -> None:
    exp = sorted((r["kind"], tuple(r["implied_units"])) for r in want)
    got = sorted((r.kind, tuple(r.implied_units)) for r in ex.rules)
    if exp != got:
        out.append(f"rules: expected {exp} got {got} "
                   f"(texts: {[r.text for r in ex.rules]})")


def all_milestones(task: Task):
    yield from task.milestones
    for sub in task.subtasks:
        yield from all_milestones(sub)


def check_milestones(label: str, want: dict, task: Task, plan_end: str | None, out: list[str]) -> None:
    required = {(m["due"], squeeze(m["target"])) for m in want["milestones"] if not m.get("optional")}
    optional = {squeeze(m["target"]) for m in want["milestones"] if m.get("optional")}
    allowed_optional_due = {want["deadline"], plan_end, None}
    got = {(iso(m.due), squeeze(m.target)) for m in all_milestones(task)}
    missing = sorted(required - got, key=str)
    extra = sorted(
        (m for m in got - required
         if re.search(r"\d", m[1]) and not (m[1] in optional and m[0] in allowed_optional_due)),
        key=str)
    if missing:
        out.append(f"{label} milestones missing: {missing}")
    if extra:
        out.append(f"{label} milestones unexpected: {extra}")


def implied_for(task: Task, ex: Extraction) -> list[str]:
    names = [u.name for u in task.units if u.implied_by_rule]
    for rule in ex.rules:
        if task.number in rule.applies_to:
            names.extend(rule.implied_units)
    return sorted(set(names))


def check_task(label: str, want: dict, task: Task, ex: Extraction, plan_end: str | None,
               out: list[str]) -> None:
    if task.kind != "task":
        out.append(f"{label} kind: expected 'task' got {task.kind!r}")
    if task.number != want["number"]:
        out.append(f"{label} number: expected {want['number']!r} got {task.number!r}")
    if squeeze(task.title) != squeeze(want["title"]):
        out.append(f"{label} title: expected {want['title']!r} got {task.title!r}")
    for field in ("lead_units", "responsible_units", "cooperating_units"):
        diff = lists_differ(want[field], getattr(task, field))
        if diff:
            out.append(f"{label} {field}: {diff}")
    if iso(task.deadline) != want["deadline"]:
        out.append(f"{label} deadline: expected {want['deadline']} got {iso(task.deadline)} "
                   f"(text {task.deadline_text!r}, source {task.deadline_source})")
    if task.ongoing != want["ongoing"]:
        out.append(f"{label} ongoing: expected {want['ongoing']} got {task.ongoing} "
                   f"(deadline_text {task.deadline_text!r})")
    check_milestones(label, want, task, plan_end, out)
    if len(task.subtasks) != want["subtasks"]:
        out.append(f"{label} subtasks: expected {want['subtasks']} got {len(task.subtasks)}")
    got_implied = implied_for(task, ex)
    if got_implied != sorted(want["implied_units"]):
        out.append(f"{label} implied units: expected {sorted(want['implied_units'])} got {got_implied}")
    if "leaders" in want:
        got_leaders = [{"label": lead.label, "name": lead.name} for lead in task.leaders]
        if got_leaders != want["leaders"]:
            out.append(f"{label} leaders: expected {want['leaders']} got {got_leaders}")
    for k, clause in enumerate(want.get("clauses", []), 1):
        if k > len(task.subtasks):
            break  # the count mismatch is already reported
        sub = task.subtasks[k - 1]
        for field in ("lead_units", "responsible_units", "cooperating_units"):
            diff = lists_differ(clause[field], getattr(sub, field))
            if diff:
                out.append(f"{label} clause {k} ({sub.number}) {field}: {diff}")
        if iso(sub.deadline) != clause["deadline"]:
            out.append(f"{label} clause {k} ({sub.number}) deadline: expected {clause['deadline']} "
                       f"got {iso(sub.deadline)} (text {sub.deadline_text!r}, source {sub.deadline_source})")


def differences(name: str) -> list[str]:
    want, ex = expected(name), run(name)
    out: list[str] = []
    check_document(want["document"], ex, out)
    check_rules(want["rules"], ex, out)
    period = want["document"]["period"]
    plan_end = f"{period['end']}-12-31" if period else None
    pairs, extra = match_tasks(want["tasks"], ex.tasks)
    for i, w in enumerate(want["tasks"]):
        label = f"task #{i + 1} {w['number']} {w['title']}:"
        if i not in pairs:
            out.append(f"{label} MISSING (not extracted)")
            continue
        check_task(label, w, pairs[i], ex, plan_end, out)
    for g in extra:
        out.append(f"EXTRA task {g.number!r} {g.title!r} (line {g.source.line if g.source else '?'}, "
                   f"lead={g.lead_units} resp={g.responsible_units} coop={g.cooperating_units})")
    if len(ex.warnings) < want["min_warnings"]:
        out.append(f"warnings: expected at least {want['min_warnings']} got {len(ex.warnings)}")
    return out


@pytest.mark.parametrize("name", CASES)
def test_blind_document(name):
    diffs = differences(name)
    assert not diffs, f"{name}: {len(diffs)} difference(s)\n  " + "\n  ".join(diffs)
