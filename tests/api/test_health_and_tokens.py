"""The service answers, says whether its database does, and hands out tokens."""

from tests.helpers import ADMIN, bearer


class TestHealth:
    async def test_reports_a_reachable_database(self, client):
        response = await client.get("/api/v1/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "reachable"}

    async def test_openapi_is_served(self, client):
        response = await client.get("/openapi.json")
        assert response.status_code == 200 and "/api/v1/health" in response.json()["paths"]


class TestTokens:
    async def test_no_token_is_401_problem(self, client):
        response = await client.get("/api/v1/tokens")
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["code"] == "unauthorized" and body["status"] == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_unknown_token_is_401(self, client):
        response = await client.get("/api/v1/tokens", headers=bearer("nope"))
        assert response.status_code == 401

    async def test_reader_token_cannot_mint(self, client, api):
        reader = await api.mint(None, role="reader")
        response = await client.post("/api/v1/tokens", json={"role": "reader"}, headers=reader)
        assert response.status_code == 403 and response.json()["code"] == "forbidden"

    async def test_minted_reader_is_listed_by_hash_only(self, client, api):
        response = await client.post("/api/v1/tokens", json={"role": "reader", "label": "省平台"},
                                     headers=ADMIN)
        assert response.status_code == 201
        token = response.json()["token"]
        listing = (await client.get("/api/v1/tokens", headers=ADMIN)).json()
        assert [t["label"] for t in listing["items"]] == ["省平台"]
        assert token not in str(listing)

    async def test_revoked_token_is_refused_at_once(self, client):
        created = (await client.post("/api/v1/tokens", json={"role": "reader"}, headers=ADMIN)).json()
        assert (await client.get("/api/v1/health", headers=bearer(created["token"]))).status_code == 200
        assert (await client.delete(f"/api/v1/tokens/{created['id']}", headers=ADMIN)).status_code == 204
        assert (await client.get("/api/v1/tokens", headers=bearer(created["token"]))).status_code == 401

    async def test_unit_token_for_an_unknown_unit_is_422_with_suggestions(self, client):
        response = await client.post("/api/v1/tokens", json={"unit": "市生态环境局"}, headers=ADMIN)
        assert response.status_code == 422
        assert response.json()["code"] == "unknown_unit"


class TestNulCharacters:
    async def test_nul_in_a_json_body_is_422_and_nothing_is_stored(self, client):
        response = await client.post("/api/v1/tokens", json={"role": "reader", "label": "a\x00b"},
                                     headers=ADMIN)
        assert response.status_code == 422 and response.json()["code"] == "invalid_input"
        assert (await client.get("/api/v1/tokens", headers=ADMIN)).json()["items"] == []

    async def test_nul_in_the_query_is_422(self, client):
        response = await client.get("/api/v1/units", params={"q": "a\x00"}, headers=ADMIN)
        assert response.status_code == 422
