"""Previewing, importing, listing and reading documents."""

import io

import docx
import httpx
import pytest
from sqlalchemy import func, insert, select

from app.extraction import extract
from app.main import create_app
from app.models import (
    Assignment,
    AuditEntry,
    Document,
    GroupMember,
    Indicator,
    Milestone,
    Task,
    Unit,
)
from tests.helpers import ADMIN

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PLAN = """兴林市府办字〔2025〕7号
兴林市人民政府办公室关于印发兴林市河湖整治工作方案的通知
各县(市、区)人民政府,市政府有关部门:
现将《兴林市河湖整治工作方案》印发给你们,请认真贯彻落实。
2025年3月1日
兴林市河湖整治工作方案
一、重点任务
1.开展河道清淤。完成主要河道清淤疏浚,2025年底前完成。〔牵头单位:市水利局;责任单位:市财政局〕
2.整治排污口。全面排查入河排污口,2025年9月底前完成整治。〔牵头单位:市生态环境局;责任单位:市水利局〕
3.建设湿地公园。新建湿地公园2个,2026年6月底前建成。〔牵头单位:市林业局;责任单位:市自然资源局〕
"""
TEXT = {**ADMIN, "Content-Type": "text/plain; charset=utf-8"}


async def preview(client, body: bytes, content_type: str = "text/plain", headers=ADMIN):
    return await client.post("/api/v1/documents/preview", content=body,
                             headers={**headers, "Content-Type": content_type})


async def table_counts(database) -> dict[str, int]:
    async with database.session() as session:
        return {table.__name__: (await session.execute(select(func.count()).select_from(table))).scalar_one()
                for table in (Document, Task, Milestone, Indicator, Assignment, Unit, AuditEntry)}


def titles(body: dict) -> list[str]:
    return [t["title"] for t in body["tasks"]]


