"""`duban`: the monthly dispatch from a script or a cron job, over the HTTP API.

Exit codes, for cron:
  0  done, nothing needs attention
  1  the server could not be reached or failed (network error, 5xx): retry later
  2  the request was wrong (bad option, bad token, unknown unit, bad period): fix the call
  3  done, and something needs attention (overdue obligations, missing reports, red units)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

OK, UNREACHABLE, BAD_REQUEST, ATTENTION = 0, 1, 2, 3
app = typer.Typer(help="督办 Duban: the monthly dispatch from the command line.", no_args_is_help=True,
                  add_completion=False)
out = Console()
err = Console(stderr=True)

Url = Annotated[str, typer.Option(envvar="DUBAN_URL", help="the service, e.g. http://127.0.0.1:8000")]
Token = Annotated[str, typer.Option(envvar="DUBAN_TOKEN", help="a bearer token (or DUBAN_TOKEN)")]
Jurisdiction = Annotated[str | None, typer.Option(help="resolve unit names within this jurisdiction")]


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/") + "/api/v1", timeout=60,
                                 headers={"Authorization": f"Bearer {token}"})

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(UNREACHABLE, f"cannot reach the service: {exc}")
        if response.status_code >= 500:
            fail(UNREACHABLE, f"the service failed ({response.status_code}); retry later")
        if response.status_code >= 400:
            fail(BAD_REQUEST, _problem(response))
        return response.json()

    def pages(self, path: str, params: dict[str, Any], key: str = "items"):
        cursor = None
        while True:
            page = self.call("GET", path, params={**params, "cursor": cursor, "limit": 500})
            yield from page[key]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def download(self, path: str, params: dict[str, Any], target: Path) -> int:
        try:
            with self.http.stream("GET", path, params=params) as response, \
                    Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                             TransferSpeedColumn(), console=err, transient=True) as progress:
                if response.status_code >= 400:
                    response.read()
                    fail(UNREACHABLE if response.status_code >= 500 else BAD_REQUEST, _problem(response))
                size = int(response.headers.get("content-length", 0)) or None
                job = progress.add_task(f"{target.name}", total=size)
                written = 0
                with target.open("wb") as sink:
                    for chunk in response.iter_bytes(64 * 1024):
                        sink.write(chunk)
                        written += len(chunk)
                        progress.update(job, completed=written)
        except httpx.HTTPError as exc:
            fail(UNREACHABLE, f"download interrupted: {exc}")
        return written


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('code', '')}: {body.get('detail') or body.get('title')}"
    except ValueError:
        return f"{response.status_code}: {response.text[:200]}"


def fail(code: int, message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@app.command()
def dispatch(period: Annotated[str, typer.Option(help="YYYY-MM, YYYY-Qn or YYYY")], url: Url = "http://127.0.0.1:8000",
             token: Token = "", jurisdiction: Jurisdiction = None,
             unit: Annotated[str | None, typer.Option(help="one unit only")] = None,
             xlsx: Annotated[Path | None, typer.Option(help="also save the ledger (台账) as .xlsx")] = None,
             csv: Annotated[Path | None, typer.Option(help="also save the ledger as .csv")] = None) -> None:
    """月调度: per unit, reported / missing / overdue / due soon and the warning light."""
    api = Api(url, token)
    params = {k: v for k, v in {"jurisdiction": jurisdiction, "unit": unit}.items() if v}
    rows = list(api.pages(f"/dispatch/{period}", params, key="units"))
    table = Table("unit", "assignments", "reported", "missing", "overdue", "due soon", "light",
                  title=f"dispatch {period}")
    colour = {"red": "red", "yellow": "yellow", "green": "green"}
    for r in rows:
        table.add_row(r["unit"], *(str(r[k]) for k in ("assignments", "reported", "missing", "overdue",
                                                        "due_soon")),
                      f"[{colour.get(r['light'], 'white')}]{r['light']}[/]")
    out.print(table)
    for target, kind in ((xlsx, "xlsx"), (csv, "csv")):
        if target is not None:
            size = api.download(f"/dispatch/{period}/ledger.{kind}", params, target)
            out.print(f"saved {target} ({size} bytes)")
    attention = any(r["light"] == "red" or r["missing"] for r in rows)
    raise typer.Exit(ATTENTION if attention else OK)


@app.command()
def remind(url: Url = "http://127.0.0.1:8000", token: Token = "",
           period: Annotated[str | None, typer.Option(help="the month the reminder is about")] = None,
           missing: Annotated[bool, typer.Option(help="every unit missing its report for --period")] = False,
           unit: Annotated[list[str] | None, typer.Option(help="a unit to remind (repeatable)")] = None,
           task: Annotated[int | None, typer.Option(help="about this task")] = None,
           message: Annotated[str | None, typer.Option(help="the text sent")] = None,
           jurisdiction: Jurisdiction = None) -> None:
    """催办: remind units — those missing a period's report, or the ones named."""
    if missing == bool(unit):
        fail(BAD_REQUEST, "give either --missing (with --period) or one or more --unit")
    if missing and not period:
        fail(BAD_REQUEST, "--missing needs --period YYYY-MM")
    body: dict[str, Any] = {"missing_for": period} if missing else {"units": unit}
    body |= {k: v for k, v in {"task": task, "message": message, "jurisdiction": jurisdiction,
                               }.items() if v is not None}
    if period and not missing:
        body["period"] = period
    result = Api(url, token).call("POST", "/reminders", json=body)
    for reminder in result["reminders"]:
        out.print(f"reminded {reminder['unit']}" + (f" about task {reminder['task_id']}"
                                                    if reminder.get("task_id") else ""))
    out.print(f"{result['count']} reminder(s) sent")
    raise typer.Exit(OK)


@app.command()
def overdue(unit: Annotated[str, typer.Option(help="unit id, or name as the documents write it")],
            url: Url = "http://127.0.0.1:8000", token: Token = "", jurisdiction: Jurisdiction = None,
            as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD; default today")] = None) -> None:
    """What is overdue for one unit; exits 3 when anything is."""
    params = {k: v for k, v in {"jurisdiction": jurisdiction, "as_of": as_of}.items() if v}
    items = list(Api(url, token).pages(f"/units/{unit}/overdue", params))
    if not items:
        out.print(f"nothing overdue for {unit}")
        raise typer.Exit(OK)
    table = Table("task", "title", "document", "role", "deadline", "days overdue",
                  title=f"overdue for {unit}")
    for i in items:
        table.add_row(i["task"]["number"], i["task"]["title"], i["task"]["document"]["title"] or "",
                      i["role"], i["deadline"], str(i["days_overdue"]))
    out.print(table)
    raise typer.Exit(ATTENTION)


def main() -> None:
    sys.exit(app())


if __name__ == "__main__":
    main()
