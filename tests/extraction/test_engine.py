"""The engine on layouts of the genre that the seed documents do not use."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
from docx import Document

from app.errors import BinaryDocument, EmptyDocument
from app.extraction import extract, extract_text

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parents[2]


def load(name: str):
    return extract((FIXTURES / name).read_bytes(), name)


def by_number(extraction):
    return {t.number: t for t in extraction.tasks}


class TestLabelsOnTheirOwnLines:
    def test_reads_metadata_of_a_one_character_county(self):
        doc = load("labels_own_line.txt").document
        assert doc.title == "攸县2025年优化营商环境工作方案"
        assert doc.issuer == "攸县人民政府办公室"
        assert doc.doc_number == "攸政办发〔2025〕8号"
        assert doc.issued_on == date(2025, 3, 10)
        assert (doc.period.start, doc.period.end) == (2025, 2025)
        assert (doc.jurisdiction.name, doc.jurisdiction.level) == ("攸县", "county")

    def test_label_lines_give_roles_leaders_and_deadline(self):
        task = by_number(load("labels_own_line.txt"))["1"]
        assert task.lead_units == ["县行政审批服务局"]
        assert task.cooperating_units == ["县数据资源局", "县司法局"]
        assert [leader.name for leader in task.leaders] == ["李明"]
        assert "李明" not in task.lead_units + task.responsible_units + task.cooperating_units
        assert (task.deadline, task.deadline_source) == (date(2025, 6, 30), "label")

    def test_long_term_duty_has_no_date_and_is_flagged(self):
        task = by_number(load("labels_own_line.txt"))["3"]
        assert task.deadline is None and task.ongoing and task.deadline_text == "长期坚持"

    def test_lead_and_cooperate_sentence(self):
        task = by_number(load("labels_own_line.txt"))["4"]
        assert task.lead_units == ["县自然资源局"]
        assert task.cooperating_units == ["县发展和改革局", "县财政局"]
        assert task.deadline == date(2025, 9, 30)

    def test_units_resolve_to_the_county(self):
        task = by_number(load("labels_own_line.txt"))["2"]
        assert {u.canonical for u in task.units} >= {"攸县住房和城乡建设局", "攸县发展和改革局"}

    def test_measures_in_support_sections_are_not_tasks(self):
        assert list(by_number(load("labels_own_line.txt"))) == ["1", "2", "3", "4"]


class TestPairedLabels:
    def test_tasks_numbered_by_chinese_numerals(self):
        assert list(by_number(load("paired_labels.txt"))) == ["(一)", "(二)", "(三)", "(四)", "(五)"]

    def test_square_brackets_and_responsibility_labels(self):
        task = by_number(load("paired_labels.txt"))["(二)"]
        assert task.lead_units == ["市农业农村局"]
        assert task.cooperating_units == ["市科技局", "市财政局"]

    def test_person_field_is_a_leader_not_a_unit(self):
        task = by_number(load("paired_labels.txt"))["(一)"]
        assert [(leader.label, leader.name) for leader in task.leaders] == [("牵头负责领导", "王强")]
        assert all(u.name != "王强" for u in task.units)

    def test_fields_separated_only_by_spaces(self):
        task = by_number(load("paired_labels.txt"))["(四)"]
        assert task.lead_units == ["市人力社保局"]
        assert task.cooperating_units == ["市妇联", "团市委"]

    def test_lead_and_cooperate_in_brackets_with_a_group(self):
        task = by_number(load("paired_labels.txt"))["(三)"]
        assert task.lead_units == ["市委网信办"]
        assert task.cooperating_units == ["市大数据局", "各区县人民政府"]
        assert [u.group for u in task.units if u.name == "各区县人民政府"] == [True]
        assert (task.deadline, task.deadline_source) == (date(2026, 12, 31), "text")

    def test_rule_makes_responsible_units_leads_and_is_recorded(self):
        extraction = load("paired_labels.txt")
        task = by_number(extraction)["(五)"]
        assert task.lead_units == ["市农业农村局", "市委网信办"] and task.responsible_units == []
        rule = next(r for r in extraction.rules if r.kind == "responsible_is_lead")
        assert rule.applies_to == ["(五)"] and rule.stated_in is None

    def test_milestones_with_their_years(self):
        task = by_number(load("paired_labels.txt"))["(二)"]
        [m] = task.milestones
        assert (m.due, m.target, m.optional) == (date(2025, 12, 31), "50家", False)


class TestTableWithColumnsInAnotherOrder:
    def test_columns_are_read_by_header(self):
        tasks = by_number(load("table_reordered.txt"))
        assert tasks["2"].title == "推进长江、沱江重点河湖治理"
        assert tasks["2"].lead_units == ["市水利局"]
        assert tasks["2"].cooperating_units == ["市生态环境局", "市农业农村局"]

    def test_blank_deadline_cell_carries_down_and_says_so(self):
        tasks = by_number(load("table_reordered.txt"))
        assert (tasks["2"].deadline, tasks["2"].deadline_source) == (date(2025, 12, 31), "carried_down")
        assert tasks["3"].ongoing and tasks["3"].deadline is None
        assert tasks["4"].deadline == date(2025, 6, 30)


class TestHtmlPage:
    def test_site_chrome_is_dropped_and_the_table_read(self):
        extraction = load("html_page.html")
        assert extraction.document.format == "html"
        assert extraction.document.issuer == "黄冈市人民政府办公室"
        tasks = by_number(extraction)
        assert tasks["1"].lead_units == ["市农业农村局"]
        assert tasks["1"].responsible_units == ["各县（市、区）人民政府"]
        assert tasks["2"].deadline == date(2025, 12, 31) and tasks["3"].ongoing
        assert [m.target for m in tasks["1"].milestones] == ["5000户", "100%"]
        assert not any(w.code == "no_tasks" for w in extraction.warnings)


class TestEncodings:
    def test_gb18030_file_reads_like_its_utf8_twin(self):
        text = (FIXTURES / "paired_labels.txt").read_text("utf-8")
        from_gb = extract(text.encode("gb18030"), "plan.txt")
        from_utf8 = extract(text.encode("utf-8"), "plan.txt")
        assert from_gb.document.encoding == "gb18030"
        assert from_gb.tasks == from_utf8.tasks

    def test_stored_gb18030_fixture(self):
        extraction = load("gb18030_plan.txt")
        assert extraction.document.encoding == "gb18030"
        assert len(extraction.tasks) == 5


class TestDocx:
    def test_paragraphs_and_a_task_table(self):
        doc = Document()
        for line in (FIXTURES / "labels_own_line.txt").read_text("utf-8").splitlines()[:12]:
            doc.add_paragraph(line)
        doc.add_paragraph("附件")
        doc.add_paragraph("重点任务分工表")
        table = doc.add_table(rows=3, cols=5)
        rows = [("序号", "任务", "牵头单位", "配合单位", "完成时限"),
                ("1", "建设企业服务中心。", "县发展和改革局", "县财政局", "2025年9月底前"),
                ("2", "开展营商环境评价。", "县行政审批服务局", "县司法局、县统计局", "持续推进")]
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                table.cell(r, c).text = value
        buffer = BytesIO()
        doc.save(buffer)
        extraction = extract(buffer.getvalue(), "plan.docx")
        assert extraction.document.format == "docx"
        assert extraction.document.title == "攸县2025年优化营商环境工作方案"
        tasks = by_number(extraction)
        assert tasks["1"].lead_units == ["县发展和改革局"]
        assert tasks["2"].cooperating_units == ["县司法局", "县统计局"]
        assert tasks["2"].ongoing


class TestProvenance:
    @pytest.mark.parametrize("name", ["labels_own_line.txt", "paired_labels.txt", "table_reordered.txt"])
    def test_every_item_points_into_the_document(self, name):
        text = (FIXTURES / name).read_text("utf-8")
        extraction = extract_text(text)
        for task in extraction.tasks:
            for item in [task, *task.units, *task.milestones]:
                src = item.source
                assert src is not None and text[src.start : src.end] == src.text
                assert src.line == text.count("\n", 0, src.start) + 1
            for unit in task.units:
                assert unit.as_written in unit.source.text

    def test_extraction_is_deterministic(self):
        data = (FIXTURES / "paired_labels.txt").read_bytes()
        assert extract(data).model_dump_json() == extract(data).model_dump_json()


class TestBadInput:
    def test_empty_file(self):
        with pytest.raises(EmptyDocument):
            extract(b"  \n\n ")

    def test_binary_file(self):
        with pytest.raises(BinaryDocument):
            extract(b"%PDF-1.7\n\x00\x01\x02binary")

    def test_text_without_tasks_is_an_empty_extraction_with_a_reason(self):
        extraction = extract_text("关于做好春节期间安全生产工作的通知\n各单位要高度重视安全生产工作。\n")
        assert extraction.tasks == []
        no_tasks = next(w for w in extraction.warnings if w.code == "no_tasks")
        assert "task" in no_tasks.message

    def test_annotation_outside_any_task_is_reported(self):
        text = ("某市2025年工作方案\n一、总体要求\n坚持稳中求进。（牵头单位：市发改委）\n"
                "二、重点任务\n1.推进改革。深化改革。（牵头单位：市财政局）\n")
        extraction = extract_text(text)
        assert [t.number for t in extraction.tasks] == ["1"]
        assert "annotation_without_task" in [w.code for w in extraction.warnings]


class TestCommandLine:
    def test_prints_the_contract_shape(self):
        out = subprocess.run([sys.executable, "-m", "app.extraction", str(FIXTURES / "paired_labels.txt")],
                             capture_output=True, cwd=ROOT, check=True)
        data = json.loads(out.stdout)
        assert set(data) >= {"document", "tasks", "indicators", "warnings"}
        assert set(data["document"]) >= {"title", "issuer", "doc_number", "issued_on", "period",
                                         "jurisdiction"}
        task = data["tasks"][0]
        assert set(task) >= {"number", "kind", "title", "text", "lead_units", "responsible_units",
                             "cooperating_units", "deadline", "deadline_text", "milestones",
                             "subtasks", "source"}

    def test_unreadable_file_is_a_clear_error(self, tmp_path):
        bad = tmp_path / "scan.pdf"
        bad.write_bytes(b"%PDF-1.4\x00\x00")
        out = subprocess.run([sys.executable, "-m", "app.extraction", str(bad)],
                             capture_output=True, cwd=ROOT, text=True)
        assert out.returncode == 1 and "binary_document" in out.stderr


class TestNumericDates:
    @pytest.mark.parametrize("text", ["2025-06-30", "2025/6/30", "2025.6.30", "2025年6月30日前"])
    def test_a_full_date_is_that_day(self, text):
        from app.extraction.dates import parse_deadline

        assert parse_deadline(text) == (date(2025, 6, 30), False)

    def test_a_year_range_is_not_mistaken_for_a_date(self):
        from app.extraction.dates import parse_deadline

        assert parse_deadline("2022-2030年") == (date(2030, 12, 31), False)