class TestPreview:
    async def test_plain_text_answers_the_engines_extraction_and_saves_nothing(self, client, database):
        response = await preview(client, PLAN.encode())
        assert response.status_code == 200
        body = response.json()
        assert body == extract(PLAN.encode()).model_dump(mode="json")
        assert set(body) == {"document", "tasks", "indicators", "rules", "warnings"}
        assert titles(body) == ["开展河道清淤", "整治排污口", "建设湿地公园"]
        assert body["tasks"][0]["lead_units"] == ["市水利局"] and body["tasks"][0]["deadline"] == "2025-12-31"
        assert (await table_counts(database))["Document"] == 0

    async def test_a_multipart_file_part_is_read_like_a_body(self, client):
        response = await client.post("/api/v1/documents/preview", headers=ADMIN,
                                     files={"file": ("方案.txt", PLAN.encode(), "text/plain")})
        assert response.status_code == 200
        assert titles(response.json()) == ["开展河道清淤", "整治排污口", "建设湿地公园"]

    async def test_a_gb18030_body_is_detected_by_content(self, client):
        response = await preview(client, PLAN.encode("gb18030"), "application/octet-stream")
        assert response.status_code == 200
        body = response.json()
        assert body["document"]["encoding"] == "gb18030"
        assert body["document"]["doc_number"] == "兴林市府办字〔2025〕7号" and len(body["tasks"]) == 3

    async def test_an_html_page_is_read_as_html(self, client):
        page = "<html><head><meta charset='utf-8'><title>方案</title></head><body>" + "".join(
            f"<p>{line}</p>" for line in PLAN.splitlines()) + "</body></html>"
        response = await preview(client, page.encode(), "text/html")
        assert response.status_code == 200
        body = response.json()
        assert body["document"]["format"] == "html" and titles(body)[0] == "开展河道清淤"

    async def test_a_docx_is_read_whatever_the_content_type_says(self, client):
        document = docx.Document()
        for line in PLAN.splitlines():
            document.add_paragraph(line)
        buffer = io.BytesIO()
        document.save(buffer)
        for content_type in (DOCX, "application/octet-stream"):
            response = await preview(client, buffer.getvalue(), content_type)
            assert response.status_code == 200
            assert response.json()["document"]["format"] == "docx"
            assert titles(response.json()) == ["开展河道清淤", "整治排污口", "建设湿地公园"]

    async def test_a_reader_token_may_preview(self, client, api):
        response = await preview(client, PLAN.encode(), headers=await api.mint(None, role="reader"))
        assert response.status_code == 200

    async def test_no_token_is_401(self, client):
        response = await client.post("/api/v1/documents/preview", content=PLAN.encode(),
                                     headers={"Content-Type": "text/plain"})
        assert response.status_code == 401

    @pytest.mark.parametrize(("body", "code"), [
        (b"", "empty_document"),
        (b"  \n\t\n", "empty_document"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary_document"),
        (b"\x00\x01\x02\x03binary\x00\x00\xff", "binary_document"),
        ("Grüße aus Köln, schöne Straße. ".encode("latin-1") * 20, "unknown_encoding"),
    ])
    async def test_unreadable_documents_are_422_with_the_engines_code(self, client, body, code):
        response = await preview(client, body)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code and response.json()["detail"]

    async def test_another_content_type_is_415_naming_the_accepted_ones(self, client):
        response = await preview(client, b'{"text": "..."}', "application/json")
        assert response.status_code == 415
        detail = response.json()["detail"]
        assert response.json()["code"] == "unsupported_media_type"
        assert "text/plain" in detail and "multipart/form-data" in detail and DOCX in detail

    async def test_a_multipart_body_without_a_file_part_is_422(self, client):
        response = await client.post("/api/v1/documents/preview", headers=ADMIN,
                                     files={"document": ("a.txt", PLAN.encode(), "text/plain")})
        assert response.status_code == 422 and '"file"' in response.json()["detail"]

    async def test_a_body_over_the_upload_limit_is_413(self, settings, database):
        app = create_app(settings.model_copy(update={"max_document_bytes": 4096}), database)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://duban.test") as client:
            big = PLAN.encode() * 40

            async def streamed():
                for k in range(0, len(big), 1000):
                    yield big[k:k + 1000]

            declared = await preview(client, big)
            chunked = await client.post("/api/v1/documents", content=streamed(), headers=TEXT)
            small = await preview(client, PLAN.encode())
        assert declared.status_code == 413 and declared.json()["code"] == "payload_too_large"
        assert chunked.status_code == 413 and "4096" in chunked.json()["detail"]
        assert small.status_code == 200


class TestImport:
    async def test_a_new_document_is_201_with_its_location_and_summary(self, client):
        response = await client.post("/api/v1/documents", content=PLAN.encode(), headers=TEXT)
        assert response.status_code == 201
        body = response.json()
        assert response.headers["location"] == f"/api/v1/documents/{body['id']}"
        assert body == {"id": body["id"], "title": "兴林市河湖整治工作方案",
                        "doc_number": "兴林市府办字〔2025〕7号", "version": 1, "tasks": 3, "clauses": 0,
                        "obligations": 6, "warnings": [], "created": True, "changes": None}

    async def test_the_same_text_again_is_200_and_changes_nothing(self, client, database):
        first = await client.post("/api/v1/documents", content=PLAN.encode(), headers=TEXT)
        before = await table_counts(database)
        again = await client.post("/api/v1/documents", content=PLAN.encode(), headers=TEXT)
        # The same text in another encoding and format is the same document.
        as_gbk = await client.post("/api/v1/documents", content=PLAN.encode("gb18030"),
                                   headers={**ADMIN, "Content-Type": "application/octet-stream"})
        assert again.status_code == 200 and as_gbk.status_code == 200
        assert again.json() == {**first.json(), "created": False}
        assert "location" not in again.headers
        assert await table_counts(database) == before
        assert before["AuditEntry"] == 1 and before["Task"] == 3 and before["Assignment"] == 6

    async def test_only_the_office_may_import(self, client, api):
        await api.import_text(PLAN)
        unit = await api.mint("市水利局")
        response = await client.post("/api/v1/documents", content=PLAN.encode(),
                                     headers={**unit, "Content-Type": "text/plain"})
        assert response.status_code == 403

    async def test_a_multipart_upload_imports(self, client):
        response = await client.post("/api/v1/documents", headers=ADMIN,
                                     files={"file": ("方案.txt", PLAN.encode(), "text/plain")})
        assert response.status_code == 201 and response.json()["tasks"] == 3

    async def test_an_unreadable_document_imports_nothing(self, client, database):
        response = await client.post("/api/v1/documents", content=b"%PDF-1.4 ...", headers=TEXT)
        assert response.status_code == 422 and response.json()["code"] == "binary_document"
        assert (await table_counts(database))["Document"] == 0

    async def test_a_group_with_known_members_owes_through_them_at_import(self, client, database):
        rural = PLAN.replace("7号", "8号").replace("河湖整治", "农村污水治理").replace(
            "责任单位:市财政局", "责任单位:各县(市、区)")
        await client.post("/api/v1/documents", content=PLAN.replace("市财政局", "各县(市、区)").encode(),
                          headers=TEXT)
        async with database.session() as session:
            group = (await session.execute(select(Unit.id).where(Unit.is_group.is_(True)))).scalar_one()
            members = [(await session.execute(insert(Unit).values(
                name=name, short_name=name, jurisdiction_id=None).returning(Unit.id))).scalar_one()
                for name in ("兴林县", "兴林区")]
            await session.execute(insert(GroupMember), [{"group_id": group, "member_id": m} for m in members])
            await session.commit()
        response = await client.post("/api/v1/documents", content=rural.encode(), headers=TEXT)
        assert response.status_code == 201
        async with database.session() as session:
            owed = (await session.execute(
                select(Assignment.unit_id, Assignment.origin, Assignment.via_group_id)
                .join(Task, Task.id == Assignment.task_id)
                .where(Task.document_id == response.json()["id"], Assignment.is_open.is_(True)))).all()
        assert sorted((u, o, g) for u, o, g in owed if o == "group") == [(m, "group", group) for m in members]

    async def test_the_five_seeds_import_with_their_tasks(self, client, api, database):
        expected = {"000": (30, 0), "001": (31, 0), "002": (21, 0), "003": (21, 76), "004": (60, 0)}
        for prefix, (tasks, clauses) in expected.items():
            summary = await api.import_seed(prefix)
            assert (summary["tasks"], summary["clauses"]) == (tasks, clauses), prefix
            assert summary["created"] and summary["obligations"] > 0
            detail = (await client.get(f"/api/v1/documents/{summary['id']}", headers=ADMIN)).json()
            assert detail["counts"]["tasks"] == tasks and detail["counts"]["clauses"] == clauses
        async with database.session() as session:
            kinds = dict((await session.execute(
                select(Task.kind, func.count()).where(Task.document_id == 1).group_by(Task.kind))).all())
        assert kinds == {"project": 30}


class TestListAndRead:
    async def test_the_list_pages_by_id_and_filters(self, client, api):
        ids = [(await api.import_seed(p))["id"] for p in ("001", "002", "003")]
        first = (await client.get("/api/v1/documents", params={"limit": 2}, headers=ADMIN)).json()
        assert [d["id"] for d in first["items"]] == ids[:2] and first["next_cursor"]
        rest = (await client.get("/api/v1/documents", params={"limit": 2, "cursor": first["next_cursor"]},
                                 headers=ADMIN)).json()
        assert [d["id"] for d in rest["items"]] == ids[2:] and rest["next_cursor"] is None
        item = first["items"][0]
        assert item["jurisdiction"]["name"] == "赣州市" and item["period"] == {"start": 2022, "end": 2025}
        assert item["tasks"] == 31 and item["doc_number"] == "赣市府办字〔2022〕135号"
        county = (await client.get("/api/v1/documents", params={"jurisdiction": "兴国县"}, headers=ADMIN)).json()
        assert [d["id"] for d in county["items"]] == [ids[1]]
        by_id = (await client.get("/api/v1/documents", params={"jurisdiction": item["jurisdiction"]["id"]},
                                  headers=ADMIN)).json()
        assert [d["id"] for d in by_id["items"]] == [ids[0]]
        found = (await client.get("/api/v1/documents", params={"q": "赣县区"}, headers=ADMIN)).json()
        assert [d["id"] for d in found["items"]] == [ids[2]]
        none = (await client.get("/api/v1/documents", params={"q": "100%_"}, headers=ADMIN)).json()
        assert none["items"] == []

    async def test_any_principal_may_list(self, client, api):
        await api.import_seed("002")
        reader = await api.mint(None, role="reader")
        response = await client.get("/api/v1/documents", headers=reader)
        assert response.status_code == 200 and len(response.json()["items"]) == 1

    async def test_an_unknown_jurisdiction_or_a_bad_cursor_is_refused(self, client):
        unknown = await client.get("/api/v1/documents", params={"jurisdiction": "火星市"}, headers=ADMIN)
        assert unknown.status_code == 404
        bad = await client.get("/api/v1/documents", params={"cursor": "not-a-cursor"}, headers=ADMIN)
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_input"

    async def test_a_document_shows_its_rules_warnings_indicators_and_counts(self, client, api):
        plan = await api.import_seed("000")
        action = await api.import_seed("001")
        opinion = await api.import_seed("004")
        indicators = (await client.get(f"/api/v1/documents/{plan['id']}", headers=ADMIN)).json()
        assert len(indicators["indicators"]) == 36
        first = indicators["indicators"][0]
        assert first["name"] and first["targets"] and first["attribute"] in ("约束性", "预期性")
        rules = (await client.get(f"/api/v1/documents/{action['id']}", headers=ADMIN)).json()
        assert rules["rules"][0]["kind"] == "implied_units" and len(rules["rules"][0]["applies_to"]) > 1
        assert rules["counts"] == {"tasks": 31, "clauses": 0, "withdrawn": 0,
                                   "obligations": action["obligations"], "milestones": rules["counts"]["milestones"]}
        warned = (await client.get(f"/api/v1/documents/{opinion['id']}", headers=ADMIN)).json()
        assert {w["code"] for w in warned["warnings"]} >= {"units_missing"}
        assert warned["jurisdiction"]["level"] == "province" and warned["version"] == 1

    async def test_a_missing_document_is_404(self, client):
        response = await client.get("/api/v1/documents/999", headers=ADMIN)
        assert response.status_code == 404 and response.json()["code"] == "not_found"

    async def test_the_openapi_documents_the_upload_types_and_statuses(self, client):
        paths = (await client.get("/openapi.json")).json()["paths"]
        upload = paths["/api/v1/documents"]["post"]
        assert {"text/plain", "multipart/form-data", DOCX} <= set(upload["requestBody"]["content"])
        assert {"200", "201", "413", "415"} <= set(upload["responses"])
        assert "200" in paths["/api/v1/documents/preview"]["post"]["responses"]

