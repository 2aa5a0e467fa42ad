"""OWASP API1, broken object level authorization, walked route by route from the OpenAPI.

Every operation the app publishes is called with unit B's ids in its path (conftest.py) under
A's unit token, A's reader token, the token of C (a unit on B's task), a global reader, no
token, two malformed ones, an unknown and a revoked token; with B's ids in its queries and
bodies, and A's own ids beside B's in one path. Each operation needs a decision in rules.py, so a route
added without one fails here. Run with -s for the table of answers.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from sqlalchemy import select
from sqlmodel import SQLModel

from tests.helpers import ADMIN, bearer
from tests.security.answers import leaks, refusal, same_refusal
from tests.security.conftest import API, PERIOD, Actor, World, mint
from tests.security.rules import (
    MISSING,
    NOT_OBJECTS,
    PAGES,
    PARAMS,
    QUERIES,
    SAVES_NOTHING,
    SHARED,
    WRITES,
    request_for,
    rule,
)


async def snapshot(database) -> dict[str, list[str]]:
    async with database.session() as s:
        return {t.name: sorted(map(repr, (await s.execute(select(t))).all()))
                for t in SQLModel.metadata.sorted_tables}


class Walk:
    def __init__(self, client, world: World, spec: dict) -> None:
        self.client, self.world, self.spec = client, world, spec
        self.table: dict[str, dict[str, int]] = {}
        self.failures: list[str] = []
        self.calls = self.refused = self.answered = 0

    async def send(self, key: str, label: str, headers: dict, url: str, request: dict, **kw):
        method = key.split(" ", 1)[0]
        if method == "POST" and key not in SAVES_NOTHING:  # the replay path must check tokens too
            headers = {**headers, "Idempotency-Key": f"bola-{self.calls}"}
        response = await self.client.request(method, url, **{
            **request, **kw, "headers": {**request.get("headers", {}), **headers}})
        self.calls += 1
        self.table.setdefault(key, {})[label] = response.status_code
        return response

    def expect_refusal(self, key: str, label: str, response, statuses: set[int]) -> None:
        why = refusal(response, statuses, self.world)
        self.failures += [f"{key} as {label}: {why}"] if why else []
        self.refused += not why

    def expect_answer(self, key: str, label: str, response, scope: str) -> None:
        if response.status_code == 200 and not (found := leaks(response, self.world, scope)):
            self.answered += 1
        elif response.status_code != 200:
            self.failures.append(f"{key} as {label}: {response.status_code} {response.text[:200]}")
        else:
            self.failures.append(f"{key} as {label}: B's data in the answer: {found[:3]}")

    async def expect_pages(self, key, label, headers, url, request, params, scope,
                           response=None) -> None:
        """Every page of a list is the caller's: B's rows must not wait on a later page."""
        for _ in range(PAGES):
            response = response or await self.send(key, label, headers, url, request, params=params)
            self.expect_answer(key, label, response, scope)
            cursor = response.json().get("next_cursor") if response.status_code == 200 and \
                "json" in response.headers.get("content-type", "") else None
            if not cursor:
                return
            params, response = {**params, "cursor": cursor}, None

    def url(self, path: str, names: list[str], **own: str) -> str:
        values = {n: own.get(n, self.world.ids[PARAMS[n]]) for n in names}
        return path.format(**{n: quote(str(v), safe="") for n, v in values.items()})

    def missing(self, path: str, names: list[str]) -> tuple[str, dict] | None:
        """The path with ids that exist nowhere in place of B's, and that mapping."""
        ids = [n for n in names if n not in NOT_OBJECTS]
        if not ids or not all(isinstance(self.world.ids[PARAMS[n]], int) for n in ids):
            return None
        absent = {n: str(MISSING + i) for i, n in enumerate(ids)}
        return self.url(path, names, **absent), {str(self.world.ids[PARAMS[n]]): absent[n] for n in ids}

    async def operation(self, path: str, method: str, op: dict) -> None:
        key, world = f"{method.upper()} {path}", self.world
        params = op.get("parameters", [])
        names = [p["name"] for p in params if p["in"] == "path"]
        queries = {p["name"] for p in params if p["in"] == "query"}
        if unknown := [n for n in names if n not in PARAMS]:
            self.failures.append(f"{key}: path parameter {unknown} has no rule: add the new "
                                 "route's rule (rules.PARAMS, and OFFICE/OWN_ROWS/REGISTRY)")
            return
        kind, url = rule(key, names), self.url(path, names)
        request, acting = request_for(key, op, self.spec)
        if kind is None:
            self.failures.append(f"{key}: no authorization rule: add the new route's rule")
            return
        if kind == "public":
            self.expect_answer(key, "none", await self.send(key, "none", {}, url, request), "outsider")
            return
        for label, headers in world.strangers.items():
            self.expect_refusal(key, label, await self.send(key, label, headers, url, request), {401})
        writes = method in WRITES and kind != "saves nothing"
        reader = await self.send(key, "reader", world.reader, url, request)
        if kind == "office" or writes:
            self.expect_refusal(key, "reader", reader, {403})
        elif reader.status_code != 200:  # a reader reads all, B's objects too: the ids are real
            self.failures.append(f"{key} as reader: {reader.status_code} {reader.text[:200]}")
        for label, actor in world.actors.items():
            await self.as_actor(key, label, actor, path, names, queries, kind, writes, request, acting)
        if "token" in queries:  # the calendar's ?token=, for apps that cannot send a header
            for label, headers, statuses in (
                    ("unit A ?token", world.actors["unit A"].headers, {404}),
                    ("unknown ?token", world.strangers["unknown"], {401})):
                token = headers["Authorization"].removeprefix("Bearer ")
                self.expect_refusal(key, label, await self.send(
                    key, label, {}, url, request, params={"token": token}), statuses)
        if kind == "object" and method == "get":
            if (own := await self.send(key, "unit B", world.b, url, request)).status_code != 200:
                self.failures.append(f"{key}: B cannot read its own object ({own.status_code}): "
                                     "the walk's ids are wrong, so its refusals prove nothing")

    async def as_actor(self, key, label, actor: Actor, path, names, queries, kind, writes,
                       request, acting) -> None:
        shares = actor.neighbour and not set(names) - SHARED
        url = self.url(path, names)
        others = [(f"{label} B's id", self.url(path, names, unit=str(self.world.b_unit)))] \
            if "unit" in names else []
        # Its own task or unit beside B's object in one path: the pair is checked, not each id.
        others += [(f"{label} own {n}", self.url(path, names, **{n: actor.own[n]}))
                   for n in set(names) & set(actor.own) if set(names) - {n} - NOT_OBJECTS]
        others = [(variant, other) for variant, other in others if other != url]
        expected = {403} if kind == "office" or (writes and not actor.writes) else \
            {404} if kind == "object" and not shares else None
        if expected:
            await self.refused_like_nothing(key, label, actor.headers, url, request, expected,
                                            self.missing(path, names))
            for variant, other in others:
                self.expect_refusal(key, variant, await self.send(
                    key, variant, actor.headers, other, request), expected)
        elif not writes:
            scope = "registry" if kind == "registry" else "neighbour" if actor.neighbour else "outsider"
            await self.readable(key, label, actor.headers, url, request, scope, queries)
            for variant, other in others:
                await self.expect_pages(key, variant, actor.headers, other, request, {}, scope)
        # (C's own step on the task it shares with B is no attack on B and is not taken here.)
        if acting and actor.writes and kind == "object" and writes:
            mine = self.url(path, names, **actor.own)
            body = {**request["json"], "unit": self.world.ids["unit_name"]}
            self.expect_refusal(key, f"{label} acting for B", await self.send(
                key, f"{label} acting for B", actor.headers, mine, request, json=body), {403, 404})

    async def refused_like_nothing(self, key, label, headers, url, request, expected, missing):
        response = await self.send(key, label, headers, url, request)
        self.expect_refusal(key, label, response, expected)
        if missing and response.status_code == 404:
            nothing = await self.send(key, f"{label} missing id", headers, missing[0], request)
            if why := same_refusal(response, nothing, missing[1]):
                self.failures.append(f"{key} as {label}: {why}")

    async def readable(self, key, label, headers, url, request, scope, queries) -> None:
        await self.expect_pages(key, label, headers, url, request, {}, scope)
        for name in sorted(queries & set(QUERIES)):
            variant, params = f"{label} ?{name}=B", {name: str(self.world.ids[QUERIES[name]])}
            response = await self.send(key, variant, headers, url, request, params=params)
            if response.status_code == 200:
                await self.expect_pages(key, variant, headers, url, request, params, scope, response)
            else:
                self.expect_refusal(key, variant, response, {403, 404})


