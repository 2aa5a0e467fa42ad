"""A revised text of a known document: tasks matched by number, reports and the office's
decisions kept, obligations following the units the text names."""

from datetime import date

from sqlalchemy import func, insert, select, update

from app.models import Assignment, AssignmentStatus, AuditEntry, Report, Task, Unit
from tests.helpers import ADMIN, SEED

HEAD = """兴林市府办字〔2025〕7号
兴林市人民政府办公室关于印发兴林市河湖整治工作方案的通知
各县(市、区)人民政府,市政府有关部门:
现将《兴林市河湖整治工作方案》印发给你们,请认真贯彻落实。
2025年3月1日
兴林市河湖整治工作方案
一、重点任务
"""
DREDGE = "1.开展河道清淤。完成主要河道清淤疏浚,2025年底前完成。〔牵头单位:市水利局;责任单位:市财政局〕\n"
OUTFALLS = "2.整治排污口。全面排查入河排污口,2025年9月底前完成整治。〔牵头单位:市生态环境局;责任单位:市水利局〕\n"
WETLAND = "3.建设湿地公园。新建湿地公园2个,2026年6月底前建成。〔牵头单位:市林业局;责任单位:市自然资源局〕\n"
V1 = HEAD + DREDGE + OUTFALLS + WETLAND
V2 = (HEAD
      + DREDGE.replace("2025年底前", "2026年3月底前")
      + WETLAND.replace("市自然资源局", "市住建局")
      + "4.治理黑臭水体。完成城区黑臭水体治理,2025年12月底前完成。〔牵头单位:市住建局;责任单位:市生态环境局〕\n")


async def post(client, text: str):
    response = await client.post("/api/v1/documents", content=text.encode(),
                                 headers={**ADMIN, "Content-Type": "text/plain"})
    assert response.status_code in (200, 201), response.text
    return response


async def tasks_by_number(session, document_id: int) -> dict[str, Task]:
    rows = (await session.execute(select(Task).where(Task.document_id == document_id))).scalars()
    return {t.number: t for t in rows}


async def obligations_of(session, task_id: int) -> dict[str, Assignment]:
    rows = (await session.execute(
        select(Unit.short_name, Assignment).join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.task_id == task_id))).all()
    return dict(rows)


