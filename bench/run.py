"""`make bench`: Duban against the raw-asyncpg baseline (bench/baseline) on the same data.

    python -m bench.run --scale M [--duration 10] [--rounds 3] [--concurrency 16,64]
                        [--only get_task,overdue,dispatch,report,document] [--services baseline,duban]

Starts a throwaway PostgreSQL cluster with its default durability (fsync on) and loads the scale
(bench/generate.py). Each round starts each service in turn pinned to CPU 0 and drives every
endpoint at every concurrency with wrk pinned to CPU 1 over 127.0.0.1: a warm-up, then the
measured run. Documents the import benchmark adds are deleted after it, so every round reads
the same data. Prints the other targets (seed extraction, import rate, a worker's memory, the
overdue page's plan), then the medians over rounds as a table whose last line reads
`bench: min throughput ratio X.XX, max p99 ratio Y.YY`; raw results go to bench/out/.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from bench import documents
from bench.generate import OUT, SCALES, Manifest, generate, summary
from tests.pgcluster import Cluster, free_port

ROOT = Path(__file__).resolve().parents[1]
WRK = Path(__file__).parent / "wrk"
ENDPOINTS = ("get_task", "overdue", "dispatch", "report", "document")
SERVICES = ("baseline", "duban")
SERVICE_CPU, LOADER_CPU = "0", "1"
# The overdue page as 16 phone apps read it, each pausing 20 ms on average: latency without the
# queue that a loader sending as fast as it can builds (the table's runs).
PACED, PACED_CLIENTS, PAUSE_MS = "overdue_paced", 16, 20
# The import benchmark's 文号 codes: never 赣市府办字, which the generated documents use.
CODES = [f"赣市{office}{kind}" for kind in "发字函" for office in (
    "发改 工信 财 教 科 民 司 人社 自然资源 生态 住建 城管 交 水 农 商 文旅 卫健 应急 审计 国资 市监 林 数据".split())]


def write_inputs(manifest: Manifest, folder: Path) -> dict[str, Path]:
    templates = documents.write_templates(folder / "templates", 20)  # makes the folder
    paths = {name: folder / f"{name}.txt" for name in ("tasks", "pairs", "templates")}
    paths["tasks"].write_text("".join(f"{t}\n" for t in manifest.get_task["task_ids"]))
    paths["pairs"].write_text("".join(f"{t} {token}\n" for t, token in manifest.report["pairs"]))
    paths["templates"].write_text("".join(f"{p}\n" for p in templates))
    return paths


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log: Path
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(["taskset", "-c", SERVICE_CPU, *self.argv], cwd=ROOT, stdout=log,
                                         env={**os.environ, **self.env}, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:  # any HTTP answer means it listens
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/v1/health")
                return conn.getresponse().close()
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start (exit code {self.proc.poll()}); see {self.log}")

    def cpu_seconds(self) -> float:  # utime + stime
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, timeout: float = 120) -> None:
        """Wait for the requests a finished wrk left in flight (the server finishes them):
        until the process uses under 5% of a CPU for 0.3 s."""
        deadline, last = time.monotonic() + timeout, self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = self.cpu_seconds()
            if now - last < 0.015:
                return
            last = now

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
        return round(int(next(x for x in status if x.startswith("VmRSS:")).split()[1]) / 1024, 1)

    def stop(self) -> None:
        """Only the process this runner started, by its pid."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def services(dsn: str, token: str, log_dir: Path) -> dict[str, Service]:
    python, duban_port, baseline_port = sys.executable, free_port(), free_port()
    return {
        "duban": Service("duban", [
            python, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(duban_port), "--workers", "1", "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--log-level", "warning"],
            {"DATABASE_URL": dsn, "DUBAN_ADMIN_TOKEN": token, "RUN_WORKER": "false",
             "IMPORT_SEED": "false"}, duban_port, log_dir / "duban.log"),
        "baseline": Service("baseline", [
            python, "-m", "bench.baseline", "--dsn", dsn.replace("+asyncpg", ""),
            "--port", str(baseline_port)],
            {"DUBAN_ADMIN_TOKEN": token}, baseline_port, log_dir / "baseline.log"),
    }


