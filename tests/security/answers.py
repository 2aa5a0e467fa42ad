"""Reading an answer for what it gives away of unit B, and judging a refusal."""

from __future__ import annotations

import io
import json
import re
import zipfile

from tests.security.conftest import World


def readable(response) -> str:
    kind = response.headers.get("content-type", "")
    if "spreadsheetml" in kind:
        with zipfile.ZipFile(io.BytesIO(response.content)) as book:
            return "".join(book.read(n).decode() for n in book.namelist() if n.endswith(".xml"))
    if kind.startswith("application/problem+json"):
        # `instance` is the path the caller sent, B's name in it included: an echo, not a leak.
        return json.dumps({**response.json(), "instance": None}, ensure_ascii=False)
    if "json" in kind:
        return json.dumps(response.json(), ensure_ascii=False)
    # iCalendar folds long lines: unfold, or a title split in two would pass unseen.
    return response.content.decode("utf-8-sig").replace("\r\n ", "")


def b_rows(node, world: World, scope: str) -> list:
    """Objects in a JSON answer that belong to B, or to B's tasks where those are secret."""
    found = []
    tasks = set() if scope == "neighbour" else world.b_tasks
    if isinstance(node, dict):
        if node.get("unit_id") == world.b_unit or node.get("task_id") in tasks:
            found.append(node)
        if scope == "registry" and node.get("id") == world.b_unit and node.get("obligations"):
            found.append({"B's workload": node["obligations"]})
        for key, value in node.items():
            ids = {"unit": set() if scope == "registry" else {world.b_unit}, "task": tasks}.get(key)
            if ids and isinstance(value, dict) and value.get("id") in ids:
                found.append(node)
            found += b_rows(value, world, scope)
    elif isinstance(node, list):
        for item in node:
            found += b_rows(item, world, scope)
    return found


def leaks(response, world: World, scope: str = "outsider") -> list:
    """What of B's the answer holds. The registry may name B; a unit on B's task shares its
    title and the names its text gives, never what B wrote or B's own rows."""
    secrets = world.filed + ([] if scope == "neighbour" else world.titles) + \
        ([] if scope in ("registry", "neighbour") else world.names)
    text = readable(response)
    found: list = [s for s in secrets if s in text]
    if "json" in response.headers.get("content-type", ""):
        found += b_rows(response.json(), world, scope)
    return found


def refusal(response, statuses: set[int], world: World) -> str | None:
    """Why this answer is not a clean refusal, or None when it is one."""
    if response.status_code not in statuses:
        return f"{response.status_code} (wanted {sorted(statuses)}): {response.text[:300]}"
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"not problem+json: {response.headers.get('content-type')}"
    body = response.json()
    if body.get("status") != response.status_code or not body.get("code"):
        return f"a problem without its status and code: {body}"
    if response.status_code == 401 and \
            "bearer" not in response.headers.get("www-authenticate", "").lower():
        return "401 without WWW-Authenticate: Bearer"
    if shown := {"etag", "location"} & set(response.headers):
        return f"a refusal that carries {sorted(shown)}"
    found = leaks(response, world)
    return f"leaks {found[:3]}" if found else None


def same_refusal(response, nothing, ids: dict[str, str]) -> str | None:
    """Whether B's object answers as an object that does not exist: not even a hint."""
    mine, theirs = response.json(), nothing.json()
    detail = re.sub(r"\d+", lambda m: ids.get(m.group(), m.group()), mine.get("detail") or "")
    if (response.status_code, mine.get("code"), detail) != \
            (nothing.status_code, theirs.get("code"), theirs.get("detail") or ""):
        return f"B's object answers {mine} but a missing one {theirs}"
    return None
