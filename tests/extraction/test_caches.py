"""The engine caches pure lookups by name or phrase; a cache keyed too loosely would hand one
document's answer to another. Each pair below asks the same text under different contexts."""

from datetime import date

from app.extraction.dates import parse_deadline
from app.extraction.models import Jurisdiction, Period
from app.extraction.units import canonical, restore_prefix

CITY = Jurisdiction(name="赣州市", level="city", prefix="市")
COUNTY = Jurisdiction(name="信丰县", level="county", prefix="县", parent="赣州市")
UNNAMED = Jurisdiction(name=None, level="district", prefix="区")


def test_canonical_names_follow_the_jurisdiction_asked():
    assert canonical("市林业局", CITY) == "赣州市林业局"
    assert canonical("市林业局", COUNTY) == "赣州市林业局"  # the county's parent city
    assert canonical("县林业局", COUNTY) == "信丰县林业局"
    assert canonical("县林业局", CITY) == "县林业局"
    assert canonical("县林业局", UNNAMED) == "县林业局"
    assert canonical("县林业局", None) == "县林业局"
    assert canonical("各乡镇", COUNTY) == "信丰县各乡镇"
    assert canonical("各乡镇", None) == "各乡镇"


def test_restored_prefix_follows_the_jurisdiction_asked():
    assert restore_prefix("交通运输局", COUNTY) == "县交通运输局"
    assert restore_prefix("交通运输局", CITY) == "市交通运输局"
    assert restore_prefix("交通运输局", None) == "交通运输局"


def test_deadline_without_a_year_takes_the_period_asked():
    assert parse_deadline("6月底前", Period(start=2024, end=2026)) == (date(2024, 6, 30), False)
    assert parse_deadline("6月底前", Period(start=2025, end=2027)) == (date(2025, 6, 30), False)
    assert parse_deadline("每年", Period(start=2024, end=2026)) == (date(2026, 12, 31), False)
    assert parse_deadline("每年", Period(start=2025, end=2027)) == (date(2027, 12, 31), False)
    assert parse_deadline("6月底前") == (None, False)
    assert parse_deadline("每年") == (None, True)