@dataclass
class Runner:
    manifest: Manifest
    inputs: dict[str, Path]
    duration: int
    warmup: int
    invocations: int = 0
    results: list[dict] = field(default_factory=list)

    def target(self, endpoint: str, port: int) -> tuple[str, str, list[str]]:
        """(script, url, script arguments) for one run; every run gets fresh keys and 文号."""
        m, base = self.manifest, f"http://127.0.0.1:{port}"
        self.invocations += 1
        if endpoint == "get_task":
            return "task.lua", base, [m.admin_token, str(self.inputs["tasks"])]
        if endpoint == "overdue":
            o = m.overdue
            return ("get.lua", f"{base}/api/v1/units/{o['unit_id']}/overdue?as_of={o['as_of']}"
                    f"&limit={o['limit']}", [o["token"]])
        if endpoint == PACED:
            script, url, args = self.target("overdue", port)
            return "paced.lua", url, [*args, str(PAUSE_MS)]
        if endpoint == "dispatch":
            d = m.dispatch
            return ("get.lua", f"{base}/api/v1/dispatch/{d['period']}?unit={d['unit_id']}"
                    f"&as_of={d['as_of']}", [m.admin_token])
        if endpoint == "report":
            prefix = f"bench-{time.time_ns():x}-{self.invocations}"
            return "report.lua", base, [str(self.inputs["pairs"]), m.report["period"], prefix]
        code = CODES[self.invocations % len(CODES)]
        year = 2026 + self.invocations // len(CODES)
        return "document.lua", base, [m.admin_token, str(self.inputs["templates"]), code, str(year)]

    def wrk(self, endpoint: str, service: Service, concurrency: int, seconds: int) -> dict:
        script, url, args = self.target(endpoint, service.port)
        command = ["taskset", "-c", LOADER_CPU, "wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s",
                   "--timeout", "30s", "-s", str(WRK / script), url, "--", *args]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120)
        line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        service.settle()
        raw = json.loads(line.removeprefix("WRK_JSON "))
        errors = sum(v for k, v in raw.items() if k.endswith("errors") or k == "timeouts")
        ok = raw["requests"] - raw["status_errors"]  # an error answered quickly is no throughput
        # No answer within the run: every latency was longer than the run, a lower bound.
        p50, p99 = (raw["p50_us"], raw["p99_us"]) if raw["requests"] else (raw["duration_us"],) * 2
        return {"rps": ok / (raw["duration_us"] / 1e6), "p50_ms": p50 / 1000, "p99_ms": p99 / 1000,
                "errors": errors, "raw": raw}

    def measure(self, service: Service, endpoint: str, concurrency: int, round_: int) -> None:
        # An import takes seconds at c64: in a run of 10 s only a handful would complete.
        scale = 3 if endpoint == "document" else 1
        if self.warmup:
            self.wrk(endpoint, service, concurrency, self.warmup * scale)
        result = self.wrk(endpoint, service, concurrency, self.duration * scale)
        self.results.append({"service": service.name, "endpoint": endpoint,
                             "concurrency": concurrency, "round": round_, **result})
        print(f"  round {round_} {service.name:<8} {endpoint:<9} c{concurrency:<3} {result['rps']:9,.0f} "
              f"req/s  p50 {result['p50_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f} ms"
              + (f"  {result['errors']} failed" if result["errors"] else ""), flush=True)


async def forget_imports(dsn: str, manifest: Manifest, attempts: int = 5) -> None:
    """Delete what the import benchmark added, so that every round reads the data generated,
    and vacuum as autovacuum would after such a delete. Without it the dead rows at the top of
    task's primary key stay at scale L (under autovacuum's 20%), and every plan that joins task
    walks them to find the key's end (get_actual_variable_range): 4 ms of planning per
    overdue page, for both services. An import still committing makes a delete fail: wait for
    it and try again."""
    last = int(manifest.document["max_document_id"])
    tasks = f"(SELECT id FROM task WHERE document_id > {last})"
    statements = [*(f"DELETE FROM {t} WHERE task_id IN {tasks}" for t in ("report", "assignment", "milestone")),
                  *(f"DELETE FROM {t} WHERE {c} > {last}" for t, c in (
                      ("task", "document_id"), ("indicator", "document_id"), ("document", "id")))]
    for attempt in range(attempts):
        try:
            await fetch(dsn, ";".join(statements))  # one simple query: one transaction
            return await fetch(dsn, "VACUUM (ANALYZE) task, assignment, milestone, report, indicator, "
                                    "document;")
        except asyncpg.ForeignKeyViolationError:
            if attempt + 1 == attempts:
                raise
            await asyncio.sleep(2)


