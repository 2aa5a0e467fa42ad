"""An obligation's facts within a dispatch scope, as SQL expressions over one assignment row and
its reports for the months counted: whether it is active, owes a report, reported on time, is
overdue, due soon, lagging, and its light. The aggregates and filters are built from these.

The light and the lag test are app/dispatch/lights.py's rules written for the database; the
tests hold the two to the same answers. Dates in the time zone and day counts differ between
SQLite and PostgreSQL, and are written once here.

Every day and instant of the scope enters as a named bind parameter (`params`), never as a
value in the SQL, so that a statement of one shape (`shape`) can be built once and run for any
period, as-of day and unit (app/dispatch/summary.py keeps them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Date, Integer, String, and_, bindparam, case, cast, false, func, or_
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import TypeEngine

from app.dispatch.lights import RANK, UNREPORTED_GRACE, Light
from app.dispatch.window import Month, Scope
from app.models import Assignment, AssignmentStatus, Report
from app.tasks import obligations

A = Assignment
OPEN_ROW = obligations.OPEN_ROW
COUNTS = obligations.OWED
CLOSED = A.status == AssignmentStatus.closed
INSTANT = A.created_at.type


class Facts:
    def __init__(self, scope: Scope, dialect: str) -> None:
        self.scope, self.dialect = scope, dialect
        self.reports = [(m, aliased(Report, name=f"report_{i}")) for i, m in enumerate(scope.counted)]
        self.params = _params(scope, dialect)
        current = scope.current
        self.reports_late = current is not None and scope.as_of > current.due_date
        self.as_of = self.p("as_of", Date())

    @property
    def shape(self) -> tuple:
        """What decides the statement's text: everything else is a bound value."""
        return self.dialect, len(self.reports), self.reports_late

    def p(self, name: str, type_: TypeEngine = INSTANT) -> BindParameter:
        # The value rides along for the callers that build and run a statement at once.
        return bindparam(name, self.params[name], type_=type_)

    def with_reports(self, query: Any) -> Any:
        """LEFT JOIN each counted month's report: one index lookup per obligation and month."""
        for i, (_, report) in enumerate(self.reports):
            query = query.outerjoin(report, and_(report.assignment_id == A.id,
                                                 report.period == self.p(f"m{i}_period", String())))
        return query

    def _month(self, month: Month) -> int:
        return self.scope.counted.index(month)

    # --- Dialect helpers ---------------------------------------------------------------------

    def local_date(self, instant: Any) -> ColumnElement:
        if self.dialect == "postgresql":
            return cast(func.timezone(self.p("tz", String()), instant), Date)
        # SQLite knows no zones: a fixed offset, exact for Asia/Shanghai (no daylight saving).
        return func.date(instant, self.p("tz_offset", String()))

    def days(self, later: Any, earlier: Any) -> ColumnElement:
        if self.dialect == "postgresql":
            return later - earlier  # date - date is a whole number of days
        return cast(func.julianday(later) - func.julianday(earlier), Integer)

    # --- When an obligation counts -----------------------------------------------------------

    def active(self) -> ColumnElement[bool]:
        """Active at some time in the window: created by its end, open or closed within it."""
        return and_(COUNTS, A.created_at < self.p("window_after"),
                    or_(OPEN_ROW, A.closed_at >= self.p("window_start")))

    def expected(self, month: Month) -> ColumnElement[bool]:
        """Owes `month`'s report: active in it and still open at its end (or at as_of). Like
        every fact below, it is stated of a row already within `active()`."""
        i = self._month(month)
        return and_(A.created_at < self.p(f"m{i}_after"),
                    or_(OPEN_ROW, A.closed_at >= self.p(f"m{i}_after_cut")))

    def missing(self, month: Month, report: Any) -> ColumnElement[bool]:
        return and_(self.expected(month), report.id.is_(None))

    def on_time(self, month: Month, report: Any) -> ColumnElement[bool]:
        return and_(self.expected(month),
                    report.created_at < self.p(f"m{self._month(month)}_after_due"))

    def any_missing(self) -> ColumnElement[bool]:
        return or_(false(), *(self.missing(m, r) for m, r in self.reports))

    # --- The light and what makes it ----------------------------------------------------------

    def overdue(self) -> ColumnElement[bool]:
        return obligations.overdue_clause(self.as_of)

    def due_within(self, until: str) -> ColumnElement[bool]:
        """Due from as_of to the day named `until` ("soon_until", "yellow_until")."""
        return and_(OPEN_ROW, A.effective_deadline >= self.as_of,
                    A.effective_deadline <= self.p(until, Date()))

    def late_report(self) -> ColumnElement[bool]:
        if not self.reports_late:
            return false()
        return self.missing(self.scope.counted[-1], self.reports[-1][1])

    def lagging(self) -> ColumnElement[bool]:
        """lights.is_lagging, in whole days and integer arithmetic."""
        starts = func.coalesce(A.starts_on, self.local_date(A.created_at))
        total = self.days(A.effective_deadline, starts)
        done = case((A.effective_deadline <= self.as_of, total),
                    else_=self.days(self.as_of, starts))
        margin = self.p("lag_margin", Integer())
        progress = func.coalesce(A.progress, 0)
        behind = case(
            (total <= 0, and_(A.effective_deadline <= self.as_of, progress + margin < 100)),
            else_=and_(or_(A.progress.is_not(None), UNREPORTED_GRACE * done > total),
                       100 * done > (progress + margin) * total))
        return and_(OPEN_ROW, A.effective_deadline.is_not(None), behind)

    def light(self) -> ColumnElement[int]:
        """lights.light as its rank: 2 red, 1 yellow, 0 green."""
        yellow = or_(self.due_within("yellow_until"), self.late_report(), self.lagging())
        return case((self.overdue(), RANK[Light.red]),
                    (and_(OPEN_ROW, yellow), RANK[Light.yellow]), else_=RANK[Light.green])

    # --- Closing ------------------------------------------------------------------------------

    def closed_in(self) -> ColumnElement[bool]:
        return and_(CLOSED, A.closed_at >= self.p("window_start"),
                    A.closed_at < self.p("window_after"))

    def closed_late(self) -> ColumnElement[bool]:
        return and_(self.closed_in(), self.local_date(A.closed_at) > A.effective_deadline)

    def closed_extended(self) -> ColumnElement[bool]:
        return and_(self.closed_in(), A.extended_to.is_not(None))

    def progress(self) -> ColumnElement[int]:
        """The latest reported progress; a closed obligation is done, one never reported is at 0."""
        return case((CLOSED, 100), else_=func.coalesce(A.progress, 0))


def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _params(s: Scope, dialect: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "as_of": s.as_of, "window_start": s.instant(s.window.start),
        "window_after": s.after(s.window.end), "lag_margin": s.lag_margin,
        "soon_until": s.as_of + timedelta(days=s.due_soon_days),
        "yellow_until": s.as_of + timedelta(days=s.yellow_days)}
    if dialect == "postgresql":
        values["tz"] = s.tz.key
    else:
        offset = s.tz.utcoffset(datetime.combine(s.as_of, datetime.min.time()))
        values["tz_offset"] = f"{int(offset.total_seconds() // 60):+d} minutes"
    for i, month in enumerate(s.counted):
        values |= {f"m{i}_period": month.period, f"m{i}_after": s.after(month.last),
                   f"m{i}_after_cut": s.after(s.cut(month)),
                   f"m{i}_after_due": s.after(month.due_date)}
    return values
