"""The seed documents and their gold extraction, shared by the gold and accuracy tests."""

import functools
import json
from pathlib import Path

import pytest

from app.extraction import extract
from app.extraction.models import Extraction

ROOT = Path(__file__).resolve().parents[2]
SEED_DIR = ROOT / "seed"
GOLD = Path(__file__).parent / "gold" / "seeds.json"
DOCS = {d["file"]: d for d in json.loads(GOLD.read_text(encoding="utf-8"))["documents"]}

F000, F001, F002, F003, F004 = sorted(DOCS)
SCENARIOS = {
    F000: "000-city-plan-with-projects-and-indicators",
    F001: "001-city-plan-with-labelled-lead-units",
    F002: "002-county-plan-with-repaired-unit-names",
    F003: "003-district-plan-with-clauses-and-lead-rule",
    F004: "004-province-opinion-with-task-table",
}
SEEDS = [pytest.param(f, id=SCENARIOS[f]) for f in sorted(DOCS)]


@functools.cache
def extraction(file: str) -> Extraction:
    return extract((SEED_DIR / file).read_bytes(), file)
