"""An obligation's facts within a dispatch scope, as SQL expressions over one assignment row and
its reports for the months counted: whether it is active, owes a report, reported on time, is
overdue, due soon, lagging, and its light. The aggregates and filters are built from these.

The light and the lag test are app/dispatch/lights.py's rules written for the database; the
tests hold the two to the same answers. Dates in the time zone and day counts differ between
SQLite and PostgreSQL, and are written once here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Date, Integer, and_, case, cast, false, func, literal, or_
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from app.dispatch.lights import RANK, UNREPORTED_GRACE, Light
from app.dispatch.window import Month, Scope
from app.models import Assignment, AssignmentStatus, Report
from app.tasks import obligations

A = Assignment
OPEN_ROW = obligations.OPEN_ROW
# A group is a label and a removed obligation is owed by nobody: neither ever counts.
COUNTS = A.status.not_in([AssignmentStatus.group, AssignmentStatus.removed])
CLOSED = A.status == AssignmentStatus.closed


class Facts:
    def __init__(self, scope: Scope, dialect: str) -> None:
        self.scope, self.dialect = scope, dialect
        self.as_of = literal(scope.as_of, Date)
        self.reports = [(m, aliased(Report, name=f"report_{m.period.replace('-', '_')}"))
                        for m in scope.counted]

    def with_reports(self, query: Any) -> Any:
        """LEFT JOIN each counted month's report: one index lookup per obligation and month."""
        for month, report in self.reports:
            query = query.outerjoin(report, and_(report.assignment_id == A.id,
                                                 report.period == month.period))
        return query

    # --- Dialect helpers ---------------------------------------------------------------------

    def local_date(self, instant: Any) -> ColumnElement:
        if self.dialect == "postgresql":
            return cast(func.timezone(self.scope.tz.key, instant), Date)
        # SQLite knows no zones: a fixed offset, exact for Asia/Shanghai (no daylight saving).
        offset = self.scope.tz.utcoffset(datetime.combine(self.scope.as_of, datetime.min.time()))
        return func.date(instant, f"{int(offset.total_seconds() // 60):+d} minutes")

    def days(self, later: Any, earlier: Any) -> ColumnElement:
        if self.dialect == "postgresql":
            return later - earlier  # date - date is a whole number of days
        return cast(func.julianday(later) - func.julianday(earlier), Integer)

    # --- When an obligation counts -----------------------------------------------------------

    def active(self) -> ColumnElement[bool]:
        """Active at some time in the window: created by its end, open or closed within it."""
        s = self.scope
        return and_(COUNTS, A.created_at < s.after(s.window.end),
                    or_(OPEN_ROW, A.closed_at >= s.instant(s.window.start)))

    def expected(self, month: Month) -> ColumnElement[bool]:
        """Owes `month`'s report: active in it and still open at its end (or at as_of). Like
        every fact below, it is stated of a row already within `active()`."""
        s = self.scope
        return and_(A.created_at < s.after(month.last),
                    or_(OPEN_ROW, A.closed_at >= s.after(s.cut(month))))

    def missing(self, month: Month, report: Any) -> ColumnElement[bool]:
        return and_(self.expected(month), report.id.is_(None))

    def on_time(self, month: Month, report: Any) -> ColumnElement[bool]:
        return and_(self.expected(month), report.created_at < self.scope.after(month.due_date))

    def any_missing(self) -> ColumnElement[bool]:
        return or_(false(), *(self.missing(m, r) for m, r in self.reports))

    # --- The light and what makes it ----------------------------------------------------------

    def overdue(self) -> ColumnElement[bool]:
        return obligations.overdue_clause(self.scope.as_of)

    def due_within(self, days: int) -> ColumnElement[bool]:
        s = self.scope
        return and_(OPEN_ROW, A.effective_deadline >= s.as_of,
                    A.effective_deadline <= s.as_of + timedelta(days=days))

    def late_report(self) -> ColumnElement[bool]:
        month = self.scope.current
        if month is None or self.scope.as_of <= month.due_date:
            return false()
        return self.missing(month, self.reports[-1][1])

    def lagging(self) -> ColumnElement[bool]:
        """lights.is_lagging, in whole days and integer arithmetic."""
        starts = func.coalesce(A.starts_on, self.local_date(A.created_at))
        total = self.days(A.effective_deadline, starts)
        done = case((A.effective_deadline <= self.as_of, total),
                    else_=self.days(self.as_of, starts))
        margin = self.scope.lag_margin
        progress = func.coalesce(A.progress, 0)
        behind = case(
            (total <= 0, and_(A.effective_deadline <= self.as_of, progress + margin < 100)),
            else_=and_(or_(A.progress.is_not(None), UNREPORTED_GRACE * done > total),
                       100 * done > (progress + margin) * total))
        return and_(OPEN_ROW, A.effective_deadline.is_not(None), behind)

    def light(self) -> ColumnElement[int]:
        """lights.light as its rank: 2 red, 1 yellow, 0 green."""
        yellow = or_(self.due_within(self.scope.yellow_days), self.late_report(), self.lagging())
        return case((self.overdue(), RANK[Light.red]),
                    (and_(OPEN_ROW, yellow), RANK[Light.yellow]), else_=RANK[Light.green])

    # --- Closing ------------------------------------------------------------------------------

    def closed_in(self) -> ColumnElement[bool]:
        s = self.scope
        return and_(CLOSED, A.closed_at >= s.instant(s.window.start),
                    A.closed_at < s.after(s.window.end))

    def closed_late(self) -> ColumnElement[bool]:
        return and_(self.closed_in(), self.local_date(A.closed_at) > A.effective_deadline)

    def closed_extended(self) -> ColumnElement[bool]:
        return and_(self.closed_in(), A.extended_to.is_not(None))

    def progress(self) -> ColumnElement[int]:
        """The latest reported progress; a closed obligation is done, one never reported is at 0."""
        return case((CLOSED, 100), else_=func.coalesce(A.progress, 0))


def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))
