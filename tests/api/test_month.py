"""A supervising office's whole month, through the contract endpoints only."""

from tests.helpers import ADMIN

PLAN = """泰和县人民政府办公室关于印发《泰和县2025年人居环境整治工作方案》的通知
泰府办字〔2025〕9号
泰和县人民政府办公室
2025年2月10日
泰和县2025年人居环境整治工作方案
一、重点任务
1.推进农村厕所改造。完成农村户厕改造500户。（牵头单位：县农业农村局；责任单位：县卫健委、县财政局；完成时限：2025年6月底前）
2.整治农村生活污水。完成10个行政村生活污水治理。（牵头单位：县生态环境局；责任单位：县住建局）
二、保障措施
（一）加强组织领导。各单位要高度重视。
"""


async def task_numbered(client, document_id: int, number: str) -> dict:
    listing = (await client.get("/api/v1/tasks", params={"document": document_id}, headers=ADMIN)).json()
    return next(t for t in listing["items"] if t["number"] == number)


class TestAMonthOfSupervision:
    async def test_import_assign_report_extend_close_and_overdue_before_and_after(self, client, api):
        imported = await api.import_text(PLAN)
        assert imported["created"] is True
        task = await task_numbered(client, imported["id"], "1")
        assert task["deadline"] == "2025-06-30"

        # The office adds a cooperating unit the document did not name.
        added = await client.post(f"/api/v1/tasks/{task['id']}/assignments",
                                  json={"unit": "县自然资源局", "role": "cooperating",
                                        "jurisdiction": "泰和县"}, headers=ADMIN)
        assert added.status_code == 422 and added.json()["code"] == "unknown_unit"
        created = await client.post("/api/v1/units", json={"name": "泰和县自然资源局", "short_name": "县自然资源局",
                                                            "jurisdiction": "泰和县"}, headers=ADMIN)
        assert created.status_code == 201
        added = await client.post(f"/api/v1/tasks/{task['id']}/assignments",
                                  json={"unit": "县自然资源局", "role": "cooperating",
                                        "jurisdiction": "泰和县"}, headers=ADMIN)
        assert added.status_code == 201

        lead = await api.mint("县农业农村局", jurisdiction="泰和县")
        assert (await client.post(f"/api/v1/tasks/{task['id']}/reports",
                                  json={"period": "2025-03", "progress": 10, "summary": "启动"},
                                  headers=lead)).status_code == 409  # accept first
        assert (await client.post(f"/api/v1/tasks/{task['id']}/acceptance", json={},
                                  headers=lead)).status_code == 200
        report = await client.post(f"/api/v1/tasks/{task['id']}/reports",
                                   json={"period": "2025-03", "progress": 40, "summary": "已完成200户"},
                                   headers=lead)
        assert report.status_code == 201

        overdue = await client.get("/api/v1/units/县农业农村局/overdue",
                                   params={"as_of": "2025-07-02", "jurisdiction": "泰和县"}, headers=lead)
        assert [(i["task"]["id"], i["days_overdue"]) for i in overdue.json()["items"]] == [(task["id"], 2)]
        on_time = await client.get("/api/v1/units/县农业农村局/overdue",
                                   params={"as_of": "2025-06-30", "jurisdiction": "泰和县"}, headers=lead)
        assert on_time.json()["items"] == []

        asked = await client.post(f"/api/v1/tasks/{task['id']}/extensions",
                                  json={"deadline": "2025-09-30", "reason": "雨季施工受阻"}, headers=lead)
        assert asked.status_code == 201
        decided = await client.post(f"/api/v1/extensions/{asked.json()['id']}/decision",
                                    json={"approved": True, "comment": "同意"}, headers=ADMIN)
        assert decided.status_code == 200
        after = await client.get("/api/v1/units/县农业农村局/overdue",
                                 params={"as_of": "2025-07-02", "jurisdiction": "泰和县"}, headers=lead)
        assert after.json()["items"] == []

        completion = await client.post(f"/api/v1/tasks/{task['id']}/completion",
                                       json={"summary": "500户全部完成，附验收单"}, headers=lead)
        assert completion.status_code == 201
        verified = await client.post(f"/api/v1/tasks/{task['id']}/verification",
                                     json={"approved": True, "comment": "核查属实，予以销号"}, headers=ADMIN)
        assert verified.status_code == 200
        view = (await client.get(f"/api/v1/tasks/{task['id']}", headers=ADMIN)).json()
        assert view["status"] == "closed"
        assert {a["status"] for a in view["assignments"]} == {"closed"}
        late = await client.get("/api/v1/units/县农业农村局/overdue",
                                params={"as_of": "2026-01-01", "jurisdiction": "泰和县"}, headers=lead)
        assert late.json()["items"] == []

        audit = (await client.get("/api/v1/audit", params={"task": task["id"], "limit": 100},
                                  headers=ADMIN)).json()["items"]
        actions = [entry["action"] for entry in audit]
        for step in ("assignment", "accept", "report", "extension", "completion", "verif"):
            assert any(step in action for action in actions), (step, actions)
