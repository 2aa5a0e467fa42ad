"""An exported 台账, edited in Excel and sent back: the preview lists exactly the edits, the
apply makes them through the workflow (all or nothing) and the audit log shows them; a row
edited on an older 版本 is a conflict; an unknown unit is an error row with suggestions."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from app.ledger.schemas import HEADERS
from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERIOD = "2025-07"


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


class Ledger:
    """An exported ledger open in "Excel": edit cells by task number, unit and header."""

    def __init__(self, flow: Flow, book) -> None:
        self.flow, self.book, self.sheet = flow, book, book.active

    @classmethod
    async def export(cls, flow: Flow) -> Ledger:
        response = await flow.get(f"/dispatch/{PERIOD}/ledger.xlsx")
        assert response.status_code == 200
        return cls(flow, load_workbook(io.BytesIO(response.content)))

    def row(self, number: str, unit: str) -> int:
        task = self.flow.tasks[number]
        for r in range(2, self.sheet.max_row + 1):
            if self.cell(r, "任务ID").value == task and self.cell(r, "责任单位").value == unit:
                return r
        raise AssertionError(f"no row for task {number} and {unit}")

    def cell(self, row: int, header: str):
        return self.sheet.cell(row=row, column=HEADERS.index(header) + 1)

    def edit(self, number: str, unit: str, **cells) -> int:
        r = self.row(number, unit)
        for header, value in cells.items():
            self.cell(r, header).value = value
        return r

    def data(self) -> bytes:
        buffer = io.BytesIO()
        self.book.save(buffer)
        return buffer.getvalue()

    async def send(self, step: str = "preview", headers: dict | None = None, data: bytes | None = None,
                   name: str = "台账-2025-07.xlsx", period: str = PERIOD):
        return await self.flow.client.post(
            f"{API}/ledger/{step}", data={"period": period}, headers=headers or ADMIN,
            files={"file": (name, data if data is not None else self.data(), XLSX)})


async def ready(flow: Flow) -> None:
    """市发改委 has accepted task 1, so it can report on it."""
    await flow.accept("1", "市发改委")


class TestRoundTrip:
    async def test_the_edits_are_previewed_exactly_then_applied_and_audited(self, flow, client):
        await ready(flow)
        ledger = await Ledger.export(flow)
        report_row = ledger.edit("1", "市发改委", 本期进展="已完成初稿，正在征求意见", 进度=45)
        deadline_row = ledger.edit("2", "市交通运输局", 完成时限="2025-10-31")
        unit_row = ledger.edit("3", "市生态环境局", 责任单位="市科技局")
        ids = {r: ledger.cell(r, "责任ID").value for r in (report_row, deadline_row, unit_row)}
        preview = await ledger.send("preview")
        assert preview.status_code == 200, preview.text
        body = preview.json()
        assert (body["rows"], body["errors"], body["conflicts"]) == (10, [], [])
        assert [(c["row"], c["field"], c["before"], c["after"]) for c in body["changes"]] == [
            (report_row, "summary", None, "已完成初稿，正在征求意见"),
            (report_row, "progress", None, 45),
            (deadline_row, "deadline", "2025-12-31", "2025-10-31"),
            (unit_row, "unit", "市生态环境局", "市科技局")]
        assert {c["assignment_id"] for c in body["changes"]} == set(ids.values())
        assert await flow.audit(action="ledger.deadline") == []
        assert (await flow.obligation("2", "市交通运输局"))["effective_deadline"] == "2025-12-31"

        applied = await ledger.send("apply")
        assert applied.status_code == 200, applied.text
        assert applied.json()["applied"] is True
        assert applied.json()["changes"] == body["changes"]
        moved = await flow.obligation("2", "市交通运输局")
        assert (moved["own_deadline"], moved["effective_deadline"]) == ("2025-10-31", "2025-10-31")
        task3 = (await flow.get(f"/tasks/{flow.tasks['3']}")).json()["assignments"]
        assert {(a["unit"]["short_name"], a["role"], a["status"], a["effective_deadline"])
                for a in task3} == {("市生态环境局", "lead", "removed", "2025-09-30"),
                                    ("市科技局", "lead", "assigned", "2025-09-30")}
        [report] = (await flow.get(f"/tasks/{flow.tasks['1']}/reports")).json()["items"]
        assert (report["period"], report["progress"], report["summary"]) == \
            (PERIOD, 45, "已完成初稿，正在征求意见")
        for action, row in (("ledger.summary", report_row), ("ledger.progress", report_row),
                            ("ledger.deadline", deadline_row), ("ledger.unit", unit_row)):
            [entry] = await flow.audit(action=action)
            assert (entry["entity_id"], entry["before"]["row"], entry["actor"]) == \
                (ids[row], row, "admin")
        [unit_entry] = await flow.audit(action="ledger.unit")
        assert unit_entry["after"]["unit_id"] == flow.units["市科技局"]
        assert len(await flow.audit(action="report.created")) == 1
        [summary] = await flow.audit(action="ledger.applied")
        assert (summary["after"]["changes"], summary["after"]["period"]) == (4, PERIOD)

    async def test_an_unedited_ledger_changes_nothing(self, flow):
        ledger = await Ledger.export(flow)
        body = (await ledger.send("apply")).json()
        assert (body["rows"], body["changes"], body["errors"], body["conflicts"]) == (10, [], [], [])

    async def test_a_date_excel_typed_as_a_date_and_a_csv_export_are_read_too(self, flow, client):
        ledger = await Ledger.export(flow)
        ledger.edit("2", "市交通运输局", 完成时限=datetime(2025, 11, 30))
        body = (await ledger.send("preview")).json()
        assert [(c["field"], c["after"]) for c in body["changes"]] == [("deadline", "2025-11-30")]
        exported = (await flow.get(f"/dispatch/{PERIOD}/ledger.csv")).content.decode("utf-8-sig")
        edited = exported.replace("市交通运输局,责任,2025-12-31", "市交通运输局,责任,2026/1/15")
        csv = await ledger.send("preview", data=edited.encode("gb18030"), name="台账.csv")
        assert [(c["field"], c["after"]) for c in csv.json()["changes"]] == [("deadline", "2026-01-15")]


class TestConflicts:
    async def test_a_row_edited_on_an_older_version_is_a_conflict_and_left_alone(self, flow, client):
        ledger = await Ledger.export(flow)
        stale = ledger.edit("2", "市交通运输局", 完成时限="2025-10-31")
        fresh = ledger.edit("2", "市住建局", 完成时限="2025-11-30")
        held = await flow.obligation("2", "市交通运输局")
        patched = await client.patch(f"{API}/tasks/{flow.tasks['2']}/assignments/{held['id']}",
                                     json={"deadline": "2025-09-30"}, headers=ADMIN)
        assert patched.status_code == 200
        body = (await ledger.send("apply")).json()
        [conflict] = body["conflicts"]
        assert (conflict["row"], conflict["assignment_id"], conflict["fields"]) == \
            (stale, held["id"], ["deadline"])
        assert conflict["current_version"] == conflict["version"] + 1
        assert [c["row"] for c in body["changes"]] == [fresh]
        assert (await flow.obligation("2", "市交通运输局"))["effective_deadline"] == "2025-09-30"
        assert (await flow.obligation("2", "市住建局"))["effective_deadline"] == "2025-11-30"


class TestErrors:
    async def test_an_unknown_unit_is_an_error_row_with_the_closest_units_and_nothing_applies(
            self, flow):
        ledger = await Ledger.export(flow)
        ledger.edit("2", "市交通运输局", 完成时限="2025-10-31")
        wrong = ledger.edit("3", "市生态环境局", 责任单位="市住建委")
        preview = (await ledger.send("preview")).json()
        [error] = preview["errors"]
        assert error["row"] == wrong and "市住建委" in error["message"]
        assert "明溪市住房和城乡建设局" in error["suggestions"]
        applied = await ledger.send("apply")
        assert applied.status_code == 422
        problem = applied.json()
        assert [(e["row"], e["suggestions"]) for e in problem["errors"]] == \
            [(wrong, error["suggestions"])]
        assert (await flow.obligation("2", "市交通运输局"))["effective_deadline"] == "2025-12-31"
        assert await flow.audit(action="ledger.deadline") == []

    async def test_the_reports_rules_hold_an_unaccepted_obligation_cannot_report(self, flow):
        ledger = await Ledger.export(flow)
        row = ledger.edit("1", "市工信局", 本期进展="已启动")
        [error] = (await ledger.send("preview")).json()["errors"]
        assert error["row"] == row and "本期进展" in error["message"]
        assert "accept" in error["message"]

    async def test_a_closed_period_takes_no_progress(self, flow):
        await ready(flow)
        assert (await flow.post(f"/periods/{PERIOD}/close")).status_code == 200
        ledger = await Ledger.export(flow)
        ledger.edit("1", "市发改委", 本期进展="补报")
        [error] = (await ledger.send("preview")).json()["errors"]
        assert "closed" in error["message"]

    async def test_rows_that_lost_their_ids_or_values_say_what_to_fix(self, flow):
        ledger = await Ledger.export(flow)
        ledger.edit("1", "市工信局", 完成时限="明年")
        ledger.edit("1", "市科技局", 进度=150)
        ledger.edit("2", "市发改委", 责任ID=None)
        ledger.edit("2", "市住建局", 责任单位="市发改委")
        ledger.edit("1", "市发改委", 任务ID=flow.tasks["2"])
        messages = [e["message"] for e in (await ledger.send("preview")).json()["errors"]]
        assert len(messages) == 5
        assert "任务ID" in messages[0] and "not a date" in messages[1]
        assert "0 to 100" in messages[2] and "责任ID" in messages[3]
        assert "already holds" in messages[4]

    async def test_a_sheet_that_is_no_ledger_is_422(self, flow):
        ledger = await Ledger.export(flow)
        ledger.sheet.delete_cols(HEADERS.index("责任ID") + 1)
        response = await ledger.send("preview")
        assert response.status_code == 422 and "责任ID" in response.json()["detail"]

    async def test_only_the_office_reimports_a_ledger(self, flow):
        ledger = await Ledger.export(flow)
        unit = await flow.token("市发改委")
        assert (await ledger.send("preview", headers=unit)).status_code == 403
        assert (await ledger.send("apply", headers=unit)).status_code == 403
