"""The outbox: every change writes its events in its own transaction (a failed change writes
none), and the scanner reports each obligation once when it falls overdue, once more after an
extension moves its deadline and it falls overdue again."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.events import outbox
from app.events.worker import Worker
from app.models import Assignment, Delivery, Event, GroupMember, Webhook
from tests.api.test_assignments import Flow
from tests.helpers import ADMIN
from tests.receiver import Receiver


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


@pytest.fixture
async def worker(database, settings):
    async with Worker(database, settings) as w:
        yield w


async def events(flow, type: str | None = None) -> list[Event]:
    async with flow.database.session() as s:
        query = select(Event).order_by(Event.id)
        if type is not None:
            query = query.where(Event.type == type)
        return list((await s.execute(query)).scalars())


async def ask_completion(flow, number: str, unit: str) -> None:
    await flow.accept(number, unit)
    response = await flow.post(f"/tasks/{flow.tasks[number]}/completion", {"summary": "已完成"},
                               await flow.token(unit))
    assert response.status_code == 201, response.text


class TestTransactions:
    async def test_an_event_rolled_back_with_its_change_leaves_nothing(self, flow, database):
        async with database.session() as s:
            s.add(Webhook(url="https://example.org/hook", secret="0123456789abcdef", events=["*"]))
            await s.flush()
            await outbox.emit(s, "reminder.created", unit_id=flow.units["市发改委"], payload={})
            await s.rollback()
        assert await flow.count(Event) == 0 and await flow.count(Delivery) == 0

    async def test_a_refused_report_emits_nothing_and_an_accepted_one_does(self, flow):
        await flow.accept("1", "市发改委")
        assert (await flow.post("/periods/2025-03/close")).status_code == 200
        refused = await flow.report("1", "市发改委", period="2025-03")
        assert refused.status_code == 409
        assert await events(flow, "report.submitted") == []
        assert (await flow.report("1", "市发改委", period="2025-04")).status_code == 201
        [event] = await events(flow, "report.submitted")
        assert event.payload["report"]["period"] == "2025-04"

    async def test_a_dedupe_key_is_emitted_once(self, flow, database):
        async with database.session() as s:
            first = await outbox.emit(s, "assignment.overdue", payload={}, dedupe_key="k:1")
            again = await outbox.emit(s, "assignment.overdue", payload={}, dedupe_key="k:1")
            await s.commit()
        assert first is not None and again is None and await flow.count(Event) == 1


class TestEmitPoints:
    async def test_assigning_emits_one_event_per_obligation_made(self, flow):
        group, members = flow.units["各县(市、区)"], [flow.units["市科技局"], flow.units["市住建局"]]
        async with flow.database.session() as s:
            await s.execute(GroupMember.__table__.insert(),
                            [{"group_id": group, "member_id": m} for m in members])
            await s.commit()
        one = (await flow.post(f"/tasks/{flow.tasks['1']}/assignments",
                               {"unit": "市住建局", "role": "cooperating", "deadline": "2025-05-31"})).json()
        grouped = (await flow.post(f"/tasks/{flow.tasks['2']}/assignments",
                                   {"unit": str(group), "role": "responsible"})).json()
        assigned = await events(flow, "task.assigned")
        assert [e.assignment_id for e in assigned] == [one["id"], *[m["id"] for m in grouped["members"]]]
        first = assigned[0].payload
        assert first["task"] == {"id": flow.tasks["1"], "number": "1", "title": "推进碳达峰",
                                 "document_id": flow.document}
        assert first["unit"]["name"] == "明溪市住房和城乡建设局" and first["unit"]["short_name"] == "市住建局"
        assert first["assignment"] == {"role": "cooperating", "origin": "office", "via_group_id": None,
                                       "deadline": "2025-05-31", "status": "assigned"}

    async def test_reports_requests_and_verification_emit_their_events(self, flow):
        await flow.accept("1", "市发改委")
        await flow.report("1", "市发改委", period="2025-03", progress=40)
        await flow.report("1", "市发改委", period="2025-03", progress=50)
        await flow.post(f"/tasks/{flow.tasks['1']}/extensions", {"deadline": "2025-09-30", "reason": "x"},
                        await flow.token("市发改委"))
        await flow.post(f"/tasks/{flow.tasks['1']}/completion", {"summary": "已完成"},
                        await flow.token("市发改委"))
        await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": False, "comment": "材料不全"})
        await flow.post(f"/tasks/{flow.tasks['1']}/completion", {"summary": "已补充"},
                        await flow.token("市发改委"))
        await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True})
        seen = [(e.type, e.task_id) for e in await events(flow)]
        task = flow.tasks["1"]
        assert seen == [("report.submitted", task), ("report.submitted", task),
                        ("extension.requested", task), ("completion.requested", task),
                        ("task.returned", task), ("completion.requested", task), ("task.closed", task)]
        reports = await events(flow, "report.submitted")
        assert [(e.payload["report"]["progress"], e.payload["report"]["corrected"]) for e in reports] == \
            [(40, False), (50, True)]
        [extension] = await events(flow, "extension.requested")
        assert extension.payload["extension"]["requested_deadline"] == "2025-09-30"
        [returned] = await events(flow, "task.returned")
        assert returned.payload["comment"] == "材料不全" and returned.unit_id == flow.units["市发改委"]
        [closed] = await events(flow, "task.closed")
        assert closed.payload["scope"] == "task"

    async def test_a_part_closes_with_its_own_event_and_the_last_part_closes_the_task(self, flow):
        for number, unit in (("4.1", "市发改委"), ("4.2", "市工信局")):
            await ask_completion(flow, number, unit)
        await flow.post(f"/tasks/{flow.tasks['4.1']}/verification", {"approved": True})
        await flow.post(f"/tasks/{flow.tasks['4.2']}/verification", {"approved": True, "unit": "市工信局"})
        closed = [(e.task_id, e.payload["scope"]) for e in await events(flow, "task.closed")]
        assert closed == [(flow.tasks["4.1"], "task"), (flow.tasks["4.2"], "part"),
                          (flow.tasks["4.2"], "task"), (flow.tasks["4"], "task")]


class TestOverdueScanner:
    async def overdue_ids(self, flow, day: date) -> set[int]:
        async with flow.database.session() as s:
            return set((await s.execute(select(Assignment.id).where(
                Assignment.is_open.is_(True), Assignment.effective_deadline < day))).scalars())

    async def test_each_overdue_obligation_is_reported_once(self, flow, worker):
        day = date(2025, 7, 2)
        expected = await self.overdue_ids(flow, day)
        assert expected and await worker.scan_overdue(day) == len(expected)
        assert await worker.scan_overdue(day) == 0
        fired = await events(flow, "assignment.overdue")
        assert {e.assignment_id for e in fired} == expected and len(fired) == len(expected)
        one = next(e for e in fired if e.task_id == flow.tasks["1"])
        assert one.dedupe_key == f"assignment.overdue:{one.assignment_id}:2025-06-30"
        assert one.payload["overdue"] == {"deadline": "2025-06-30", "days_overdue": 2,
                                          "as_of": "2025-07-02", "role": one.payload["overdue"]["role"]}

    async def test_an_extension_lets_it_fall_overdue_again_later(self, flow, worker):
        await worker.scan_overdue(date(2025, 7, 2))
        asked = (await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                                 {"deadline": "2025-09-30", "reason": "x"}, await flow.token("市发改委"))).json()
        await flow.post(f"/extensions/{asked['id']}/decision", {"approved": True})
        assert await worker.scan_overdue(date(2025, 7, 3)) == 0
        held = (await flow.obligation("1", "市发改委"))["id"]
        before = {e.id for e in await events(flow, "assignment.overdue")}
        await worker.scan_overdue(date(2025, 10, 1))
        again = [e for e in await events(flow, "assignment.overdue") if e.id not in before]
        assert [e.dedupe_key for e in again if e.assignment_id == held] == \
            [f"assignment.overdue:{held}:2025-09-30"]
        assert await worker.scan_overdue(date(2025, 10, 2)) == 0

    async def test_closed_and_removed_obligations_are_not_reported(self, flow, worker):
        await ask_completion(flow, "4.1", "市发改委")
        await flow.post(f"/tasks/{flow.tasks['4.1']}/verification", {"approved": True})
        removed = await flow.obligation("1", "市科技局")
        gone = await flow.client.delete(
            f"/api/v1/tasks/{flow.tasks['1']}/assignments/{removed['id']}", headers=ADMIN)
        assert gone.status_code == 204
        await worker.scan_overdue(date(2030, 1, 1))
        fired = {e.assignment_id for e in await events(flow, "assignment.overdue")}
        assert removed["id"] not in fired
        assert (await flow.obligation("4.1", "市发改委"))["id"] not in fired

    async def test_small_batches_cover_every_obligation(self, flow, database, settings):
        day = date(2030, 1, 1)
        async with Worker(database, settings.model_copy(update={"overdue_scan_batch": 2})) as worker:
            assert await worker.scan_overdue(day) == len(await self.overdue_ids(flow, day))

    async def test_a_subscriber_hears_of_it(self, flow, worker):
        receiver = await Receiver().start()
        try:
            await flow.post("/webhooks", {"url": receiver.url, "secret": "0123456789abcdef",
                                          "events": ["assignment.overdue"]})
            count = await worker.scan_overdue(date(2025, 7, 2))
            assert await worker.drain() == count
            assert {r.headers["x-duban-event"] for r in receiver.requests} == {"assignment.overdue"}
        finally:
            await receiver.stop()
