"""The light rules as pure functions, at their boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from app.dispatch.lights import (
    Light,
    closed_late,
    expected_progress,
    is_due_within,
    is_lagging,
    is_overdue,
    light,
    report_late,
    worst,
)

D = date.fromisoformat
START, DEADLINE = D("2025-01-01"), D("2025-12-31")  # 364 days: day 182 is exactly half
HALF = D("2025-07-02")
SHANGHAI = ZoneInfo("Asia/Shanghai")


class TestOverdueAndDueSoon:
    def test_the_deadline_itself_is_not_overdue(self):
        assert not is_overdue(True, D("2025-03-31"), D("2025-03-31"))
        assert is_overdue(True, D("2025-03-30"), D("2025-03-31"))

    def test_closed_or_undated_is_never_overdue(self):
        assert not is_overdue(False, D("2025-01-01"), D("2025-03-31"))
        assert not is_overdue(True, None, D("2025-03-31"))

    def test_due_within_counts_both_ends(self):
        as_of = D("2025-03-01")
        assert is_due_within(True, as_of, as_of, 14)
        assert is_due_within(True, D("2025-03-15"), as_of, 14)
        assert not is_due_within(True, D("2025-03-16"), as_of, 14)
        assert not is_due_within(True, D("2025-02-28"), as_of, 14)
        assert not is_due_within(False, D("2025-03-05"), as_of, 14)


class TestExpectedProgress:
    def test_is_the_share_of_time_elapsed_clamped(self):
        assert expected_progress(HALF, START, DEADLINE) == 50.0
        assert expected_progress(D("2024-12-01"), START, DEADLINE) == 0.0
        assert expected_progress(D("2026-03-01"), START, DEADLINE) == 100.0

    def test_a_deadline_on_or_before_the_start_is_all_or_nothing(self):
        assert expected_progress(D("2025-01-01"), START, START) == 100.0
        assert expected_progress(D("2024-12-31"), START, START) == 0.0

    def test_without_a_deadline_there_is_none(self):
        assert expected_progress(HALF, START, None) is None


class TestLagging:
    def test_exactly_at_the_margin_is_not_lagging(self):
        assert not is_lagging(30, HALF, START, DEADLINE, margin=20)
        assert is_lagging(29, HALF, START, DEADLINE, margin=20)

    def test_a_unit_that_never_reported_is_behind_only_after_a_quarter_of_its_time(self):
        quarter = D("2025-04-02")  # day 91 of 364: exactly a quarter
        assert not is_lagging(None, quarter, START, DEADLINE, margin=20)
        assert is_lagging(None, D("2025-04-03"), START, DEADLINE, margin=20)
        assert not is_lagging(None, D("2025-04-03"), START, DEADLINE, margin=30)

    def test_past_the_deadline_anything_short_of_the_margin_from_done_lags(self):
        after = D("2026-01-10")
        assert is_lagging(79, after, START, DEADLINE, margin=20)
        assert not is_lagging(80, after, START, DEADLINE, margin=20)

    def test_no_deadline_never_lags(self):
        assert not is_lagging(0, HALF, START, None, margin=20)


class TestReportsAndClosing:
    def test_a_missing_report_is_late_only_after_the_due_day(self):
        due = D("2025-03-25")
        assert not report_late(True, due, due)
        assert report_late(True, D("2025-03-26"), due)
        assert not report_late(False, D("2025-03-26"), due)

    def test_closing_late_is_judged_on_the_day_in_shanghai(self):
        deadline = D("2025-02-28")
        assert not closed_late(datetime(2025, 2, 28, 15, 59, tzinfo=UTC), deadline, SHANGHAI)
        assert closed_late(datetime(2025, 2, 28, 16, 0, tzinfo=UTC), deadline, SHANGHAI)
        assert not closed_late(None, deadline, SHANGHAI)


class TestLight:
    def test_each_colour(self):
        as_of = D("2025-03-31")

        def of(deadline: str, **facts) -> Light:
            return light(is_open=facts.pop("is_open", True), deadline=D(deadline), as_of=as_of,
                         yellow_days=14, **facts)
        assert of("2025-03-30") is Light.red
        assert of("2025-03-30", late_report=True, lagging=True) is Light.red
        assert of("2025-04-14") is Light.yellow
        assert of("2025-04-15") is Light.green
        assert of("2025-06-30", late_report=True) is Light.yellow
        assert of("2025-06-30", lagging=True) is Light.yellow
        assert of("2025-01-01", is_open=False, late_report=True) is Light.green

    def test_a_unit_shows_its_worst(self):
        assert worst([]) is Light.green
        assert worst([Light.green, Light.yellow]) is Light.yellow
        assert worst([Light.yellow, Light.red, Light.green]) is Light.red
