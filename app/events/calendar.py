"""A unit's deadlines and milestones as an iCalendar (RFC 5545) feed, for a phone's calendar.

Calendar apps subscribe to a URL and cannot send an Authorization header, so this one route
also takes the token as ?token=. The same visibility holds: a unit token reads its own unit's
feed only, and any other unit's is 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Query, Request
from icalendar import Calendar
from icalendar import Event as VEvent
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, current_principal, principal_for
from app.errors import NotFound
from app.models import Assignment, Document, Milestone, Role, Task
from app.tasks import obligations
from app.units import service as units

ROLE_NAMES = {Role.lead: "牵头单位", Role.responsible: "责任单位", Role.cooperating: "配合单位"}


async def feed_principal(
    request: Request,
    token: Annotated[str | None, Query(max_length=512, description=(
        "the bearer token, for calendar apps that cannot send an Authorization header"))] = None,
) -> Principal:
    if token is None or "authorization" in request.headers:
        return await current_principal(request)
    return await principal_for(request, token)


FeedPrincipal = Annotated[Principal, Depends(feed_principal)]


async def unit_feed(session: AsyncSession, principal: Principal, ref: str,
                    jurisdiction: str | None) -> bytes:
    """One all-day event per open obligation on its effective deadline, and one per dated
    milestone of the tasks the unit is on (and of their parents, for a unit on a clause)."""
    unit = await units.resolve(session, ref, jurisdiction)
    if not principal.sees_unit(unit.id):
        raise NotFound("A unit token reads its own unit's calendar only.")
    held = (select(Assignment.id, Assignment.task_id, Assignment.role, Assignment.status,
                   Assignment.effective_deadline, Assignment.extended_to, Assignment.version,
                   Assignment.updated_at)
            .where(Assignment.unit_id == unit.id, obligations.OPEN_ROW).subquery("held"))
    deadlines = (await session.execute(
        select(held, Task.number, Task.title, Task.deadline_text,
               Document.title.label("document_title"))
        .join(Task, Task.id == held.c.task_id).join(Document, Document.id == Task.document_id)
        .where(held.c.effective_deadline.is_not(None))
        .order_by(held.c.effective_deadline, held.c.id))).all()
    on = select(held.c.task_id)
    parents = select(Task.parent_id).where(Task.id.in_(on), Task.parent_id.is_not(None))
    milestones = (await session.execute(
        select(Milestone.id, Milestone.due, Milestone.text, Milestone.metric, Milestone.target,
               Task.number, Task.title, Task.updated_at, Document.title.label("document_title"))
        .join(Task, Task.id == Milestone.task_id).join(Document, Document.id == Task.document_id)
        .where(Milestone.due.is_not(None), or_(Milestone.task_id.in_(on),
                                               Milestone.task_id.in_(parents)))
        .order_by(Milestone.due, Milestone.id))).all()
    calendar = Calendar()
    calendar.add("prodid", "-//Duban//督办//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{unit.name} 督办")
    calendar.add("x-wr-timezone", "Asia/Shanghai")
    for d in deadlines:
        lines = [f"文件：{d.document_title or '—'}", f"角色：{ROLE_NAMES[Role(d.role)]}",
                 f"完成时限：{d.effective_deadline.isoformat()}"
                 + (f"（{d.deadline_text}）" if d.deadline_text else "")
                 + ("，已延期" if d.extended_to else ""), f"任务：{d.title}"]
        calendar.add_component(_all_day(f"assignment-{d.id}@duban", d.effective_deadline,
                                        f"[截止] {d.number} {d.title}", "\n".join(lines),
                                        d.updated_at, sequence=d.version))
    for m in milestones:
        lines = [f"文件：{m.document_title or '—'}", f"任务：{m.number} {m.title}",
                 f"目标：{m.metric} {m.target}".strip()]
        calendar.add_component(_all_day(f"milestone-{m.id}@duban", m.due,
                                        f"[节点] {m.number} {m.text}", "\n".join(lines),
                                        m.updated_at))
    return calendar.to_ical()


def _all_day(uid: str, day, summary: str, description: str, stamp, sequence: int = 0) -> VEvent:
    # DTSTAMP is when the information last changed, not now: an unchanged feed reads the same.
    event = VEvent()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("sequence", sequence)
    event.add("transp", "TRANSPARENT")
    event.add("categories", ["督办"])
    return event
