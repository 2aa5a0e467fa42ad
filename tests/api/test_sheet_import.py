"""A task list kept in a spreadsheet (任务分工表), previewed and imported through the same engine
and the same import path as documents: any column order, .xlsx or .csv (UTF-8 or GB18030)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime

from openpyxl import Workbook

from tests.api.test_assignments import API
from tests.helpers import ADMIN

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Columns in an order no document prints them in; a category row; a date cell; a merged
# deadline left blank (it carries down, as in a document's table).
ROWS = [
    ["任务", "完成时限", "责任单位", "序号", "牵头单位"],
    ["一、低碳发展"],
    ["推进碳达峰，编制实施方案", datetime(2025, 6, 30), "市工信局、市科技局", 1, "市发改委"],
    ["推进充电桩建设\n全市建成充电桩2万根", "2025年12月底前", "市交通运输局", 2, "市住建局"],
    ["加强生态保护修复", None, "市林业局", 3, "市生态环境局"],
]
TITLE = "明溪市2025年重点任务分工表"


def xlsx(rows: list[list] = ROWS, title_row: str | None = TITLE) -> bytes:
    book = Workbook()
    sheet = book.active
    if title_row:
        sheet.append([title_row])
        sheet.append([])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def as_csv(rows: list[list] = ROWS, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(["2025年6月30日" if isinstance(v, datetime) else v for v in row])
    return buffer.getvalue().encode(encoding)


async def send(client, data: bytes, name: str = "分工表.xlsx", path: str = "/imports/preview",
               headers: dict | None = None, **fields):
    kind = XLSX if name.endswith(".xlsx") else "text/csv"
    return await client.post(API + path, files={"file": (name, data, kind)}, data=fields,
                             headers=headers or ADMIN)


def read(body: dict) -> list[tuple]:
    return [(t["number"], t["title"], t["lead_units"], t["responsible_units"], t["deadline"],
             t["section_path"]) for t in body["tasks"]]


EXPECTED = [
    ("1", "推进碳达峰，编制实施方案", ["市发改委"], ["市工信局", "市科技局"], "2025-06-30", ["一、低碳发展"]),
    ("2", "推进充电桩建设 全市建成充电桩2万根", ["市住建局"], ["市交通运输局"], "2025-12-31",
     ["一、低碳发展"]),
    ("3", "加强生态保护修复", ["市生态环境局"], ["市林业局"], "2025-12-31", ["一、低碳发展"]),
]


class TestPreview:
    async def test_columns_in_any_order_are_read_like_a_documents_table(self, client):
        response = await send(client, xlsx())
        assert response.status_code == 200, response.text
        body = response.json()
        assert read(body) == EXPECTED
        assert body["document"]["format"] == "table" and body["document"]["title"] == "分工表"
        assert body["tasks"][2]["deadline_source"] == "carried_down"

    async def test_a_gb18030_csv_reads_as_the_xlsx_does(self, client):
        gb = await send(client, as_csv(encoding="gb18030"), "分工表.csv")
        assert gb.status_code == 200, gb.text
        assert read(gb.json()) == EXPECTED and gb.json()["document"]["encoding"] == "gb18030"

    async def test_a_utf8_csv_reads_with_or_without_its_bom(self, client):
        plain = await send(client, as_csv(), "分工表.csv")
        bom = await send(client, b"\xef\xbb\xbf" + as_csv(), "分工表.csv")
        assert read(plain.json()) == read(bom.json()) == EXPECTED

    async def test_a_sheet_without_the_number_column_is_numbered_in_order(self, client):
        rows = [[cell for k, cell in enumerate(row) if k != 3] for row in ROWS]
        body = (await send(client, xlsx(rows))).json()
        assert [t[0] for t in read(body)] == ["1", "2", "3"] and read(body)[0][2] == ["市发改委"]

    async def test_the_title_and_jurisdiction_fields_say_whose_list_it_is(self, client):
        body = (await send(client, xlsx(title_row=None), title="重点任务分工表",
                           jurisdiction="明溪市")).json()
        assert body["document"]["title"] == "明溪市重点任务分工表"
        assert body["document"]["jurisdiction"]["name"] == "明溪市"
        units = {u["canonical"] for t in body["tasks"] for u in t["units"]}
        assert {"明溪市发展和改革委员会", "明溪市工业和信息化局"} <= units
        assert "jurisdiction_unknown" not in {w["code"] for w in body["warnings"]}

    async def test_a_sheet_with_no_known_header_is_422_naming_the_headers(self, client):
        response = await send(client, xlsx([["名称", "说明"], ["甲", "乙"]]))
        assert response.status_code == 422
        body = response.json()
        assert "牵头单位" in body["detail"] and "序号" in body["detail"]
        assert "完成时限" in body["expected"]

    async def test_a_word_file_or_an_old_workbook_is_refused_saying_what_to_send(self, client):
        docx = io.BytesIO()
        with zipfile.ZipFile(docx, "w") as archive:
            archive.writestr("word/document.xml", "<w:document/>")
        word = await send(client, docx.getvalue(), "方案.xlsx")
        assert word.status_code == 422 and "Word .docx" in word.json()["detail"]
        old = await send(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "表.xls")
        assert old.status_code == 422 and "save it as .xlsx" in old.json()["detail"]

    async def test_any_token_may_preview_but_only_the_office_imports(self, client, api):
        reader = await api.mint(None, role="reader")
        assert (await send(client, xlsx(), headers=reader)).status_code == 200
        refused = await send(client, xlsx(), path="/imports", headers=reader)
        assert refused.status_code == 403


class TestImport:
    async def test_a_sheet_becomes_a_document_with_its_tasks_and_obligations(self, client):
        response = await send(client, xlsx(), path="/imports", jurisdiction="明溪市")
        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["location"] == f"/api/v1/documents/{body['id']}"
        assert (body["created"], body["tasks"], body["obligations"]) == (True, 3, 7)
        tasks = (await client.get(f"{API}/tasks", headers=ADMIN,
                                  params={"document": body["id"]})).json()["items"]
        assert [(t["number"], t["deadline"]) for t in tasks] == \
            [("1", "2025-06-30"), ("2", "2025-12-31"), ("3", "2025-12-31")]
        led = (await client.get(f"{API}/tasks", headers=ADMIN,
                                params={"unit": "市发改委", "jurisdiction": "明溪市"})).json()
        assert [t["number"] for t in led["items"]] == ["1"]

    async def test_the_same_sheet_twice_changes_nothing_even_saved_as_csv(self, client):
        first = (await send(client, xlsx(), path="/imports")).json()
        for data, name in ((xlsx(), "分工表.xlsx"), (as_csv([[TITLE], [], *ROWS]), "分工表.csv")):
            again = await send(client, data, name, path="/imports")
            assert again.status_code == 200
            assert (again.json()["id"], again.json()["created"], again.json()["changes"]) == \
                (first["id"], False, None)
        listed = (await client.get(f"{API}/documents", headers=ADMIN)).json()["items"]
        assert len(listed) == 1

    async def test_an_edited_sheet_is_a_revision_that_keeps_the_reports(self, client, api):
        first = (await send(client, xlsx(), path="/imports", title=TITLE)).json()
        tasks = (await client.get(f"{API}/tasks", headers=ADMIN,
                                  params={"document": first["id"]})).json()["items"]
        unit = await api.mint("市发改委")
        task = tasks[0]["id"]
        assert (await client.post(f"{API}/tasks/{task}/acceptance", json={},
                                  headers=unit)).status_code == 200
        filed = await client.post(f"{API}/tasks/{task}/reports", headers=unit, json={
            "period": "2025-03", "progress": 30, "summary": "方案初稿已完成"})
        assert filed.status_code == 201
        edited = [*ROWS, ["推进节能改造", "2025年9月底前", "市机关事务局", 4, "市发改委"]]
        revised = await send(client, xlsx(edited), path="/imports", title=TITLE)
        assert revised.status_code == 200, revised.text
        body = revised.json()
        assert (body["id"], body["version"], body["tasks"]) == (first["id"], 2, 4)
        assert body["changes"]["tasks_added"] == 1
        reports = (await client.get(f"{API}/tasks/{task}/reports", headers=ADMIN)).json()["items"]
        assert [r["summary"] for r in reports] == ["方案初稿已完成"]
