"""`duban`, run as a subprocess against a live server, the way a cron job runs it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest

from tests.conftest import ROOT, _admin_sql
from tests.helpers import ADMIN_TOKEN
from tests.pgcluster import Cluster, free_port

DUBAN = [sys.executable, "-m", "app.cli"]


@pytest.fixture(scope="module")
def server(backend, tmp_path_factory):
    if isinstance(backend, Cluster):
        name = f"cli_{uuid.uuid4().hex[:8]}"
        asyncio.run(_admin_sql(backend, f'CREATE DATABASE "{name}"'))
        url = f"{backend.dsn_base}/{name}"
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('cli') / 'duban.db'}"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "DUBAN_ADMIN_TOKEN": ADMIN_TOKEN,
           "DUBAN_PORT": str(port), "IMPORT_SEED": "true", "RUN_WORKER": "false"}
    process = subprocess.Popen([sys.executable, "-m", "app.serve"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("the server did not start within 90 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def duban(server: str, *args: str, token: str = ADMIN_TOKEN, cwd: Path | None = None):
    env = {**os.environ, "DUBAN_URL": server, "DUBAN_TOKEN": token, "COLUMNS": "200"}
    return subprocess.run([*DUBAN, *args], env=env, cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=120)


def this_month() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


class TestOverdue:
    def test_exit_code_says_whether_anything_is_overdue(self, server):
        late = duban(server, "overdue", "--unit", "市生态环境局", "--jurisdiction", "赣州市",
                     "--as-of", "2026-01-05")
        assert late.returncode == 3, late.stderr
        assert "系统设计美丽赣州建设路径" in late.stdout
        early = duban(server, "overdue", "--unit", "市生态环境局", "--jurisdiction", "赣州市",
                      "--as-of", "2022-01-05")
        assert early.returncode == 0 and "nothing overdue" in early.stdout

    def test_a_wrong_call_exits_2_and_an_unreachable_server_exits_1(self, server):
        unknown = duban(server, "overdue", "--unit", "市不存在局", "--jurisdiction", "赣州市")
        assert unknown.returncode == 2 and "unknown_unit" in unknown.stderr
        refused = duban(server, "overdue", "--unit", "市生态环境局", token="not-a-token")
        assert refused.returncode == 2 and "401" in refused.stderr
        down = duban(f"http://127.0.0.1:{free_port()}", "overdue", "--unit", "市生态环境局")
        assert down.returncode == 1 and "cannot reach" in down.stderr


class TestMonthlyDispatch:
    def test_dispatch_saves_the_ledger_and_flags_missing_reports(self, server, tmp_path):
        xlsx, csv = tmp_path / "ledger.xlsx", tmp_path / "ledger.csv"
        done = duban(server, "dispatch", "--period", this_month(), "--jurisdiction", "赣州市",
                     "--xlsx", str(xlsx), "--csv", str(csv))
        assert done.returncode == 3, done.stderr  # nobody has reported yet
        assert "市生态环境局" in done.stdout
        sheet = openpyxl.load_workbook(xlsx, read_only=True).active
        header = next(sheet.iter_rows(values_only=True))
        assert header[:6] == ("序号", "文件", "任务编号", "任务", "牵头单位", "责任单位")
        assert csv.read_bytes().startswith(b"\xef\xbb\xbf") and "责任单位" in csv.read_text("utf-8-sig")

    def test_remind_every_unit_missing_its_report(self, server):
        done = duban(server, "remind", "--period", this_month(), "--missing")
        assert done.returncode == 0, done.stderr
        count = int(done.stdout.strip().splitlines()[-1].split()[0])
        assert count > 0
        listed = httpx.get(f"{server}/api/v1/reminders", params={"period": this_month(), "limit": 500},
                           headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()["items"]
        assert len(listed) >= count

    def test_remind_needs_either_missing_or_units(self, server):
        assert duban(server, "remind", "--period", this_month()).returncode == 2
