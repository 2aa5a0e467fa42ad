import json
from pathlib import Path

import pytest

from app.extraction.indicators import find_indicator_tables
from app.extraction.models import Indicator
from app.extraction.text import split_lines

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seed" / "000_e12deeca282bc4b6.txt"
GOLD = Path(__file__).parent / "gold" / "seeds.json"


def run(text: str):
    return find_indicator_tables(split_lines(text), text)


def as_gold(ind: Indicator) -> dict:
    # the gold spells baseline and targets as flat keys; compare in its shape
    return {
        "name": ind.name, "unit": ind.unit, "standard": ind.standard,
        "baseline_2021": ind.baseline,
        "target_2025": ind.targets.get("2025"), "target_2030": ind.targets.get("2030"),
    }


def sub_view(rows: list[dict]) -> list[dict]:
    keys = ("name", "unit", "standard", "baseline_2021", "target_2025", "target_2030")
    return [{k: r.get(k) for k in keys} for r in rows]


FIELDS = {
    "number": lambda g, m: str(g["number"]) == m.number,
    "name": lambda g, m: g["name"] == m.name,
    "unit": lambda g, m: g["unit"] == m.unit,
    "standard": lambda g, m: g["standard"] == m.standard,
    "baseline": lambda g, m: g["baseline_2021"] == m.baseline and m.baseline_year == 2021,
    "targets": lambda g, m: m.targets == {"2025": g["target_2025"], "2030": g["target_2030"]},
    "attribute": lambda g, m: g["attribute"] == m.attribute,
    "domain": lambda g, m: g["domain"] == m.domain,
    "category": lambda g, m: g["task"] == m.category,
    "sub_indicators": lambda g, m: sub_view(g.get("sub_indicators", []))
    == [as_gold(s) for s in m.sub_indicators],
    "standard_by_region": lambda g, m: g.get("standard_by_region", []) == m.standard_by_region,
}


@pytest.fixture(scope="module")
def seed():
    if not SEED.exists() or not GOLD.exists():
        pytest.skip("seed 000 or its gold is not available")
    text = SEED.read_text(encoding="utf-8")
    gold = json.loads(GOLD.read_text(encoding="utf-8"))["documents"][0]["indicators"]
    return text, gold, run(text)


class TestSeedGanzhouTable:
    def test_all_36_rows_match_the_gold_field_by_field(self, seed):
        _, gold, (indicators, warnings, _) = seed
        assert len(indicators) == len(gold) == 36
        hits = {f: sum(check(g, m) for g, m in zip(gold, indicators, strict=True)) for f, check in FIELDS.items()}
        misses = {
            f: [g["number"] for g, m in zip(gold, indicators, strict=True) if not check(g, m)]
            for f, check in FIELDS.items()
        }
        report = ", ".join(f"{f} {n}/36" for f, n in hits.items())
        assert all(n == 36 for n in hits.values()), f"{report}; misses {misses}"
        assert warnings == []

    def test_consumed_lines_run_from_header_to_last_attribute(self, seed):
        text, _, (_, _, consumed) = seed
        lines = split_lines(text)
        assert lines[min(consumed) - 1].raw == "领域"
        assert lines[max(consumed) - 1].raw == "参考性"  # row 36
        assert consumed == set(range(min(consumed), max(consumed) + 1))
        assert not any("重点任务" in lines[n - 1].raw for n in consumed)

    def test_sources_point_at_each_row_in_the_document(self, seed):
        text, _, (indicators, _, _) = seed
        for ind in indicators:
            src = ind.source
            assert src is not None and src.text == text[src.start:src.end]
            assert src.text.startswith(ind.number) and src.text.endswith(ind.attribute)
        row25 = indicators[24]
        assert row25.baseline == "33(2020年)" and "(2020年)" in row25.source.text

    def test_full_header_and_page_number_repeated_mid_table_are_skipped(self, seed):
        text, _, (expected, _, _) = seed
        lines = text.split("\n")
        start = lines.index("领域")
        header = lines[start:lines.index("2030", start) + 1]
        at = lines.index("农村生活垃圾无害化处理村占比") - 2  # row 27's number
        patched = "\n".join([*lines[:at], "- 12 -", "", *header, "", *lines[at:]])
        indicators, warnings, _ = run(patched)
        assert warnings == []
        strip = {"source"}
        assert [i.model_dump(exclude=strip) for i in indicators] == [i.model_dump(exclude=strip) for i in expected]

    def test_repeated_domain_lines_at_page_break_create_no_extra_rows(self, seed):
        _, _, (indicators, _, _) = seed
        assert [i.number for i in indicators] == [str(n) for n in range(1, 37)]
        assert {i.category for i in indicators[22:28]} == {"(七)人居环境改善"}