async def test_no_token_reaches_another_units_objects(client, world, database):
    started = time.monotonic()
    spec = (await client.get("/openapi.json")).json()
    operations = [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]
    before = await snapshot(database)
    walk = Walk(client, world, spec)
    for path, method, op in operations:
        await walk.operation(path, method, op)
    changed = [t for t, rows in (await snapshot(database)).items() if rows != before[t]]
    tokens = len(world.strangers) + 1 + len(world.actors)
    print("\n" + "\n".join(f"{key:<66} " + " ".join(f"{label}={code}" for label, code in row.items())
                           for key, row in walk.table.items()))
    print(f"BOLA: {len(operations)} operations × {tokens} tokens = {len(operations) * tokens} "
          f"calls ({walk.calls} with B's ids in queries, bodies and mixed paths): "
          f"{walk.refused} refused, {walk.answered} answered with nothing of B's, the rest read "
          f"by the reader and B; {len(walk.failures)} wrong, in {time.monotonic() - started:.1f} s")
    assert not walk.failures, "\n".join(walk.failures)
    assert not changed, f"refused requests changed {changed}"


async def test_a_revoked_token_gets_401_not_its_stored_answer(client, world, database):
    minted = await mint(client, world.b_unit)
    url = f"{API}/tasks/{world.ids['task']}/reports"
    headers = {**bearer(minted["token"]), "Idempotency-Key": "bola-revoked"}
    body = {"period": PERIOD, "progress": 50, "summary": world.filed[-1]}
    assert (await client.post(url, json=body, headers=headers)).status_code == 200
    assert (await client.delete(f"{API}/tokens/{minted['id']}", headers=ADMIN)).status_code == 204
    before = await snapshot(database)
    for sent in (body, {**body, "progress": 60}):  # the retry, and the same key reused
        response = await client.post(url, json=sent, headers=headers)
        assert refusal(response, {401}, world) is None, response.text
    assert await snapshot(database) == before
