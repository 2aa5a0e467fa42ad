"""Tokens at rest, in comparison and in logs.

- Stored hashed: after a token is minted (with an Idempotency-Key too) and used, no column of
  any table holds it; apitoken keeps its SHA-256, under a unique index.
- Compared without leaking timing about the token: the office's token by hmac.compare_digest
  on digests, a unit's by looking its digest up (app/auth/principal.py); the plain token
  reaches neither comparison nor SQL. A near miss is 401.
- Never logged, nor echoed in a problem body: every log record at DEBUG (SQL included) is read.
The audit log is covered in test_audit_log.py."""

from __future__ import annotations

import hashlib
import logging

import pytest
from sqlalchemy import inspect, select
from sqlmodel import SQLModel

from app.auth import principal
from app.models import ApiToken
from app.serve import _RedactTokens
from tests.api.test_assignments import API, Flow
from tests.helpers import ADMIN, ADMIN_TOKEN, bearer
from tests.robustness.state import refused, snapshot


def plain(headers: dict) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def near_misses(token: str) -> list[str]:
    flip = {"a": "b", "A": "B", "0": "1", "_": "-", "-": "_"}
    last = flip.get(token[-1], "a" if token[-1] != "a" else "b")
    return [token[:-1] + last, flip.get(token[0], "x") + token[1:], token[:-1], token + "a",
            token.swapcase(), token[: len(token) // 2], hashlib.sha256(token.encode()).hexdigest()]


@pytest.fixture
async def flow(client, api, database) -> Flow:
    return await Flow(client, api, database).start()


async def use(flow: Flow, headers: dict) -> None:
    """Every way a unit's token is sent: header, query, and with an Idempotency-Key."""
    task = flow.tasks["1"]
    assert (await flow.post(f"/tasks/{task}/acceptance", {}, headers)).status_code == 200
    filed = await flow.post(f"/tasks/{task}/reports", {"period": "2025-03", "progress": 5, "summary": "x"},
                            {**headers, "Idempotency-Key": "r-1"})
    assert filed.status_code == 201
    feed = await flow.client.get(f"{API}/units/市发改委/calendar.ics", params={"token": plain(headers)})
    assert feed.status_code == 200


class TestAtRest:
    async def test_no_column_of_any_table_holds_a_plain_token(self, flow, database):
        minted = await flow.client.post(f"{API}/tokens", json={"unit": str(flow.units["市发改委"])},
                                        headers={**ADMIN, "Idempotency-Key": "mint-1"})
        assert minted.status_code == 201 and minted.headers["cache-control"] == "no-store"
        token = minted.json()["token"]
        await use(flow, bearer(token))
        for wrong in near_misses(token):
            assert (await flow.get("/tasks", bearer(wrong))).status_code == 401
        rows = await snapshot(database)
        cells = [(table, repr(value)) for table, found in rows.items() for row in found for value in row]
        assert len(cells) > 500 and len(rows) == len(SQLModel.metadata.tables)
        for secret in (token, token[4:20], ADMIN_TOKEN):
            assert not [t for t, text in cells if secret in text], f"{secret[:8]}… is stored"
        async with database.session() as s:
            stored = (await s.execute(select(ApiToken.token_hash))).scalar_one()
        assert stored == hashlib.sha256(token.encode()).hexdigest()

    async def test_a_retried_mint_answers_409_instead_of_a_stored_token(self, flow, database):
        key = {**ADMIN, "Idempotency-Key": "mint-2"}
        first = await flow.post("/tokens", {"unit": None, "role": "reader"}, key)
        again = await flow.post("/tokens", {"unit": None, "role": "reader"}, key)
        body = refused(again, "secret_shown_once", status=409)
        assert body["id"] == first.json()["id"] and first.json()["token"] not in again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert len((await flow.get("/tokens")).json()["items"]) == 1, "the retry minted nothing"

    async def test_the_digest_column_is_unique_so_a_lookup_is_by_index(self, database):
        async with database.engine.connect() as conn:
            def unique_columns(sync):
                found = inspect(sync)
                return [c["column_names"] for c in found.get_unique_constraints("apitoken")] + \
                    [i["column_names"] for i in found.get_indexes("apitoken") if i["unique"]]
            assert ["token_hash"] in await conn.run_sync(unique_columns)


class TestComparison:
    async def test_a_token_one_character_off_is_refused_and_not_echoed(self, flow, api):
        token = plain(await api.mint(str(flow.units["市发改委"])))
        for secret in (token, ADMIN_TOKEN):
            for wrong in near_misses(secret):
                response = await flow.get("/tasks", bearer(wrong))
                body = refused(response, "unauthorized", status=401)
                assert response.headers["www-authenticate"] == "Bearer"
                assert wrong not in response.text and secret not in response.text, body
        assert (await flow.get("/tasks", bearer(f"  {token}  "))).status_code == 200

    async def test_only_digests_reach_the_comparison_and_the_lookup(self, flow, api, monkeypatch):
        token = plain(await api.mint(str(flow.units["市发改委"])))
        compared, looked_up = [], []
        real_compare, real_fetch = principal.hmac.compare_digest, principal.fetch_one

        def compare(a, b):
            compared.append((a, b))
            return real_compare(a, b)

        async def fetch(session, query, **params):
            looked_up.append(params)
            return await real_fetch(session, query, **params)

        monkeypatch.setattr(principal.hmac, "compare_digest", compare)
        monkeypatch.setattr(principal, "fetch_one", fetch)
        for headers in (ADMIN, bearer(token), bearer(token[:-1] + "#")):
            await flow.get("/tasks", headers)
        digest = hashlib.sha256
        assert compared and all(len(a) == len(b) == 64 for a, b in compared)
        assert (digest(ADMIN_TOKEN.encode()).hexdigest(),) * 2 in compared
        assert {"digest": digest(token.encode()).hexdigest()} in looked_up
        seen = repr(compared) + repr(looked_up)
        assert token not in seen and ADMIN_TOKEN not in seen


class TestLogs:
    async def test_no_log_record_holds_a_token(self, flow, api, caplog):
        caplog.set_level(logging.DEBUG)
        caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # statements and parameters
        headers = await api.mint(str(flow.units["市发改委"]))
        await use(flow, headers)
        token = plain(headers)
        for wrong in near_misses(token)[:3]:
            await flow.get("/tasks", bearer(wrong))
            await flow.client.get(f"{API}/units/市发改委/calendar.ics", params={"token": wrong})
        await flow.client.get(f"{API}/tasks/{2**40}", headers=headers)
        # httpx is this test's client, logging the URL it sent (?token= included), as a phone
        # would keep it in its history; the server's own access log is filtered (next test).
        records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
        assert sum(r.name.startswith("sqlalchemy.engine") for r in records) > 20, \
            "statements and their parameters are logged: the check reads them too"
        text = "\n".join(r.getMessage() for r in records)
        assert token not in text and ADMIN_TOKEN not in text and token[4:20] not in text

    def test_the_access_log_filter_redacts_a_calendar_token(self):
        record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                                   '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET",
                                   "/api/v1/units/1/calendar.ics?token=dbn_secret&x=1", "1.1", 200), None)
        assert _RedactTokens().filter(record)
        assert "dbn_secret" not in record.getMessage() and "token=[redacted]&x=1" in record.getMessage()