FLAT_OTHER_ORDER = """表1  “十四五”生态环境保护主要指标

序号

指标名称

指标属性

单位

基期值(2020年)

2025年目标

一、环境质量

1

地级及以上城市空气质量优良天数比率

约束性

%

88.5

92

2

地表水质量达到或好于Ⅲ类水体比例

约束性

%

85

90

二、生态保护

3

森林覆盖率

预期性

%

76.2

76.5

4

单位地区生产总值二氧化碳

排放降低

约束性

%

-

(18)

五、保障措施

各地要加强组织领导，确保各项指标按期完成。
"""

ROWS_BY_SPACES = """前言文字。

表2  经济社会发展主要指标

类别      序号  指标                    单位    2020年   2025年   属性
经济发展  1     地区生产总值年均增长    %       3.6      6.5左右  预期性
          2     常住人口城镇化率        %       60.3     65       预期性
创新驱动  3     研发经费投入增长        %       -        7        预期性

第二章  主要任务
"""

ROWS_BY_TABS = (
    "序号\t指标名称\t单位\t2020年\t2025年\t2030年\t指标属性\n"
    "1\t单位GDP能耗降低\t%\t\t13.5\t\t约束性\n"
    "2\t非化石能源占比\t%\t18\t22\t25\t约束性\n"
    "\n说明：以上指标按年度分解落实。\n"
)

ROW_WITHOUT_ATTRIBUTE = "\n".join([
    "序号", "指标名称", "单位", "现状值", "目标值", "指标属性", "2025",
    "1", "甲指标", "%", "50", "60", "约束性",
    "2", "乙指标", "%", "40", "45",
    "3", "丙指标", "%", "70", "75", "预期性",
])


COMPOSITE_ROWS = "\n\n".join([
    "序号", "指标名称", "单位", "指标值", "现状值", "2020年)", "目标值", "指标", "属性", "2025",
    "1", "城市空气质量", "优良天数比率", "细颗粒物浓度", "%", "微克/立方米",
    "≥85", "≤35", "90.1", "28", "92", "25", "约束性",
    "2", "人均公园绿地面积", "平方米/人", "中心城区≥12", "县城≥10", "11.5", "13", "预期性",
    "3", "污水处理率", "城市", "县城", "%", "≥95", "≥85", "96", "97", "约束性",
])


class TestCompositeRowsInAnotherCitysTable:
    def test_sub_indicators_with_a_unit_each(self):
        indicators, warnings, _ = run(COMPOSITE_ROWS)
        assert warnings == []
        air = indicators[0]
        assert (air.unit, air.standard, air.baseline, air.targets) == (None, None, None, {"2025": None})
        assert [(s.name, s.unit, s.standard, s.baseline, s.targets) for s in air.sub_indicators] == [
            ("优良天数比率", "%", "≥85", "90.1", {"2025": "92"}),
            ("细颗粒物浓度", "微克/立方米", "≤35", "28", {"2025": "25"}),
        ]
        assert air.baseline_year == 2020 and air.attribute == "约束性"

    def test_region_and_standard_printed_in_one_cell(self):
        park = run(COMPOSITE_ROWS)[0][1]
        assert park.standard_by_region == [
            {"region": "中心城区", "standard": "≥12"}, {"region": "县城", "standard": "≥10"},
        ]
        assert (park.unit, park.standard, park.baseline, park.targets) == ("平方米/人", None, "11.5", {"2025": "13"})

    def test_region_labels_on_their_own_lines(self):
        sewage = run(COMPOSITE_ROWS)[0][2]
        assert sewage.standard_by_region == [
            {"region": "城市", "standard": "≥95"}, {"region": "县城", "standard": "≥85"},
        ]
        assert (sewage.unit, sewage.baseline, sewage.targets, sewage.sub_indicators) == ("%", "96", {"2025": "97"}, [])


