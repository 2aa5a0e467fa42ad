"""Small helpers the API tests share: tokens and the calls every scenario starts with."""

from __future__ import annotations

from pathlib import Path

import httpx

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SEED = Path(__file__).resolve().parents[1] / "seed"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def mint(self, unit: str | None, role: str = "unit", jurisdiction: str | None = None) -> dict[str, str]:
        """Headers carrying a fresh token for `unit` (or a global reader when unit is None)."""
        body = {"unit": unit, "role": role}
        if jurisdiction:
            body["jurisdiction"] = jurisdiction
        response = await self.client.post("/api/v1/tokens", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        return bearer(response.json()["token"])

    async def import_text(self, text: str, **params: str) -> dict:
        response = await self.client.post("/api/v1/documents", content=text.encode(), params=params,
                                          headers={**ADMIN, "Content-Type": "text/plain; charset=utf-8"})
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def import_seed(self, name_prefix: str) -> dict:
        path = next(SEED.glob(f"{name_prefix}*"))
        return await self.import_text(path.read_text("utf-8"))
