"""The accuracy scorer and its command line, on the seeds and their gold."""

import re
import subprocess
import sys
from datetime import date

import pytest

from app.extraction.accuracy import format_report, load_expected, score
from app.extraction.models import Milestone
from tests.extraction.seeds import F001, F003, F004, GOLD, ROOT, extraction


def ordered_union(lists) -> list[str]:
    return list(dict.fromkeys(u for names in lists for u in names))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.extraction.accuracy", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def table_rows(output: str) -> dict[str, list[str]]:
    return {cells[0]: cells[1:] for line in output.splitlines()
            if len(cells := line.split()) == 6 and cells[0] != "measure"}


class TestAccuracyCli:
    def test_prints_a_precision_recall_table_for_a_seed(self):
        done = run_cli(f"seed/{F001}", str(GOLD))
        assert done.returncode == 0, done.stderr
        assert re.search(r"measure\s+expected\s+predicted\s+matched\s+precision\s+recall", done.stdout)
        rows = table_rows(done.stdout)
        assert rows["tasks"] == ["31", "31", "31", "1.000", "1.000"]
        assert {"subtasks", "units.lead", "units.responsible", "units.cooperating", "units.any",
                "deadlines", "milestones", "titles.exact"} <= set(rows)

    def test_an_extraction_in_our_own_format_is_a_valid_reference(self, tmp_path):
        reference = tmp_path / "reviewed.json"
        reference.write_text(extraction(F003).model_dump_json(), encoding="utf-8")
        done = run_cli(f"seed/{F003}", str(reference))
        assert done.returncode == 0, done.stderr
        assert {v for row in table_rows(done.stdout).values() for v in row[3:]} <= {"1.000", "-"}

    @pytest.mark.parametrize(("document", "reference", "message"), [
        pytest.param("seed/missing.txt", "GOLD", "cannot read seed/missing.txt", id="missing-document"),
        pytest.param(f"seed/{F001}", "missing.json", "cannot read", id="missing-reference"),
        pytest.param(f"seed/{F001}", "{not json", "is not valid JSON", id="bad-json"),
        pytest.param(f"seed/{F001}", '{"documents": [{"file": "other.txt"}]}',
                     f"has no entry for '{F001}'", id="gold-without-this-document"),
        pytest.param(f"seed/{F001}", '{"tasks": 3}', "neither a gold file nor an extraction",
                     id="unknown-json-shape"),
    ])
    def test_bad_input_exits_2_with_a_clear_error(self, tmp_path, document, reference, message):
        if reference == "GOLD":
            reference = str(GOLD)
        elif reference != "missing.json":
            (tmp_path / "ref.json").write_text(reference, encoding="utf-8")
            reference = str(tmp_path / "ref.json")
        else:
            reference = str(tmp_path / reference)
        done = run_cli(document, reference)
        assert done.returncode == 2
        assert done.stdout == "" and done.stderr.startswith("error: ") and message in done.stderr

    def test_wrong_argument_count_prints_usage_and_exits_2(self):
        done = run_cli(f"seed/{F001}")
        assert done.returncode == 2 and done.stderr.startswith("usage:")


def scored(file: str, change=None):
    ours = extraction(file).model_copy(deep=True)
    if change:
        change({t.number: t for t in ours.tasks})
    return score(ours, load_expected(GOLD, file))


class TestAccuracyScore:
    def test_seed_003_scores_every_clause(self):
        report = scored(F003)
        assert (report["subtasks"].expected, report["subtasks"].matched) == (76, 76)
        assert report["deadlines"].expected == 21 + 76

    def test_a_sole_unit_placed_as_lead_still_matches(self):
        def lead_sole_units(tasks):
            for task in tasks.values():
                for sub in task.subtasks:
                    if len(sub.responsible_units) == 1 and not sub.lead_units:
                        sub.lead_units, sub.responsible_units = sub.responsible_units, []
                task.lead_units = ordered_union(s.lead_units for s in task.subtasks)
                task.responsible_units = [u for u in ordered_union(
                    s.responsible_units for s in task.subtasks) if u not in task.lead_units]
        report = scored(F003, lead_sole_units)
        for name in ("units.lead", "units.responsible"):
            assert report[name].precision == report[name].recall == 1.0, report[name]

    def test_a_lead_moved_to_responsible_in_a_multi_unit_clause_is_wrong(self):
        def demote(tasks):
            clause = tasks["1"].subtasks[0]
            clause.responsible_units = clause.lead_units + clause.responsible_units
            clause.lead_units = []
        report = scored(F003, demote)
        assert report["units.lead"].missing == [(("", "1.1"), "区发展改革委")]
        assert report["units.any"].recall == 1.0

    def test_an_optional_task_counts_when_found_and_not_when_missing(self):
        assert scored(F003)["tasks"].recall == 1.0  # the engine leaves out items 22-24
        ours = extraction(F003).model_copy(deep=True)
        ours.tasks.append(ours.tasks[-1].model_copy(update={"number": "22", "subtasks": []}))
        report = score(ours, load_expected(GOLD, F003))
        assert (report["tasks"].expected, report["tasks"].predicted, report["tasks"].matched) \
            == (22, 22, 22)

    def test_units_are_not_scored_where_the_gold_does_not_know_them(self):
        def fill_27(tasks):
            tasks["27"].responsible_units = ["省生态环境厅"]
        assert scored(F004, fill_27)["units.responsible"].precision == 1.0

    @pytest.mark.parametrize(("day", "hit"), [
        pytest.param(date(2026, 12, 31), True, id="carried-down-reading"),
        pytest.param(date(2035, 12, 31), True, id="plan-end-alternative"),
        pytest.param(date(2030, 12, 31), False, id="neither"),
    ])
    def test_deadline_alternatives(self, day, hit):
        def set_5(tasks):
            tasks["5"].deadline = day
        assert (scored(F004, set_5)["deadlines"].matched == 60) is hit

    def test_a_missing_optional_milestone_is_not_a_miss(self):
        def drop_optional(tasks):
            for sub in tasks["8"].subtasks:
                sub.milestones = [m for m in sub.milestones if not m.optional]
        full, less = scored(F003)["milestones"], scored(F003, drop_optional)["milestones"]
        assert less.recall == 1.0 and less.matched < full.matched

    def test_a_target_without_a_digit_is_ignored(self):
        def add_vague(tasks):
            tasks["1"].milestones.append(Milestone(text="稳步提高", due=date(2025, 12, 31),
                                                   due_text=None, metric="水平", target="稳步提高"))
        assert scored(F001, add_vague)["milestones"].precision == 1.0

    def test_format_report_has_one_fixed_width_row_per_measure(self):
        report = scored(F001)
        lines = format_report(report).splitlines()
        assert lines[0].split() == ["measure", "expected", "predicted", "matched", "precision",
                                    "recall"]
        assert len(lines) == 2 + len(report.measures)
        assert len({len(line) for line in lines}) == 1


