"""Score an extraction against an expected one: precision and recall per measure.

`python -m app.extraction.accuracy DOCUMENT EXPECTED.json` prints the table. EXPECTED is either
the hand-checked gold file (tests/extraction/gold/seeds.json and its README) or an Extraction
printed by `python -m app.extraction`, so a reviewed extraction can serve as the reference.
The engine never reads either; this module only compares.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from app.errors import DomainError
from app.extraction.engine import extract
from app.extraction.models import Extraction, Task

Key = tuple[str, str]  # (project category or "", number): 000 restarts project numbers per category
ROLES = ("lead", "responsible", "cooperating")


class ExpectedError(ValueError):
    pass


@dataclass(frozen=True)
class MilestoneView:
    due: str | None
    target: str  # whitespace removed: the source prints both "15 公里" and "15公里"
    optional: bool = False


@dataclass
class TaskView:
    """One task, subtask or project, as both sides of the comparison see it."""

    key: Key
    number: str
    kind: str
    title: str | None
    units: dict[str, list[str]]
    deadline: str | None
    alternatives: frozenset[str] = frozenset()  # other dates the gold accepts (004's blank cells)
    optional: bool = False
    units_unknown: bool = False
    milestones: list[MilestoneView] = field(default_factory=list)
    subtasks: list[TaskView] = field(default_factory=list)
    # Units whose role the source leaves open; see _mark_flexible.
    flexible: frozenset[str] = frozenset()

    @property
    def accepted(self) -> frozenset[str]:
        return self.alternatives | {self.deadline} if self.deadline else self.alternatives


@dataclass
class Expected:
    tasks: list[TaskView]
    lead_rule: bool  # the document says "the first of several units leads"


@dataclass
class Measure:
    name: str
    expected: int
    predicted: int
    matched: int
    missing: list = field(default_factory=list)
    extra: list = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.matched / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.matched / self.expected if self.expected else None


@dataclass
class Report:
    measures: list[Measure]

    def __getitem__(self, name: str) -> Measure:
        return next(m for m in self.measures if m.name == name)


# ---- normalising both sides ------------------------------------------------------------------

def _view(task: Task, category: str = "") -> TaskView:
    # Our project tasks carry their category as the last section; the gold keys them the same way.
    if task.kind == "project" and task.section_path:
        category = task.section_path[-1]
    return TaskView(
        key=(category, task.number), number=task.number, kind=task.kind, title=task.title,
        units={"lead": task.lead_units, "responsible": task.responsible_units,
               "cooperating": task.cooperating_units},
        deadline=task.deadline.isoformat() if task.deadline else None,
        milestones=[MilestoneView(m.due.isoformat() if m.due else None, _squeeze(m.target),
                                  m.optional) for m in task.milestones],
        subtasks=[_view(s, category) for s in task.subtasks])


def _gold_view(item: dict, category: str = "") -> TaskView:
    # Gold projects (000's appendix) name their title "name"; only they have a category.
    number = str(item["number"])
    return TaskView(
        key=(category, number), number=number, kind="project" if category else "task",
        title=item.get("title", item.get("name")),
        units={role: list(item.get(f"{role}_units") or []) for role in ROLES},
        deadline=item.get("deadline"),
        alternatives=frozenset(item.get("deadline_alternatives") or ()),
        optional=bool(item.get("optional")),
        units_unknown=bool(item.get("units_unknown")),
        milestones=[MilestoneView(m.get("due"), _squeeze(m["target"]), bool(m.get("optional")))
                    for m in item.get("milestones") or []],
        subtasks=[_gold_view(s, category) for s in item.get("subtasks") or []])


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _mark_flexible(view: TaskView) -> None:
    # Under "有多个责任单位的，排名第一位的为牵头单位" a clause naming one unit does not say whether
    # that unit leads, so the gold README accepts it in either role. A task that aggregates its
    # clauses inherits the doubt for a unit that is sole somewhere and leads nowhere.
    for sub in view.subtasks:
        _mark_flexible(sub)
    named = view.units["lead"] + view.units["responsible"]
    sole = set(named) if len(named) == 1 else set()
    inherited = {u for s in view.subtasks for u in s.flexible} & set(view.units["responsible"])
    view.flexible = frozenset(sole | inherited)


def load_expected(path: Path, document_file: str | None) -> Expected:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExpectedError(f"{path} is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("documents"), list):
        entry = _gold_entry(data["documents"], document_file, path)
        tasks = [_gold_view(t) for t in entry.get("tasks") or []]
        tasks += [_gold_view(p, p["category"]) for p in entry.get("projects") or []]
        lead_rule = any(r.get("kind") == "lead_unit_rule"
                        for r in entry.get("global_rules_detail") or [])
    else:
        try:
            extraction = Extraction.model_validate(data)
        except ValidationError as exc:
            raise ExpectedError(f"{path} is neither a gold file nor an extraction "
                                f"({exc.error_count()} schema errors)") from exc
        tasks = [_view(t) for t in extraction.tasks]
        lead_rule = any(r.kind == "lead_first_listed" for r in extraction.rules)
    if lead_rule:
        for task in tasks:
            _mark_flexible(task)
    return Expected(tasks=tasks, lead_rule=lead_rule)


def _gold_entry(documents: list[dict], document_file: str | None, path: Path) -> dict:
    if document_file is None and len(documents) == 1:
        return documents[0]
    for entry in documents:
        if entry.get("file") == document_file:
            return entry
    raise ExpectedError(f"{path} has no entry for {document_file!r}")


# ---- scoring --------------------------------------------------------------------------------

def _walk(views: Iterable[TaskView]) -> Iterator[TaskView]:
    for view in views:
        yield view
        yield from _walk(view.subtasks)


def _active(expected: list[TaskView], predicted_keys: set[Key], deep: bool = True) -> list[TaskView]:
    # An optional task (and everything under it) neither earns nor costs anything when absent;
    # once predicted, every measure treats it like a required one.
    out = []
    for view in expected:
        if not view.optional or view.key in predicted_keys:
            out += [view, *(_active(view.subtasks, predicted_keys) if deep else [])]
    return out


def _measure(name: str, expected: Iterable, predicted: Iterable, optional: Iterable = ()) -> Measure:
    # Multisets, so one sentence with two identical targets needs two predictions.
    want, got, spare = Counter(expected), Counter(predicted), Counter(optional)
    hit = want & got
    bonus = spare & (got - hit)  # optional items count when found, never when missed
    return Measure(name, sum(want.values()) + sum(bonus.values()), sum(got.values()),
                   sum(hit.values()) + sum(bonus.values()),
                   missing=sorted((want - got).elements(), key=str),
                   extra=sorted((got - hit - bonus).elements(), key=str))


def _roles(expected: list[TaskView], predicted: dict[Key, TaskView]) -> dict[str, tuple]:
    want: dict[str, list] = {r: [] for r in ROLES}
    got: dict[str, list] = {r: [] for r in ROLES}
    for view in expected:
        if view.units_unknown:
            continue
        guess = predicted.get(view.key)
        for role in ROLES:
            for unit in view.units[role]:
                placed = role
                if unit in view.flexible and guess and unit not in guess.units[role]:
                    # settle an open role where the prediction put it, if it put it anywhere
                    placed = next((r for r in ROLES if unit in guess.units[r]), role)
                want[placed].append((view.key, unit))
    skip = {v.key for v in expected if v.units_unknown}
    for view in predicted.values():
        if view.key not in skip:
            for role in ROLES:
                got[role] += [(view.key, unit) for unit in view.units[role]]
    return {r: (want[r], got[r]) for r in ROLES}


def score(extraction: Extraction, expected: Expected) -> Report:
    ours = [_view(t) for t in extraction.tasks]
    predicted = {v.key: v for v in _walk(ours)}
    tops = _active(expected.tasks, set(predicted), deep=False)
    subs = [s for v in tops for s in _active(v.subtasks, set(predicted))]
    active = tops + subs
    measures = [
        _measure("tasks", [v.key for v in tops], [v.key for v in ours]),
        _measure("subtasks", [v.key for v in subs],
                 [s.key for v in ours for s in _walk(v.subtasks)]),
    ]
    roles = _roles(active, predicted)
    measures += [_measure(f"units.{r}", *roles[r]) for r in ROLES]
    measures.append(_measure("units.any", {p for r in ROLES for p in roles[r][0]},
                             {p for r in ROLES for p in roles[r][1]}))
    # A predicted date that is any accepted one for its task stands for the expected date.
    dated = {v.key: v.accepted for v in active if v.accepted}
    measures.append(_measure(
        "deadlines", [(k, min(days)) for k, days in dated.items()],
        [(v.key, min(dated[v.key]) if v.deadline in dated.get(v.key, ()) else v.deadline)
         for v in predicted.values() if v.deadline]))
    measures.append(_measure(
        "milestones",
        [(v.key, m.due, m.target) for v in active for m in v.milestones if not m.optional],
        # The README: a predicted "target" without an Arabic digit is not a milestone at all.
        [(v.key, m.due, m.target) for v in predicted.values() for m in v.milestones
         if any(c.isdigit() for c in m.target)],
        [(v.key, m.due, m.target) for v in active for m in v.milestones if m.optional]))
    titled = [(v.title, predicted[v.key].title) for v in active
              if v.title is not None and v.key in predicted]
    same = sum(a == b for a, b in titled)
    measures.append(Measure("titles.exact", len(titled), len(titled), same,
                            missing=[a for a, b in titled if a != b]))
    return Report(measures)


def format_report(report: Report) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [f"{'measure':<18}{'expected':>9}{'predicted':>10}{'matched':>9}"
             f"{'precision':>11}{'recall':>8}"]
    lines.append("-" * len(lines[0]))
    lines += [f"{m.name:<18}{m.expected:>9}{m.predicted:>10}{m.matched:>9}"
              f"{pct(m.precision):>11}{pct(m.recall):>8}" for m in report.measures]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        print("usage: python -m app.extraction.accuracy DOCUMENT EXPECTED.json", file=sys.stderr)
        return 2
    document, reference = Path(argv[0]), Path(argv[1])
    try:
        data = document.read_bytes()
        expected = load_expected(reference, document.name)
        extraction = extract(data, document.name)
    except OSError as exc:
        print(f"error: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except ExpectedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"error: {exc.code}: {exc.detail}", file=sys.stderr)
        return 2
    print(f"{document.name} against {reference}")
    print(format_report(score(extraction, expected)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