class TestFlattenedTableWithAttributeBeforeValues:
    def test_rows_follow_the_header_order(self):
        indicators, warnings, _ = run(FLAT_OTHER_ORDER)
        assert warnings == []
        assert [i.number for i in indicators] == ["1", "2", "3", "4"]
        first = indicators[0]
        assert (first.name, first.attribute, first.unit, first.baseline) == (
            "地级及以上城市空气质量优良天数比率", "约束性", "%", "88.5",
        )
        assert first.baseline_year == 2020 and first.targets == {"2025": "92"}
        assert indicators[2].attribute == "预期性" and indicators[2].targets == {"2025": "76.5"}

    def test_category_lines_carry_over(self):
        indicators, _, _ = run(FLAT_OTHER_ORDER)
        assert [i.category for i in indicators] == ["一、环境质量", "一、环境质量", "二、生态保护", "二、生态保护"]
        assert {i.domain for i in indicators} == {None}

    def test_name_wrapped_over_two_lines_is_joined(self):
        last = run(FLAT_OTHER_ORDER)[0][3]
        assert last.name == "单位地区生产总值二氧化碳排放降低"
        assert (last.unit, last.baseline, last.targets) == ("%", "-", {"2025": "(18)"})

    def test_table_ends_before_the_next_section(self):
        text = FLAT_OTHER_ORDER
        _, _, consumed = run(text)
        lines = split_lines(text)
        assert lines[min(consumed) - 1].raw == "序号"
        assert lines[max(consumed) - 1].raw == "(18)"


class TestRowPerLineTables:
    def test_cells_split_on_runs_of_spaces(self):
        indicators, warnings, consumed = run(ROWS_BY_SPACES)
        assert warnings == []
        assert [(i.number, i.name, i.unit, i.baseline, i.targets, i.attribute) for i in indicators] == [
            ("1", "地区生产总值年均增长", "%", "3.6", {"2025": "6.5左右"}, "预期性"),
            ("2", "常住人口城镇化率", "%", "60.3", {"2025": "65"}, "预期性"),
            ("3", "研发经费投入增长", "%", "-", {"2025": "7"}, "预期性"),
        ]
        assert all(i.baseline_year == 2020 for i in indicators)
        assert [i.category for i in indicators] == ["经济发展", "经济发展", "创新驱动"]
        assert consumed == {5, 6, 7, 8}

    def test_cells_split_on_tabs_keep_blank_cells_in_place(self):
        indicators, warnings, consumed = run(ROWS_BY_TABS)
        assert warnings == []
        first, second = indicators
        assert (first.baseline, first.targets) == (None, {"2025": "13.5", "2030": None})
        assert (second.baseline, second.targets) == ("18", {"2025": "22", "2030": "25"})
        assert second.source.text == "2\t非化石能源占比\t%\t18\t22\t25\t约束性"
        assert consumed == {1, 2, 3}


class TestUnplaceableRows:
    def test_row_without_attribute_is_warned_and_the_next_row_survives(self):
        indicators, warnings, _ = run(ROW_WITHOUT_ATTRIBUTE)
        assert [i.name for i in indicators] == ["甲指标", "丙指标"]
        assert indicators[0].baseline_year is None and indicators[0].targets == {"2025": "60"}
        (warning,) = warnings
        assert warning.code == "indicator_row_unparsed" and "row 2" in warning.message
        assert warning.source.text.startswith("2\n乙指标") and warning.source.text.endswith("45")


class TestTextWithoutIndicatorTable:
    def test_prose_and_numbered_lists_give_nothing(self):
        text = "一、总体要求\n\n1\n加强组织领导。\n\n序号\n重点任务\n责任单位\n完成时限\n"
        assert run(text) == ([], [], set())

    def test_empty_document(self):
        assert run("") == ([], [], set())