class TestRevision:
    async def test_a_revised_text_updates_adds_withdraws_and_keeps_reports(self, client, database):
        document_id = (await post(client, V1)).json()["id"]
        async with database.session() as session:
            outfalls = (await tasks_by_number(session, document_id))["2"]
            lead = (await obligations_of(session, outfalls.id))["市生态环境局"]
            await session.execute(insert(Report).values(
                assignment_id=lead.id, task_id=outfalls.id, unit_id=lead.unit_id, period="2025-04",
                progress=40, summary="已排查排污口120个"))
            await session.commit()

        response = await post(client, V2)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == document_id and body["version"] == 2 and body["created"] is False
        assert body["changes"] == {"tasks_added": 1, "tasks_updated": 2, "tasks_withdrawn": 1,
                                   "obligations_added": 3, "obligations_removed": 3}
        assert body["tasks"] == 3 and body["obligations"] == 6

        async with database.session() as session:
            tasks = await tasks_by_number(session, document_id)
            assert tasks["2"].status == "withdrawn"
            assert {a.status for a in (await obligations_of(session, tasks["2"].id)).values()} == {"removed"}
            reports = (await session.execute(select(Report.summary).where(Report.task_id == tasks["2"].id))).all()
            assert [r.summary for r in reports] == ["已排查排污口120个"]

            assert tasks["1"].deadline == date(2026, 3, 31) and tasks["1"].version == 2
            dredge = await obligations_of(session, tasks["1"].id)
            assert {a.effective_deadline for a in dredge.values()} == {date(2026, 3, 31)}

            wetland = await obligations_of(session, tasks["3"].id)
            assert wetland["市自然资源局"].status == "removed" and not wetland["市自然资源局"].is_open
            assert wetland["市住建局"].status == "assigned" and wetland["市住建局"].role == "responsible"
            assert wetland["市林业局"].status == "assigned"

            new = await obligations_of(session, tasks["4"].id)
            assert {name: a.role for name, a in new.items()} == {"市住建局": "lead", "市生态环境局": "responsible"}
            assert tasks["4"].ordinal == 3 and tasks["4"].deadline == date(2025, 12, 31)

            audit = (await session.execute(select(AuditEntry).where(
                AuditEntry.action == "document.revised"))).scalars().all()
            assert len(audit) == 1
            assert audit[0].before["version"] == 1 and audit[0].after["version"] == 2
            assert audit[0].after["tasks_withdrawn"] == 1 and audit[0].after["obligations_added"] == 3

        detail = (await client.get(f"/api/v1/documents/{document_id}", headers=ADMIN)).json()
        assert detail["counts"]["withdrawn"] == 1 and detail["version"] == 2

    async def test_the_revised_text_again_changes_nothing(self, client, database):
        await post(client, V1)
        await post(client, V2)
        async with database.session() as session:
            before = [(await session.execute(select(func.count()).select_from(t))).scalar_one()
                      for t in (Task, Assignment, AuditEntry)]
        again = await post(client, V2)
        assert again.status_code == 200 and again.json()["changes"] is None and again.json()["version"] == 2
        async with database.session() as session:
            after = [(await session.execute(select(func.count()).select_from(t))).scalar_one()
                     for t in (Task, Assignment, AuditEntry)]
        assert after == before

    async def test_the_first_text_again_is_a_revision_back(self, client, database):
        await post(client, V1)
        await post(client, V2)
        back = (await post(client, V1)).json()
        assert back["version"] == 3
        # Task 2 comes back as a new task; the withdrawn one stays withdrawn with its history.
        assert back["changes"]["tasks_added"] == 1 and back["changes"]["tasks_withdrawn"] == 1
        async with database.session() as session:
            wetland = await obligations_of(session, (await tasks_by_number(session, back["id"]))["3"].id)
        # Named again: the obligation the text once dropped is back, the replacement's is gone.
        assert wetland["市自然资源局"].status == "assigned" and wetland["市自然资源局"].is_open
        assert wetland["市住建局"].status == "removed"

    async def test_what_the_office_decided_survives_a_revision(self, client, database):
        document_id = (await post(client, V1)).json()["id"]
        async with database.session() as session:
            tasks = await tasks_by_number(session, document_id)
            dredge = await obligations_of(session, tasks["1"].id)
            # The office took 市财政局 off task 1 although the text names it, and added 市林业局.
            await session.execute(update(Assignment).where(Assignment.id == dredge["市财政局"].id)
                                  .values(status=AssignmentStatus.removed, is_open=False))
            forestry = (await obligations_of(session, tasks["3"].id))["市林业局"].unit_id
            await session.execute(insert(Assignment).values(
                task_id=tasks["1"].id, unit_id=forestry, role="cooperating", origin="office",
                task_deadline=date(2025, 12, 31), effective_deadline=date(2025, 12, 31)))
            await session.commit()
        changes = (await post(client, V2)).json()["changes"]
        assert changes["tasks_withdrawn"] == 1
        async with database.session() as session:
            dredge = await obligations_of(session, tasks["1"].id)
        assert dredge["市财政局"].status == "removed"
        assert dredge["市林业局"].status == "assigned" and dredge["市林业局"].origin == "office"
        assert dredge["市林业局"].effective_deadline == date(2026, 3, 31)

    async def test_numbers_restarting_per_section_match_within_their_section(self, client, database):
        head = HEAD.replace("7号", "9号").replace("一、重点任务\n", "一、重点任务\n(一)水环境治理\n")
        forest = ("(二)森林保护\n"
                  "1.建设湿地公园。新建湿地公园2个,2026年6月底前建成。〔牵头单位:市林业局〕\n"
                  "2.开展植树造林。完成植树造林1万亩,2025年底前完成。〔牵头单位:市林业局;责任单位:市自然资源局〕\n")
        v1 = head + DREDGE + OUTFALLS + forest
        v2 = head + DREDGE + OUTFALLS + OUTFALLS.replace("2.整治排污口", "3.保护饮用水源") + forest
        document_id = (await post(client, v1)).json()["id"]
        changes = (await post(client, v2)).json()["changes"]
        assert changes == {"tasks_added": 1, "tasks_updated": 0, "tasks_withdrawn": 0,
                           "obligations_added": 2, "obligations_removed": 0}
        async with database.session() as session:
            rows = (await session.execute(select(Task).where(Task.document_id == document_id)
                                          .order_by(Task.ordinal))).scalars().all()
        # Tasks that only moved in the text keep their version (and ETag) but point at the new text.
        assert [(t.number, t.version) for t in rows] == [("1", 1), ("2", 1), ("1", 1), ("2", 1), ("3", 1)]
        assert rows[3].title == "开展植树造林" and rows[3].source["text"].startswith("2.开展植树造林")
        assert v2[rows[3].source["start"]:rows[3].source["end"]] == rows[3].source["text"]

    async def test_a_clause_of_a_seed_is_revised_under_its_task(self, client, api, database):
        text = next(SEED.glob("003*")).read_text("utf-8")
        first = await api.import_seed("003")
        async with database.session() as session:
            clause = (await session.execute(
                select(Task).where(Task.document_id == first["id"], Task.parent_id.is_not(None))
                .order_by(Task.ordinal))).scalars().first()
            units = await obligations_of(session, clause.id)
        line = clause.source["text"]
        named = next(name for name in units if name in line)
        revised = text.replace(line, line.replace(named, "区审计局", 1), 1)
        changes = (await post(client, revised)).json()["changes"]
        # The clause and its task, whose text holds the clause's.
        assert changes["tasks_updated"] == 2 and changes["tasks_added"] == changes["tasks_withdrawn"] == 0
        assert changes["obligations_added"] == 1 and changes["obligations_removed"] == 1
        async with database.session() as session:
            after = await obligations_of(session, clause.id)
        assert after["区审计局"].is_open and after[named].status == "removed"

    async def test_roles_swapped_in_the_text_follow_on_the_obligations(self, client, database):
        document_id = (await post(client, V1)).json()["id"]
        swapped = V1.replace("牵头单位:市生态环境局;责任单位:市水利局", "牵头单位:市水利局;责任单位:市生态环境局")
        changes = (await post(client, swapped)).json()["changes"]
        assert changes == {"tasks_added": 0, "tasks_updated": 1, "tasks_withdrawn": 0,
                           "obligations_added": 0, "obligations_removed": 0}
        async with database.session() as session:
            outfalls = await obligations_of(session, (await tasks_by_number(session, document_id))["2"].id)
        assert {name: a.role for name, a in outfalls.items()} == {"市水利局": "lead", "市生态环境局": "responsible"}
        assert {a.version for a in outfalls.values()} == {2}

    async def test_a_new_text_that_changes_no_task_changes_no_task(self, api):
        for path in sorted(SEED.glob("*.txt")):
            text = path.read_text("utf-8")
            await api.import_text(text)
            # Blank lines added: every task moves, none changes.
            moved = await api.import_text("\n" + text.replace("\n", "\n\n", 3) + "\n")
            assert moved["version"] == 2, path.name
            assert set(moved["changes"].values()) == {0}, (path.name, moved["changes"])
