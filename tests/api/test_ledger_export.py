"""台账 export: XLSX and CSV, one row per obligation, holding exactly what the JSON APIs answer
for the same obligations; a unit sees its own rows; 100k rows in bounded memory."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from app.ledger.schemas import HEADERS, LIGHT_LABELS, ROLE_LABELS, STATUS_LABELS
from app.models import Assignment
from bench.ledger_export import generate
from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN

AS_OF = "2025-07-20"
COUNTY = """兴国县府办字〔2025〕5号
兴国县人民政府办公室关于印发兴国县督办测试工作方案的通知
各乡镇人民政府,县政府有关部门:
现将《兴国县督办测试工作方案》印发给你们,请认真贯彻落实。
2025年2月1日
兴国县督办测试工作方案
一、重点任务
1.推进农村污水治理。2025年10月底前完成。〔牵头单位:县生态环境局;责任单位:县住建局〕
"""


@pytest.fixture
async def flow(client, api, database) -> Flow:
    flow = await Flow(client, api, database).start()
    # Imported "in February": the obligations count in the months the scenarios look at.
    await flow.execute(update(Assignment).values(created_at=datetime(2025, 2, 1, tzinfo=UTC)))
    return flow


async def sheet(client, period: str = "2025-07", headers: dict | None = None, **params):
    response = await client.get(f"{API}/dispatch/{period}/ledger.xlsx", headers=headers or ADMIN,
                                params={"as_of": AS_OF, **params})
    assert response.status_code == 200, response.text
    return load_workbook(io.BytesIO(response.content)).active


def records(ws) -> list[dict]:
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == HEADERS
    return [dict(zip(HEADERS, row, strict=True)) for row in rows[1:]]


async def work(flow: Flow) -> None:
    """A July with a little of everything: reports, an own deadline, an overdue obligation."""
    await flow.accept("1", "市发改委")
    await flow.report("1", "市发改委", period="2025-07", progress=40, summary="已完成初稿，正在征求意见")
    await flow.accept("2", "市住建局")
    await flow.report("2", "市住建局", period="2025-07", progress=60, summary="建成充电桩4000根")
    held = await flow.obligation("3", "市生态环境局")
    patched = await flow.client.patch(f"{API}/tasks/{flow.tasks['3']}/assignments/{held['id']}",
                                      json={"deadline": "2025-07-31"}, headers=ADMIN)
    assert patched.status_code == 200, patched.text


class TestLedgerXlsx:
    async def test_every_cell_is_what_the_task_view_and_the_dispatch_answer(self, flow, client):
        await work(flow)
        rows = records(await sheet(client))
        dispatch = (await flow.get("/dispatch/2025-07/assignments", as_of=AS_OF, limit=500)).json()
        by_id = {item["assignment_id"]: item for item in dispatch["items"]}
        assert sorted(by_id) == sorted(r["责任ID"] for r in rows)
        assert [r["序号"] for r in rows] == list(range(1, len(rows) + 1))
        for row in rows:
            task = (await flow.get(f"/tasks/{row['任务ID']}", as_of=AS_OF)).json()
            [held] = [a for a in task["assignments"] if a["id"] == row["责任ID"]]
            named = sorted([*task["assignments"], *task["groups"]],
                           key=lambda a: a["unit"]["id"] if "unit" in a else a["id"])
            leads = "、".join(a["unit"]["short_name"] if "unit" in a else a["short_name"]
                             for a in named if a["role"] == "lead")
            listed = by_id[row["责任ID"]]
            assert row == {
                "序号": row["序号"], "文件": task["document"]["title"], "任务编号": task["number"],
                "任务": task["title"], "牵头单位": leads or None,
                "责任单位": held["unit"]["short_name"], "角色": ROLE_LABELS[held["role"]],
                "完成时限": held["effective_deadline"],
                "本期进展": listed["report"]["summary"] if listed["report"] else None,
                "进度": held["progress"], "状态": STATUS_LABELS[held["status"]],
                "逾期天数": held["days_overdue"], "预警": LIGHT_LABELS[listed["light"]],
                "任务ID": task["id"], "责任ID": held["id"],
                "版本": int(held["etag"].rsplit("-v", 1)[1].strip('"'))}
            assert (listed["days_overdue"], listed["effective_deadline"], listed["progress"]) == \
                (held["days_overdue"], held["effective_deadline"], held["progress"])
        assert {r["预警"] for r in rows} == {"红", "黄", "绿"}

    async def test_rows_run_by_document_task_and_role_with_the_lead_first(self, flow, client):
        rows = records(await sheet(client))
        keys = [(r["任务ID"], r["角色"]) for r in rows]
        assert keys[:3] == [(flow.tasks["1"], "牵头"), (flow.tasks["1"], "责任"),
                            (flow.tasks["1"], "责任")]
        assert [r["责任单位"] for r in rows if r["任务ID"] == flow.tasks["2"]] == \
            ["市发改委", "市住建局", "市交通运输局"]
        assert {r["牵头单位"] for r in rows if r["任务ID"] == flow.tasks["2"]} == {"市发改委、市住建局"}

    async def test_group_placeholders_and_removed_obligations_are_no_rows(self, flow, client):
        held = await flow.obligation("1", "市科技局")
        await client.delete(f"{API}/tasks/{flow.tasks['1']}/assignments/{held['id']}", headers=ADMIN)
        rows = records(await sheet(client))
        assert held["id"] not in {r["责任ID"] for r in rows}
        assert "各县(市、区)" not in {r["责任单位"] for r in rows}
        assert len(rows) == 9

    async def test_the_header_is_bold_and_frozen_and_the_columns_are_sized(self, flow, client):
        ws = await sheet(client)
        assert ws.freeze_panes == "A2"
        assert all(cell.font.bold for cell in ws[1])
        assert ws.column_dimensions["D"].width > 40 and ws.column_dimensions["A"].width < 10
        assert ws.auto_filter.ref.startswith("A1:P")
        assert isinstance(ws["C2"].value, str) and ws["H2"].number_format == "@"

    async def test_the_file_is_named_in_chinese_with_an_ascii_fallback(self, flow, client):
        response = await client.get(f"{API}/dispatch/2025-07/ledger.xlsx", headers=ADMIN)
        assert response.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        assert response.headers["content-disposition"] == (
            f"attachment; filename=\"ledger-2025-07.xlsx\"; filename*=UTF-8''{quote('台账-2025-07.xlsx')}")

    async def test_a_quarter_shows_each_obligations_latest_report_in_it(self, flow, client):
        await flow.accept("1", "市发改委")
        await flow.report("1", "市发改委", period="2025-07", progress=30, summary="七月进展")
        await flow.report("1", "市发改委", period="2025-08", progress=50, summary="八月进展")
        rows = records(await sheet(client, "2025-Q3", as_of="2025-09-30"))
        assert rows[0]["本期进展"] == "八月进展" and rows[0]["进度"] == 50


class TestLedgerCsv:
    async def test_csv_is_utf8_with_a_bom_and_holds_the_rows_of_the_xlsx(self, flow, client):
        await work(flow)
        response = await client.get(f"{API}/dispatch/2025-07/ledger.csv", headers=ADMIN,
                                    params={"as_of": AS_OF})
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert "filename*=UTF-8''" in response.headers["content-disposition"]
        assert response.content.startswith(b"\xef\xbb\xbf")
        parsed = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        xlsx = list((await sheet(client)).iter_rows(values_only=True))
        assert tuple(parsed[0]) == HEADERS and len(parsed) == len(xlsx)
        # Excel has one number type: a count comes back from the sheet as 40.0, written 40.
        as_text = [tuple("" if v is None else str(int(v)) if isinstance(v, float) and v.is_integer()
                         else str(v) for v in row) for row in xlsx]
        assert [tuple(row) for row in parsed] == as_text
        assert "已完成初稿，正在征求意见" in {row[8] for row in parsed}


class TestWhoSeesWhat:
    async def test_a_unit_token_gets_its_own_rows_only(self, flow, client):
        mine = await flow.token("市工信局")
        rows = records(await sheet(client, headers=mine))
        assert {r["责任单位"] for r in rows} == {"市工信局"}
        assert sorted(r["任务ID"] for r in rows) == sorted(
            [flow.tasks["1"], flow.tasks["4.1"], flow.tasks["4.2"]])
        csv_rows = (await client.get(f"{API}/dispatch/2025-07/ledger.csv", headers=mine)).text
        assert "市发改委" not in {line.split(",")[5] for line in csv_rows.splitlines()[1:]}

    async def test_a_unit_token_naming_another_unit_learns_nothing(self, flow, client):
        response = await client.get(f"{API}/dispatch/2025-07/ledger.xlsx",
                                    headers=await flow.token("市工信局"), params={"unit": "市发改委"})
        assert response.status_code == 404

    async def test_filters_by_unit_document_and_jurisdiction(self, flow, client, api):
        county = (await api.import_text(COUNTY))["id"]
        assert {r["责任单位"] for r in records(await sheet(client, unit="市发改委"))} == {"市发改委"}
        rows = records(await sheet(client, document=county))
        assert {r["责任单位"] for r in rows} == {"县生态环境局", "县住建局"}
        assert records(await sheet(client, jurisdiction="兴国县")) == rows
        assert len(records(await sheet(client, jurisdiction="明溪市"))) == 10

    async def test_a_ledger_with_no_rows_still_names_its_columns(self, flow, client):
        idle = await client.post(f"{API}/units", headers=ADMIN, json={"name": "赣州市档案馆"})
        assert idle.status_code == 201, idle.text  # a unit no document names yet
        empty = await sheet(client, unit="赣州市档案馆")
        assert list(empty.iter_rows(values_only=True)) == [HEADERS]
        text = (await client.get(f"{API}/dispatch/2025-07/ledger.csv", headers=ADMIN,
                                 params={"unit": "赣州市档案馆"})).text
        assert text.lstrip("\ufeff").splitlines() == [",".join(HEADERS)]

    async def test_an_unknown_document_is_404_and_a_bad_period_is_422(self, flow, client):
        missing = await client.get(f"{API}/dispatch/2025-07/ledger.xlsx", headers=ADMIN,
                                   params={"document": 9999})
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        bad = await client.get(f"{API}/dispatch/2025-13/ledger.csv", headers=ADMIN)
        assert bad.status_code == 422 and "YYYY-MM" in bad.json()["detail"]


class TestLargeLedger:
    """100k obligations inserted in bulk; both exports run through the app. Peak Python memory
    is measured on the CSV, streamed row by row (tracemalloc slows the writer's many small
    allocations several times over; bench/ledger_export.py traces both)."""

    async def test_100k_rows_export_in_bounded_memory(self, database, client):
        async with database.session() as session:
            await generate(session, 100_000)
            await session.commit()
        tracemalloc.start()
        try:
            response = await client.get(f"{API}/dispatch/2025-06/ledger.csv", headers=ADMIN,
                                        params={"as_of": "2025-06-30"})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert response.status_code == 200
        assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MB"
        lines = response.content.decode("utf-8-sig").splitlines()
        assert len(lines) == 100_001 and lines[-1].startswith("100000,")
        began = time.perf_counter()
        async with client.stream("GET", f"{API}/dispatch/2025-06/ledger.xlsx", headers=ADMIN,
                                 params={"as_of": "2025-06-30"}) as streamed:
            body = await streamed.aread()
        assert streamed.status_code == 200 and time.perf_counter() - began < 60
        ws = load_workbook(io.BytesIO(body), read_only=True).active
        assert ws.max_row == 100_001 and ws.max_column == len(HEADERS)
