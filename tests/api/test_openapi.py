"""The OpenAPI is the product's contract: every operation says what it can answer."""

PUBLIC = {("get", "/api/v1/health")}
# The dispatch summary's page is `units`: its shape is fixed by the contract.
PAGED_AS_UNITS = {"/api/v1/dispatch/{period}"}


async def openapi(client) -> dict:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


class TestOpenApi:
    async def test_every_operation_documents_its_errors_as_problems(self, client):
        spec = await openapi(client)
        missing = []
        for path, item in spec["paths"].items():
            for method, op in item.items():
                codes = set(op["responses"])
                wanted = {"422"} | (set() if (method, path) in PUBLIC else {"401", "403"})
                if not wanted <= codes:
                    missing.append(f"{method.upper()} {path}: {sorted(wanted - codes)}")
                for code, answer in op["responses"].items():
                    if code.startswith(("4", "5")):
                        assert "application/problem+json" in answer.get("content", {}), (path, code)
        assert not missing, "\n".join(missing)

    async def test_every_operation_has_a_description(self, client):
        spec = await openapi(client)
        bare = [f"{m.upper()} {p}" for p, item in spec["paths"].items() for m, op in item.items()
                if not op.get("description") and not op.get("summary")]
        assert not bare

    async def test_lists_answer_items_and_next_cursor(self, client):
        spec = await openapi(client)
        schemas = spec["components"]["schemas"]
        for path, item in spec["paths"].items():
            get = item.get("get")
            if not get or "cursor" not in {p["name"] for p in get.get("parameters", [])}:
                continue
            ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            props = schemas[ref.rsplit("/", 1)[1]]["properties"]
            listed = "units" if path in PAGED_AS_UNITS else "items"
            assert {listed, "next_cursor"} <= set(props), path

    async def test_contract_paths_exist(self, client):
        paths = set((await openapi(client))["paths"])
        assert {"/api/v1/health", "/api/v1/tokens", "/api/v1/documents", "/api/v1/documents/preview",
                "/api/v1/tasks", "/api/v1/tasks/{task_id}", "/api/v1/tasks/{task_id}/assignments",
                "/api/v1/tasks/{task_id}/reports", "/api/v1/tasks/{task_id}/completion",
                "/api/v1/tasks/{task_id}/verification", "/api/v1/units/{unit}/overdue"} <= paths
