"""Tasks from the rows of a task table (重点任务清单, 重点工程附表).

A blank 完成时限 cell is a vertically merged cell flattened onto the row above, so the last
printed deadline carries down. A blank 责任单位 cell is not: a lost cell carried down would
hand the row to the wrong departments, so it stays empty and is reported.
"""

from __future__ import annotations

from app.extraction.annotations import find_rules, parse_field
from app.extraction.context import Context, fill_role_lists, settle_roles, to_units
from app.extraction.dates import parse_deadline, parse_period
from app.extraction.milestones import find_milestones
from app.extraction.models import Leader, Period, Task
from app.extraction.tables import Table
from app.extraction.units import split_list

_ROLES = ("lead", "responsible", "cooperating")


def table_tasks(table: Table, ctx: Context) -> list[Task]:
    jur = ctx.meta.jurisdiction
    tasks: list[Task] = []
    carried: tuple[str, str] | None = None  # (deadline text, number of the row that printed it)
    has_unit_column = any(k in _ROLES for k in table.columns)
    for row in table.rows:
        cells = row.cells
        title_cell = cells.get("title")
        content = cells.get("content")
        title = title_cell.raw.strip() if title_cell else _first_sentence(content.raw if content else "")
        text = (content or title_cell)
        task = Task.new(number=row.number, kind="project" if table.is_project else "task", title=title,
                        text=text.raw.strip() if text else title,
                        section_path=[row.category] if row.category else [],
                        source=row.span.source(ctx.document))
        for role in _ROLES:
            if role in cells:
                ctx.add_rules(find_rules(cells[role], jur))
                ann = parse_field(cells[role], role, jur)
                task.units += to_units(settle_roles(ann, task.number, ctx), ctx)
                task.units_text = "；".join(filter(None, [task.units_text, cells[role].raw.strip()]))
                for span in ann.unrecognised:
                    ctx.warn("unit_unrecognized", f"“{span.raw.strip()}” in row {row.number}'s "
                             "unit cell does not read as a unit name; it was left out.", span)
        if "person" in cells:
            label = table.labels[table.columns.index("person")]
            task.leaders = [Leader(label=label, name=piece.raw.strip(), source=piece.source(ctx.document))
                            for piece in split_list(cells["person"])]
        deadline_cell = cells.get("deadline")
        if deadline_cell is not None:
            carried = (deadline_cell.raw.strip().replace("\n", ""), row.number)
            _set_deadline(task, carried[0], "column", ctx.meta.period)
        elif "deadline" in table.columns and carried is not None:
            _set_deadline(task, carried[0], "carried_down", ctx.meta.period)
        if table.is_project and task.deadline_text:
            span = parse_period(task.deadline_text)
            if span:
                task.period = Period(start=span[0], end=span[1], text=task.deadline_text)
        # A project row states its scale (占地约400亩, 日处理300吨), not dated targets.
        if text is not None and not table.is_project:
            task.milestones = find_milestones(text, ctx.meta.period, task.deadline, ctx.document)
        fill_role_lists(task)
        if has_unit_column and not task.units:
            ctx.warn("units_missing", f"Row {row.number} (“{title}”) has no 责任单位 cell; the cell "
                     "may have been lost in the capture. Assign its units by hand.", row.span)
        if "content" in table.columns and content is None:
            ctx.warn("cell_missing", f"Row {row.number} (“{title}”) has no 工作内容 cell.", row.span)
        tasks.append(task)
    return tasks


def _set_deadline(task: Task, text: str, source: str, period: Period | None) -> None:
    task.deadline, task.ongoing = parse_deadline(text, period)
    task.deadline_text = text
    task.deadline_source = source  # type: ignore[assignment]


def _first_sentence(text: str) -> str:
    stop = text.find("。")
    return (text[:stop] if stop > 0 else text).strip()