async def overdue_plan(dsn: str, manifest: Manifest) -> list[str]:
    """EXPLAIN ANALYZE of the statement Duban runs for the overdue page, on this data."""
    from app.tasks.overdue import unit_statement

    o = manifest.overdue
    compiled = unit_statement(o["unit_id"], date.fromisoformat(o["as_of"]), limit=o["limit"]).compile(
        dialect=asyncpg_dialect())
    params = compiled.construct_params()
    args = [params[name] for name in compiled.positiontup]
    await fetch(dsn, str(compiled), *args)  # warm, as the service's cache is
    return [r[0] for r in await fetch(dsn, f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", *args)]


def ensure_wrk() -> None:
    if not shutil.which("wrk") and os.geteuid() != 0:
        sys.exit("wrk is missing: install it with `sudo apt-get install -y wrk`, then run again.")
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def machine(server: asyncpg.Record) -> dict:
    cpu = next((x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
                if x.startswith("model name")), platform.processor())
    memory = next(x.split()[1] for x in Path("/proc/meminfo").read_text().splitlines()
                  if x.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(int(memory) / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "postgresql": f"{server[0].split(' on ')[0]}, fsync {server[1]}"}


def script(*argv: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the ledger's own SQLite
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1200)
    return done.stdout.strip() or done.stderr.strip()[-300:]


def medians(results: list[dict]) -> dict[tuple[str, int, str], dict]:
    """(endpoint, concurrency, service) -> the medians over rounds, and the errors summed."""
    groups: dict[tuple[str, int, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["endpoint"], r["concurrency"], r["service"]), []).append(r)
    return {key: {**{k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms")},
                  "errors": sum(r["errors"] for r in runs), "rounds": len(runs)}
            for key, runs in groups.items()}


def table(agg: dict, endpoints: list[str], concurrency: list[int]) -> tuple[list[str], float | None, float | None]:
    head = (f"{'endpoint':<10}{'conc':>5} | {'baseline req/s':>14}{'p50 ms':>8}{'p99 ms':>8} | "
            f"{'duban req/s':>12}{'p50 ms':>8}{'p99 ms':>8} | {'ratio':>6}{'p99 ratio':>10}")
    lines, ratios, p99s, notes = [head, "-" * len(head)], [], [], []

    def cells(row: dict | None, width: int) -> str:  # "!": some requests failed
        return f"{'-':>{width}}{'-':>8}{'-':>8}" if row is None else (
            f"{row['rps']:>{width - 1},.0f}{'!' if row['errors'] else ' '}{row['p50_ms']:8.1f}{row['p99_ms']:8.1f}")

    for endpoint in endpoints:
        for c in concurrency:
            base, duban = agg.get((endpoint, c, "baseline")), agg.get((endpoint, c, "duban"))
            ratio = p99 = ""
            if base and duban and base["rps"] and base["p99_ms"]:
                ratios.append(duban["rps"] / base["rps"])
                p99s.append(duban["p99_ms"] / base["p99_ms"])
                ratio, p99 = f"{ratios[-1]:6.2f}", f"{p99s[-1]:10.2f}"
            notes += [f"! {name} {endpoint} c{c}: {row['errors']} failed requests (non-2xx, socket "
                      "errors or timeouts) over the rounds"
                      for name, row in (("baseline", base), ("duban", duban)) if row and row["errors"]]
            lines.append(f"{endpoint:<10}{c:>5} | {cells(base, 14)} | {cells(duban, 12)} | {ratio:>6}{p99:>10}")
    return lines + notes, min(ratios, default=None), max(p99s, default=None)


async def fetch(dsn: str, sql: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn.replace("+asyncpg", ""))
    try:
        return await (conn.execute(sql) if ";" in sql else conn.fetch(sql, *args))
    finally:
        await conn.close()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="M")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--only", default=",".join(ENDPOINTS), help="endpoints, comma-separated")
    parser.add_argument("--services", default=",".join(SERVICES), help="baseline,duban or one of them")
    parser.add_argument("--dsn", help="use this loaded (or empty) database instead of a new cluster")
    parser.add_argument("--reuse", action="store_true", help="with --dsn: loaded already, per its manifest")
    parser.add_argument("--ledger", action="store_true", help="also time the ledger export of 100k rows")
    args = parser.parse_args()
    return argparse.Namespace(**{**vars(args), "concurrency": [int(c) for c in args.concurrency.split(",")],
                                 "only": [e for e in ENDPOINTS if e in args.only.split(",")],
                                 "services": [s for s in SERVICES if s in args.services.split(",")]})


def main() -> None:
    args = arguments()
    ensure_wrk()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    report: dict = {"started": stamp, "args": {k: v for k, v in vars(args).items() if k != "dsn"}}
    cluster = Cluster(durable=True) if not args.dsn else None
    running: Service | None = None
    try:
        if cluster is not None:
            cluster.start()
            asyncio.run(fetch(f"{cluster.dsn_base}/postgres", 'CREATE DATABASE "bench"'))
        dsn = args.dsn.replace("postgresql://", "postgresql+asyncpg://", 1) if args.dsn \
            else f"{cluster.dsn_base}/bench"
        manifest = load(args, dsn)
        report["machine"] = machine(asyncio.run(fetch(dsn, "SELECT version(), current_setting('fsync')"))[0])
        report["load"] = {"counts": manifest.counts, "seconds": manifest.seconds}
        inputs = write_inputs(manifest, OUT / f"inputs-{args.scale}")
        asyncio.run(forget_imports(dsn, manifest))  # what an interrupted run left in a reused database
        try:  # the app's statement is the lead's to change: no plan is no reason to stop
            report["overdue_plan"] = asyncio.run(overdue_plan(dsn, manifest))
        except (ImportError, AttributeError, TypeError, ValueError, asyncpg.PostgresError) as exc:
            report["overdue_plan"] = [f"unavailable: {exc!r}"[:300]]
        chosen = [s for s in args.services if s != "baseline" or (ROOT / "bench/baseline/__main__.py").exists()
                  or (ROOT / "bench/baseline.py").exists()]
        if chosen != args.services:
            print("bench/baseline is not there: measuring Duban alone", flush=True)
        pool = services(dsn, manifest.admin_token, OUT / f"logs-{stamp}")
        runner, memory = Runner(manifest, inputs, args.duration, args.warmup), {}
        runs = ((len(args.only) + 2 * ("document" in args.only)) * len(args.concurrency)
                + ("overdue" in args.only)) * len(chosen) * args.rounds
        print(f"about {runs * (args.duration + args.warmup + 2) / 60:.0f} minutes of runs", flush=True)
        for round_ in range(1, args.rounds + 1):
            for name in chosen:
                running = pool[name]
                running.start()
                memory.setdefault(name, {}).setdefault("after_start_mb", running.rss_mb())
                for endpoint in args.only:
                    for c in args.concurrency:
                        runner.measure(running, endpoint, c, round_)
                        if endpoint == "document":
                            asyncio.run(forget_imports(dsn, manifest))
                    if endpoint == "overdue":
                        runner.measure(running, PACED, PACED_CLIENTS, round_)
                memory[name]["after_run_mb"] = running.rss_mb()
                running.stop()
                running = None
        report |= {"runs": runner.results, "memory": memory}
        if args.ledger:
            report["ledger_export"] = script("bench/ledger_export.py")
        report["extraction"] = script("bench/extract_seeds.py", "10")
        agg = medians(runner.results)
        lines, ratio, p99 = table(agg, args.only, args.concurrency)
        report |= {"table": lines, "medians": [{"endpoint": e, "concurrency": c, "service": s, **v}
                                               for (e, c, s), v in agg.items()]}
        saved = OUT / f"results-{args.scale}-{stamp}.json"
        saved.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        print("\n".join(["", *extras(report, agg, args), f"raw results: {saved.relative_to(ROOT)}", "",
                         *lines, f"bench: min throughput ratio {_fmt(ratio)}, max p99 ratio {_fmt(p99)}"]))
    finally:
        if running is not None:
            running.stop()
        if cluster is not None:
            cluster.stop()


def load(args: argparse.Namespace, dsn: str) -> Manifest:
    path = OUT / f"manifest-{args.scale}.json"
    if args.reuse:
        manifest = Manifest.load(path)
    else:
        print(f"loading scale {args.scale} ({SCALES[args.scale]:,} tasks)", flush=True)
        manifest = asyncio.run(generate(dsn, args.scale))
        manifest.save(path)
    print(summary(manifest), flush=True)
    return manifest


def extras(report: dict, agg: dict, args: argparse.Namespace) -> list[str]:
    """Everything but the table: the machine, the other targets, the overdue page's plan."""
    m = report["machine"]
    lines = [f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
             f"Python {m['python']}, {m['postgresql']}; services on CPU {SERVICE_CPU}, wrk "
             f"(1 thread) on CPU {LOADER_CPU}; {args.rounds} rounds of {args.duration} s "
             f"({3 * args.duration} s for imports), medians", f"extraction: {report['extraction']}"]
    lines += [f"import (Duban, 100-task documents, c{c}): {agg[('document', c, 'duban')]['rps']:.1f} "
              "documents/s (target >= 20)" for c in args.concurrency if ('document', c, 'duban') in agg]
    if "duban" in report["memory"]:
        rss = report["memory"]["duban"]
        lines.append(f"memory (a Duban worker's VmRSS): {rss['after_start_mb']} MB after start "
                     f"(target < 150), {rss['after_run_mb']} MB after the run")
    lines += [f"ledger export: {report['ledger_export']}"] if "ledger_export" in report else []
    lines += [f"overdue page, {PACED_CLIENTS} clients pausing {PAUSE_MS} ms on average between requests, {name}: "
              f"{row['rps']:,.0f} req/s, p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms"
              + (" (target at scale L: p99 < 20 ms)" if name == "duban" else "")
              for name in SERVICES if (row := agg.get((PACED, PACED_CLIENTS, name)))]
    return [*lines, "overdue page plan (EXPLAIN ANALYZE of Duban's statement on this data):",
            *("    " + line for line in report["overdue_plan"])]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
