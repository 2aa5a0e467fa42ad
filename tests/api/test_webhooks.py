"""Webhooks: subscriptions, signed deliveries with retries and backoff, per-task order, and a
receiver that is down for a while. A real HTTP receiver on 127.0.0.1 stands in for the
integrator; the worker is driven round by round (its `step`/`drain`), with a simulated clock."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.events import signing
from app.events.worker import Worker
from app.main import create_app
from app.models import Delivery, utcnow
from tests.api.test_assignments import Flow
from tests.helpers import ADMIN
from tests.receiver import Receiver

SECRET = "whsec-0123456789abcdef"


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


@pytest.fixture
async def receiver():
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
async def worker(database, settings):
    async with Worker(database, settings) as w:
        yield w


async def subscribe(flow, url: str, events: list[str] | None = None, secret: str = SECRET) -> dict:
    response = await flow.post("/webhooks", {"url": url, "secret": secret, "events": events or ["*"]})
    assert response.status_code == 201, response.text
    return response.json()


async def remind(flow, unit: str = "市发改委", task: str | None = None) -> dict:
    body = {"unit": unit, **({"task": flow.tasks[task]} if task else {})}
    response = await flow.post("/reminders", body)
    assert response.status_code == 201, response.text
    return response.json()["reminders"][0]


async def log(flow, hook: dict, **params) -> list[dict]:
    response = await flow.get(f"/webhooks/{hook['id']}/deliveries", **params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


class TestSubscriptions:
    async def test_the_office_subscribes_and_the_secret_is_never_shown(self, flow, receiver):
        response = await flow.post("/webhooks", {"url": receiver.url, "secret": SECRET,
                                                 "events": ["report.submitted", "task.closed"]})
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["url"], body["events"], body["active"]) == \
            (receiver.url, ["report.submitted", "task.closed"], True)
        assert response.headers["location"] == f"/api/v1/webhooks/{body['id']}"
        listed = await flow.get("/webhooks")
        assert [w["id"] for w in listed.json()["items"]] == [body["id"]]
        assert SECRET not in response.text + listed.text + (await flow.get(f"/webhooks/{body['id']}")).text

    @pytest.mark.parametrize("url", ["ftp://example.org/hook", "javascript:alert(1)", "example.org/hook",
                                     "http://user:pw@example.org/hook", "https:///nohost"])
    async def test_only_plain_http_urls_are_accepted(self, flow, url):
        response = await flow.post("/webhooks", {"url": url, "secret": SECRET, "events": ["*"]})
        assert response.status_code == 422 and response.json()["code"] == "validation_error"

    @pytest.mark.parametrize("body", [{"secret": "short", "events": ["*"]},
                                      {"secret": SECRET, "events": []},
                                      {"secret": SECRET, "events": ["task.deleted"]}])
    async def test_a_short_secret_or_unknown_event_type_is_422(self, flow, body):
        response = await flow.post("/webhooks", {"url": "https://example.org/hook", **body})
        assert response.status_code == 422

    async def test_a_star_stands_for_every_type(self, flow, receiver):
        hook = await subscribe(flow, receiver.url, ["report.submitted", "*"])
        assert hook["events"] == ["*"]

    async def test_only_the_office_manages_webhooks(self, flow, api, receiver):
        unit, reader = await flow.token("市发改委"), await api.mint(None, role="reader")
        for headers in (unit, reader):
            response = await flow.post("/webhooks", {"url": receiver.url, "secret": SECRET,
                                                     "events": ["*"]}, headers)
            assert response.status_code == 403
            assert (await flow.get("/webhooks", headers)).status_code == 403

    async def test_removing_fails_what_was_pending_and_sends_nothing_more(self, flow, receiver, worker):
        hook = await subscribe(flow, receiver.url)
        await remind(flow)
        assert (await flow.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=ADMIN)).status_code == 204
        [entry] = await log(flow, hook)
        assert (entry["status"], entry["last_error"], entry["next_attempt_at"]) == \
            ("failed", "subscription removed", None)
        await remind(flow)
        assert await worker.drain() == 0 and receiver.requests == []
        assert (await flow.get(f"/webhooks/{hook['id']}")).json()["active"] is False
        assert (await flow.get("/webhooks", active="true")).json()["items"] == []
        assert (await flow.post(f"/webhooks/{hook['id']}/test")).status_code == 409
        assert (await flow.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=ADMIN)).status_code == 204
        assert (await flow.client.delete("/api/v1/webhooks/9999", headers=ADMIN)).status_code == 404
        assert (await flow.get("/webhooks/9999/deliveries")).status_code == 404


class TestDeliveryLog:
    async def test_the_log_pages_and_filters_by_status(self, flow, receiver, worker):
        hook = await subscribe(flow, receiver.url)
        receiver.answer(200, 500)
        for unit in ("市发改委", "市工信局", "市科技局"):
            await remind(flow, unit)
        await worker.drain()
        first = (await flow.get(f"/webhooks/{hook['id']}/deliveries", limit=2)).json()
        rest = (await flow.get(f"/webhooks/{hook['id']}/deliveries", limit=2,
                               cursor=first["next_cursor"])).json()
        assert [e["status"] for e in first["items"] + rest["items"]] == ["delivered", "pending", "delivered"]
        assert rest["next_cursor"] is None
        assert [e["attempts"] for e in await log(flow, hook, status="pending")] == [1]
        assert (await flow.get(f"/webhooks/{hook['id']}/deliveries", status="lost")).status_code == 422
        assert (await flow.get(f"/webhooks/{hook['id']}/deliveries", cursor="bogus")).status_code == 422


class TestDelivery:
    async def test_a_delivery_carries_the_event_signed(self, flow, receiver, worker):
        hook = await subscribe(flow, receiver.url)
        reminder = await remind(flow, task="1")
        assert await worker.drain() == 1
        [got] = receiver.requests
        body = got.json()
        assert (got.method, got.headers["content-type"], got.headers["x-duban-event"]) == \
            ("POST", "application/json", "reminder.created")
        assert body["type"] == "reminder.created" and body["created_at"].endswith("Z")
        assert body["data"]["task"] == {"id": flow.tasks["1"], "number": "1", "title": "推进碳达峰",
                                        "document_id": flow.document}
        assert body["data"]["unit"]["id"] == flow.units["市发改委"]
        assert body["data"]["reminder"]["id"] == reminder["id"]
        [entry] = await log(flow, hook)
        assert got.headers["x-duban-delivery"] == str(entry["id"])
        assert (entry["event_id"], entry["event_type"], entry["task_id"]) == \
            (body["id"], "reminder.created", flow.tasks["1"])
        assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 1, 200)

    async def test_the_signature_verifies_and_fails_when_anything_differs(self, flow, receiver, worker):
        await subscribe(flow, receiver.url)
        await remind(flow)
        await worker.drain()
        [got] = receiver.requests
        header = got.headers["x-duban-signature"]
        t = int(header.split(",")[0].removeprefix("t="))
        assert abs(t - time.time()) < 60
        assert signing.verify(SECRET, header, got.body)
        assert not signing.verify("another-secret-0123456789", header, got.body)
        assert not signing.verify(SECRET, header, got.body.replace(b"}", b" }", 1))
        assert not signing.verify(SECRET, header, got.body, now=t + 301)
        assert signing.verify(SECRET, signing.sign(SECRET, t, got.body), got.body, now=t + 10)

    async def test_a_receiver_failing_twice_gets_it_on_the_third_attempt(self, flow, receiver, worker):
        hook = await subscribe(flow, receiver.url)
        receiver.answer(500, "drop")
        await remind(flow)
        now = utcnow()
        assert await worker.step(now) == 1
        [first] = await log(flow, hook)
        assert (first["status"], first["attempts"], first["last_status_code"]) == ("pending", 1, 500)
        assert first["last_error"].startswith("HTTP 500")
        wait_1 = at(first["next_attempt_at"]) - now
        assert timedelta(0) < wait_1 <= timedelta(seconds=2)
        assert await worker.step(at(first["next_attempt_at"]) - timedelta(milliseconds=1)) == 0
        assert await worker.step(at(first["next_attempt_at"])) == 1
        [second] = await log(flow, hook)
        assert (second["attempts"], second["last_status_code"]) == (2, None)
        assert "Disconnected" in second["last_error"] or "Protocol" in second["last_error"]
        wait_2 = at(second["next_attempt_at"]) - at(first["next_attempt_at"])
        assert wait_2 > wait_1
        assert await worker.step(at(second["next_attempt_at"])) == 1
        [third] = await log(flow, hook)
        assert (third["status"], third["attempts"], third["last_status_code"]) == ("delivered", 3, 200)
        assert third["delivered_at"] and third["next_attempt_at"] is None and third["last_error"] is None
        assert [r.answered for r in receiver.requests] == [500, "drop", 200]
        assert len({r.headers["x-duban-delivery"] for r in receiver.requests}) == 1
        assert len(receiver.delivered) == 1

    async def test_one_tasks_events_arrive_in_order_even_when_the_first_needs_retries(
            self, flow, receiver, worker):
        hook = await subscribe(flow, receiver.url)
        receiver.answer(503)
        first, second = await remind(flow, task="1"), await remind(flow, "市工信局", task="1")
        other = await remind(flow, task="2")
        now = utcnow()
        assert await worker.drain(now) == 2  # the first fails; the other task's goes on
        assert [r.json()["data"]["reminder"]["id"] for r in receiver.requests] == [first["id"], other["id"]]
        later = now + timedelta(hours=2)
        assert await worker.step(later) == 1  # the second waits until the first is through
        assert await worker.step(later) == 1
        ids = [r.json()["data"]["reminder"]["id"] for r in receiver.delivered]
        assert ids == [other["id"], first["id"], second["id"]]
        assert {e["status"] for e in await log(flow, hook)} == {"delivered"}

    async def test_a_receiver_down_for_a_while_gets_everything_later(self, flow, receiver, worker):
        hook = await subscribe(flow, receiver.url)
        await receiver.stop()
        sent = [await remind(flow, unit, task) for unit, task in
                (("市发改委", "1"), ("市工信局", "1"), ("市住建局", "2"), ("市发改委", None))]
        now = utcnow()
        for hours in range(4):
            await worker.drain(now + timedelta(hours=hours))
        entries = await log(flow, hook)
        assert {e["status"] for e in entries} == {"pending"}
        assert all("ConnectError" in e["last_error"] for e in entries if e["attempts"])
        await receiver.start()
        await worker.drain(now + timedelta(days=1))
        await worker.drain(now + timedelta(days=1))
        got = [r.json()["data"]["reminder"]["id"] for r in receiver.delivered]
        assert sorted(got) == sorted(r["id"] for r in sent) and len(got) == len(set(got))
        assert got.index(sent[0]["id"]) < got.index(sent[1]["id"])
        assert {e["status"] for e in await log(flow, hook)} == {"delivered"}

    async def test_after_the_last_attempt_it_fails_and_the_office_can_retry_it(
            self, flow, receiver, database, settings):
        hook = await subscribe(flow, receiver.url)
        receiver.answer(500, 500)
        await remind(flow)
        async with Worker(database, settings.model_copy(update={"webhook_max_attempts": 2})) as worker:
            await worker.drain(utcnow())
            await worker.drain(utcnow() + timedelta(hours=1))
            [entry] = await log(flow, hook, status="failed")
            assert (entry["attempts"], entry["last_status_code"]) == (2, 500)
            assert await worker.drain(utcnow() + timedelta(days=1)) == 0
            path = f"/webhooks/{hook['id']}/deliveries/{entry['id']}/retry"
            retried = await flow.post(path)
            assert retried.status_code == 200 and retried.json()["status"] == "pending"
            assert (await flow.post(path)).status_code == 409
            assert await worker.drain() == 1
        assert (await log(flow, hook))[0]["status"] == "delivered"

    async def test_each_subscriber_gets_only_the_types_it_asked_for(self, flow, receiver, worker):
        reports = await subscribe(flow, receiver.url, ["report.submitted"])
        everything = await subscribe(flow, receiver.url, ["*"])
        await remind(flow)
        assert await log(flow, reports) == [] and len(await log(flow, everything)) == 1

    async def test_a_test_event_goes_to_that_subscriber_only(self, flow, receiver, worker):
        one = await subscribe(flow, receiver.url, ["task.closed"])
        two = await subscribe(flow, receiver.url)
        response = await flow.post(f"/webhooks/{one['id']}/test")
        assert response.status_code == 202, response.text
        assert await worker.drain() == 1
        [got] = receiver.requests
        assert got.json()["type"] == "webhook.test" and got.headers["x-duban-event"] == "webhook.test"
        assert await log(flow, two) == []
        assert (await flow.post("/webhooks/9999/test")).status_code == 404


class TestClaims:
    async def test_two_workers_never_send_one_delivery_twice(self, flow, receiver, database, settings):
        await subscribe(flow, receiver.url)
        for unit in ("市发改委", "市工信局", "市科技局"):
            await remind(flow, unit)
        async with Worker(database, settings) as a, Worker(database, settings) as b:
            now = utcnow()
            mine, theirs = await asyncio.gather(a._claim(now), b._claim(now))
        ids = [r.id for r in mine] + [r.id for r in theirs]
        assert len(ids) == len(set(ids)) == 3
        async with database.session() as s:
            leased = (await s.execute(select(Delivery.next_attempt_at))).scalars().all()
        assert all(t > utcnow() for t in leased)  # leased: due again only if the claimant died


class TestBackgroundWorker:
    async def test_the_app_runs_the_worker_for_its_lifetime(self, flow, receiver, app):
        app.state.settings = app.state.settings.model_copy(update={"worker_poll_seconds": 0.02})
        hook = await subscribe(flow, receiver.url, ["reminder.created"])
        async with app.router.lifespan_context(app):
            assert app.state.worker is not None
            await remind(flow)
            await receiver.wait_for(1)
        assert [e["status"] for e in await log(flow, hook)] == ["delivered"]

    async def test_no_worker_when_the_settings_say_so(self, settings, database):
        app = create_app(settings.model_copy(update={"run_worker": False}), database)
        async with app.router.lifespan_context(app):
            assert app.state.worker is None
