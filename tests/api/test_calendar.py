"""A unit's deadlines and milestones as iCalendar (RFC 5545): read back with the icalendar
package, reachable with ?token= for phones, and private to the unit."""

from __future__ import annotations

from datetime import date

import pytest
from icalendar import Calendar

from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


async def feed(flow, unit: str, headers: dict | None = None, **params):
    return await flow.client.get(f"{API}/units/{flow.units[unit]}/calendar.ics", params=params,
                                 headers=headers if headers is not None else ADMIN)


def parse(response) -> Calendar:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> dict[str, object]:
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


class TestFeed:
    async def test_open_obligations_and_milestones_become_all_day_events(self, flow):
        calendar = parse(await feed(flow, "市发改委"))
        assert str(calendar["VERSION"]) == "2.0" and "Duban" in str(calendar["PRODID"])
        assert str(calendar["X-WR-CALNAME"]).startswith("明溪市发展和改革委员会")
        found = events(calendar)
        held = {a["task_id"]: a for t in ("1", "2", "4.1")
                for a in [await flow.obligation(t, "市发改委")]}
        for obligation in held.values():
            event = found[f"assignment-{obligation['id']}@duban"]
            assert event.decoded("DTSTART") == date.fromisoformat(obligation["effective_deadline"])
            assert str(event["SUMMARY"]).startswith("[截止] ")
        first = found[f"assignment-{held[flow.tasks['1']]['id']}@duban"]
        assert str(first["SUMMARY"]) == "[截止] 1 推进碳达峰"
        assert "角色：牵头单位" in str(first["DESCRIPTION"]) and "督办测试工作方案" in str(first["DESCRIPTION"])
        assert (first.decoded("DTEND") - first.decoded("DTSTART")).days == 1 and "DTSTAMP" in first
        milestones = [e for uid, e in found.items() if uid.startswith("milestone-")]
        assert milestones and all(str(m["SUMMARY"]).startswith("[节点] 2 ") for m in milestones)
        assert len(found) == len(held) + len(milestones)

    async def test_closed_obligations_leave_the_feed(self, flow):
        await flow.accept("1", "市发改委")
        await flow.post(f"/tasks/{flow.tasks['1']}/completion", {"summary": "完成"}, await flow.token("市发改委"))
        await flow.post(f"/tasks/{flow.tasks['1']}/verification", {"approved": True})
        held = await flow.obligation("1", "市发改委")
        assert f"assignment-{held['id']}@duban" not in events(parse(await feed(flow, "市发改委")))

    async def test_an_approved_extension_moves_the_event(self, flow):
        asked = (await flow.post(f"/tasks/{flow.tasks['1']}/extensions",
                                 {"deadline": "2025-09-30", "reason": "x"}, await flow.token("市发改委"))).json()
        await flow.post(f"/extensions/{asked['id']}/decision", {"approved": True})
        held = await flow.obligation("1", "市发改委")
        event = events(parse(await feed(flow, "市发改委")))[f"assignment-{held['id']}@duban"]
        assert event.decoded("DTSTART") == date(2025, 9, 30) and "已延期" in str(event["DESCRIPTION"])

    async def test_the_same_data_gives_the_same_feed(self, flow):
        assert (await feed(flow, "市工信局")).content == (await feed(flow, "市工信局")).content


class TestAccess:
    async def test_a_phone_sends_the_token_in_the_query(self, flow):
        token = (await flow.token("市发改委"))["Authorization"].removeprefix("Bearer ")
        by_query = await feed(flow, "市发改委", headers={}, token=token)
        by_header = await feed(flow, "市发改委", await flow.token("市发改委"))
        assert parse(by_query) and by_query.content == by_header.content

    async def test_another_units_calendar_is_404(self, flow):
        token = (await flow.token("市发改委"))["Authorization"].removeprefix("Bearer ")
        assert (await feed(flow, "市工信局", headers={}, token=token)).status_code == 404
        assert (await feed(flow, "市工信局", await flow.token("市发改委"))).status_code == 404

    async def test_no_token_or_a_wrong_one_is_401(self, flow):
        assert (await feed(flow, "市发改委", headers={})).status_code == 401
        assert (await feed(flow, "市发改委", headers={}, token="not-a-token")).status_code == 401

    async def test_readers_see_any_unit_and_names_resolve(self, flow, api):
        reader = await api.mint(None, role="reader")
        response = await flow.client.get(f"{API}/units/市发改委/calendar.ics", headers=reader)
        assert parse(response)
        unknown = await flow.client.get(f"{API}/units/市住建委/calendar.ics", headers=ADMIN)
        assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_unit"
