"""月调度、季小结、年考评: the dispatch summary per unit, its obligations with their lights, the
ranking for 通报, a task's rolled-up progress, and the reporting periods' due days. Each
handler makes one service call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request

from app.auth.principal import Admin, CurrentPrincipal
from app.db import SessionDep
from app.dispatch import listing, periods, progress, ranking, summary
from app.dispatch.lights import Light
from app.dispatch.schemas import (
    DispatchSummary,
    DueDay,
    ObligationDispatch,
    RankedUnit,
    TaskProgress,
)
from app.http import AsOf, today
from app.pagination import Cursor, Limit, Page
from app.problems import responses
from app.routing import api_router
from app.workflow.schemas import PeriodOut

router = api_router(tags=["dispatch"])

Period = Annotated[str, Path(max_length=16, description="YYYY-MM (a month), YYYY-Qn (a quarter) "
                                                        "or YYYY (a year)")]
UnitRef = Annotated[str | None, Query(
    max_length=128, description="unit id, or name/alias as the documents write it; a unit token "
    "sees its own unit only")]
JurisdictionRef = Annotated[str | None, Query(
    max_length=64, description="jurisdiction name or id: resolves `unit`; without a unit, keeps "
    "that jurisdiction's units")]
DispatchAsOf = Annotated[AsOf, Query(description="the day the lights are judged on (YYYY-MM-DD); "
                                                 "default today, or the period's last day if "
                                                 "it has ended")]


@router.get("/dispatch/{period}", response_model=DispatchSummary, responses=responses(404))
async def dispatch_summary(period: Period, request: Request, session: SessionDep,
                           principal: CurrentPrincipal, unit: UnitRef = None,
                           jurisdiction: JurisdictionRef = None, as_of: DispatchAsOf = None,
                           limit: Limit = 100, cursor: Cursor = None) -> DispatchSummary:
    """Per unit: obligations, reports filed and missing, overdue, due soon, closed, lights and
    ranking statistics for a month, a quarter or a year."""
    return await summary.summarize(session, principal, period, unit=unit,
                                   jurisdiction=jurisdiction, as_of=as_of, limit=limit,
                                   cursor=cursor, today=today(request),
                                   settings=request.app.state.settings)


@router.get("/dispatch/{period}/assignments", response_model=Page[ObligationDispatch],
            responses=responses(404))
async def dispatch_assignments(
    period: Period, request: Request, session: SessionDep, principal: CurrentPrincipal,
    unit: UnitRef = None, jurisdiction: JurisdictionRef = None,
    light: Annotated[Light | None, Query(description="red, yellow or green")] = None,
    missing: Annotated[bool | None, Query(description="true: only obligations whose report for "
                                                      "a month counted is missing")] = None,
    as_of: DispatchAsOf = None, limit: Limit = 100, cursor: Cursor = None,
) -> Page[ObligationDispatch]:
    """Every obligation active in the period, with its report, whether one is missing, and its light."""
    return await listing.listing(session, principal, period, unit=unit, jurisdiction=jurisdiction,
                                 light=light, missing=missing, as_of=as_of, limit=limit,
                                 cursor=cursor, today=today(request),
                                 settings=request.app.state.settings)


@router.get("/dispatch/{period}/ranking", response_model=Page[RankedUnit], responses=responses(404))
async def dispatch_ranking(
    period: Period, request: Request, session: SessionDep, principal: CurrentPrincipal,
    jurisdiction: JurisdictionRef = None,
    sort: Annotated[ranking.Sort, Query(description="rates rank high first, overdue and "
                                                    "reminders low first")] = "completion_rate",
    as_of: DispatchAsOf = None, limit: Limit = 100, cursor: Cursor = None,
) -> Page[RankedUnit]:
    """通报: units ranked by completion rate, on-time report rate, overdue count or reminders."""
    return await ranking.rank(session, principal, period, jurisdiction=jurisdiction, sort=sort,
                              as_of=as_of, limit=limit, cursor=cursor, today=today(request),
                              settings=request.app.state.settings)


@router.get("/dispatch/{period}/tasks/{task_id}/progress", response_model=TaskProgress,
            responses=responses(404))
async def task_progress(period: Period, task_id: int, request: Request, session: SessionDep,
                        principal: CurrentPrincipal) -> TaskProgress:
    """A task's progress at the period's end, rolled up from its units' reports and its clauses."""
    return await progress.of_task(session, principal, period, task_id,
                                  request.app.state.settings.tz)


@router.put("/periods/{period}", response_model=PeriodOut, responses=responses(409))
async def set_period(period: str, body: DueDay, session: SessionDep, principal: Admin) -> PeriodOut:
    """Set a month's report due day (1-28); a closed period's cannot change."""
    return await periods.set_due_day(session, principal, period, body.due_day)


@router.get("/periods", response_model=Page[PeriodOut])
async def list_periods(session: SessionDep, principal: CurrentPrincipal, limit: Limit = 100,
                       cursor: Cursor = None) -> Page[PeriodOut]:
    """The reporting periods known, newest first, each open or closed with its due day."""
    return await periods.listing(session, limit=limit, cursor=cursor)
