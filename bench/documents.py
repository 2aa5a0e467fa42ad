"""The benchmark's documents: ~300 units of one city, and 100-task work plans (重点工作任务清单)
written the way seed 001 writes its tasks, each ending in 〔牵头单位:…;责任单位:…〕.

`build` returns a document's text together with what the extractor reads from it, so that the
generator can load a million tasks without extracting every document; `check` extracts one and
compares. `write_templates` writes the import benchmark's documents, with placeholders for the
文号 and the title's counter that wrk fills in, so that every request posts a new document.

    python -m bench.documents --check               (build, extract and compare a few)
    python -m bench.documents --out DIR --count 20  (write the import templates)
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from app.extraction.models import DocumentMeta, Jurisdiction, Period
from app.extraction.units import canonical
from app.units.service import normalise

CITY = Jurisdiction(name="赣州市", level="city", prefix="市", parent=None)
ISSUER = "赣州市人民政府办公室"
# wrk replaces these per request: the whole 文号 (its number has at most four digits, so the
# runner varies the issuing office's code and year between runs) and a counter in the title.
DOC_NUMBER, COUNTER = "@@NO@@", "@@N@@"
TASKS_PER_DOCUMENT = 100
TASKS_PER_SECTION = 10

# City departments as documents write them; the forms of one body are one unit with aliases.
_DEPARTMENTS = """市发改委 市发展改革委|市工信局 市工业和信息化局|市教育局|市科技局 市科学技术局|市公安局|
市民政局|市司法局|市财政局|市人社局 市人力资源和社会保障局|市自然资源局|市生态环境局|市住建局 市住房和城乡建设局|
市城管局 市城市管理局|市交通运输局 市交通局|市水利局|市农业农村局 市农业局|市商务局|市文广新旅局|
市卫健委 市卫生健康委|市退役军人局 市退役军人事务局|市应急局 市应急管理局|市审计局|市国资委|
市市场监管局 市市场监督管理局|市体育局|市统计局|市医保局|市林业局|市乡村振兴局|市行政审批局|
市机关事务管理局 市机关事务中心|市税务局|市气象局|市金融办|市供电公司|市邮政管理局|市能源局|市粮食局|
市信访局|市数据局|市大数据中心|市委宣传部|市委组织部|市委统战部|市委政法委|市委网信办|市中级法院|
市检察院 市人民检察院|市妇联|市总工会|市供销社|市红十字会|市残联|市科协|市工商联|市文联|市融媒体中心|
市自来水公司|市城投集团|市湿地管理局"""
_PLACES = ("章贡区 南康区 赣县区 信丰县 大余县 上犹县 崇义县 安远县 定南县 全南县 宁都县 于都县 兴国县 "
           "会昌县 寻乌县 石城县 瑞金市 龙南市").split()
_TOPICS = ("稀土产业 钨业 新能源汽车 电子信息 现代家居 纺织服装 生物医药 脐橙产业 油茶产业 蔬菜产业 生猪产业 "
           "茶叶产业 文化旅游 红色教育 客家文化 城乡规划 公共资源交易 不动产登记 住房公积金 医疗保险 社会保险 "
           "就业创业 人才发展 科技创新 知识产权 中小企业 对外开放 口岸物流 招商引资 园区建设 水土保持 森林防火 "
           "湿地保护 河湖管护 环境质量 节能监察 地质灾害").split()
_BODIES = ("发展中心", "服务中心", "事务中心", "管理处", "监测站", "研究所")

# (verb phrase of the title, what it works on, the body sentence)
_WORKS = [
    ("推进", "高质量发展", "加快建设产业集群,推动产业链延链补链强链"),
    ("实施", "三年行动计划", "细化年度目标任务,建立项目化、清单化推进机制"),
    ("完善", "工作机制", "健全部门协同和信息共享机制,定期调度重点事项进展"),
    ("加强", "能力建设", "补齐基础设施和人才队伍短板,提升服务保障水平"),
    ("深化", "体制机制改革", "推行“一网通办”和“一次办好”,压缩办理时限"),
    ("开展", "专项整治行动", "聚焦群众反映强烈的突出问题,开展全覆盖排查整改"),
    ("打造", "示范区", "选取基础较好的县(市、区)先行先试,形成可复制推广的经验"),
    ("提升", "数字化水平", "推动数据资源整合共享,建设统一的业务应用平台"),
]
# (verb, metric, quantity range, measure): the target sentence the extractor reads as a milestone.
_TARGETS = [
    ("新建", "标准化厂房", (20, 120), "万平方米"),
    ("建成", "公共充电桩", (500, 5000), "根"),
    ("新增", "规模以上工业企业", (30, 300), "家"),
    ("完成", "老旧小区改造", (50, 400), "个"),
    ("新改建", "农村公路", (100, 900), "公里"),
    ("培育", "专精特新中小企业", (10, 120), "家"),
    ("实施", "重点项目", (20, 200), "项"),
    ("建设", "高标准农田", (5, 60), "万亩"),
    ("建成", "污水处理设施", (5, 40), "座"),
]


@dataclass(frozen=True, slots=True)
class UnitSpec:
    forms: tuple[str, ...]  # as documents write it; the first is the usual form
    name: str  # canonical, as the extractor resolves it within the city


@dataclass(frozen=True, slots=True)
class Source:
    line: int
    end_line: int
    start: int
    end: int
    text: str

    def json(self) -> dict:
        return {"line": self.line, "end_line": self.end_line, "start": self.start, "end": self.end,
                "text": self.text}


@dataclass(frozen=True, slots=True)
class Target:
    text: str
    due: date
    due_text: str
    metric: str
    target: str
    source: Source


@dataclass(frozen=True, slots=True)
class BuiltTask:
    number: str
    title: str
    text: str
    section_path: list[str]
    units: list[tuple[int, str, str]]  # (unit index, written form, role), the lead first
    units_text: str
    deadline: date
    deadline_text: str
    milestone: Target
    source: Source


@dataclass(slots=True)
class BuiltDocument:
    text: str
    title: str
    doc_number: str
    issued_on: date
    period: tuple[int, int]
    tasks: list[BuiltTask] = field(default_factory=list)

    def meta(self, encoding: str | None = "utf-8") -> DocumentMeta:
        """What the extractor says of the document (the HTTP import reads it as UTF-8)."""
        return DocumentMeta(
            title=self.title, issuer=ISSUER, doc_number=self.doc_number, issued_on=self.issued_on,
            issued_on_text=f"{self.issued_on.year}年{self.issued_on.month}月{self.issued_on.day}日",
            period=Period(start=self.period[0], end=self.period[1], inferred=True),
            jurisdiction=CITY, format="text", encoding=encoding)


def catalogue() -> list[UnitSpec]:
    """The city's 300 units, in a fixed order."""
    forms = [tuple(entry.split()) for entry in _DEPARTMENTS.replace("\n", "").split("|")]
    forms += [(f"{place}人民政府",) for place in _PLACES]
    forms += [(f"市{topic}{body}",) for topic in _TOPICS for body in _BODIES]
    return [UnitSpec(f, canonical(f[0], CITY)) for f in forms]


def aliases(unit: UnitSpec) -> set[str]:
    """What the importer stores as the unit's aliases once documents have written every form."""
    return {normalise(a) for a in (unit.name, *unit.forms) if a}


def month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def deadline_text(deadline: date) -> str:
    return f"{deadline.year}年底前" if deadline.month == 12 else f"{deadline.year}年{deadline.month}月底前"


def make_doc_number(code: str, year: int, number: int) -> str:
    """A 文号: the issuing office's code (发文机关代字), the year, a number of at most 4 digits."""
    return f"{code}〔{year}〕{number}号"


def build(doc_number: str, counter: str, issued_on: date, deadlines: list[date],
          rng: random.Random, units: list[UnitSpec], picks: list[list[int]]) -> BuiltDocument:
    """A document of len(deadlines) tasks; task k is due on deadlines[k] (a month's end) and
    names the units picks[k] (the lead first, then the responsible ones)."""
    last = max(deadlines).year
    period = (issued_on.year, max(last, issued_on.year + 1))
    title = f"赣州市重点工作任务清单(第{counter}批)"
    lines = [doc_number, ISSUER, f"关于印发{title}的通知",
             "各县(市、区)人民政府,市政府有关部门,市属、驻市有关单位:",
             f"经市政府同意,现将《{title}》印发给你们,请认真抓好贯彻落实。",
             f"{issued_on.year}年{issued_on.month}月{issued_on.day}日",
             title,
             f"为推动{period[0]}-{period[1]}年重点工作落地见效,制定本清单。",
             "一、重点任务"]
    offset = sum(len(line) + 1 for line in lines)
    document = BuiltDocument("", title, doc_number, issued_on, period)
    heading = ""
    for k, (deadline, pick) in enumerate(zip(deadlines, picks, strict=True)):
        if k % TASKS_PER_SECTION == 0:
            heading = f"({_CN[k // TASKS_PER_SECTION]}){rng.choice(_TOPICS)}工作"
            lines.append(heading)
            offset += len(heading) + 1
        task = _task(k + 1, deadline, rng, units, pick, ["一、重点任务", heading], len(lines) + 1,
                     offset)
        lines.append(task.source.text)
        offset += len(task.source.text) + 1
        document.tasks.append(task)
    lines += ["二、保障措施", "各责任单位要切实履行职责,每月25日前报送工作进展情况。", ""]
    document.text = "\n".join(lines)
    return document


_CN = "一二三四五六七八九十"


def _task(n: int, deadline: date, rng: random.Random, units: list[UnitSpec], pick: list[int],
          section_path: list[str], line: int, offset: int) -> BuiltTask:
    verb, work, body = rng.choice(_WORKS)
    topic = rng.choice(_TOPICS)
    title = f"{verb}{topic}{work}"
    t_verb, metric, (lo, hi), measure = rng.choice(_TARGETS)
    year = rng.randint(max(2022, deadline.year - 2), deadline.year)  # 2022: no target in the past
    due_text = f"到{year}年底"
    target = f"{rng.randint(lo, hi)}{measure}"
    goal = f"{due_text},{t_verb}{metric}{target}"
    head = f"{n}.{title}。{body},"
    text = f"{head}{goal}。{deadline_text(deadline)}完成。"
    written = [(i, rng.choice(units[i].forms), "lead" if j == 0 else "responsible")
               for j, i in enumerate(pick)]
    units_text = (f"〔牵头单位:{written[0][1]};"
                  f"责任单位:{'、'.join(w for _, w, _ in written[1:])}〕")
    full = text + units_text
    at = offset + len(head)
    return BuiltTask(
        number=str(n), title=title, text=text, section_path=section_path, units=written,
        units_text=units_text, deadline=deadline, deadline_text=deadline_text(deadline),
        milestone=Target(text=goal, due=date(year, 12, 31), due_text=due_text, metric=metric,
                         target=target, source=Source(line, line, at, at + len(goal), goal)),
        source=Source(line, line, offset, offset + len(full), full))


def sample(rng: random.Random, issued_on: date, units: int, tasks: int = TASKS_PER_DOCUMENT
           ) -> tuple[list[date], list[list[int]]]:
    """Deadlines (month ends from a quarter after the issue date, and from 2022, to 2030) and
    four distinct units per task."""
    first = max(issued_on + timedelta(days=90), date(2022, 1, 1))
    months = (2030 - first.year) * 12 + 12 - first.month + 1
    deadlines = []
    for _ in range(tasks):
        m = first.month - 1 + rng.randrange(months)
        deadlines.append(month_end(first.year + m // 12, m % 12 + 1))
    return deadlines, [rng.sample(range(units), 4) for _ in range(tasks)]


def template(seed: int, units: list[UnitSpec] | None = None) -> str:
    """An import benchmark document, with placeholders for its 文号 and counter."""
    units = units or catalogue()
    rng = random.Random(seed)
    issued_on = date(2026, 11, 1)
    deadlines, picks = sample(rng, issued_on, len(units))
    return build(DOC_NUMBER, COUNTER, issued_on, deadlines, rng, units, picks).text


def render(text: str, code: str, year: int, counter: int) -> str:
    """What wrk's document.lua posts for request `counter` (from 0) of a run given `code` and
    `year`: the same substitutions, so tests can build the very bodies wrk sends."""
    number = counter % 9999 + 1
    return text.replace(DOC_NUMBER, make_doc_number(code, year, number)).replace(COUNTER, str(number))


def write_templates(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    units = catalogue()
    paths = []
    for k in range(count):
        path = folder / f"template-{k:03d}.txt"
        path.write_text(template(1000 + k, units), encoding="utf-8")
        paths.append(path)
    return paths


def check(document: BuiltDocument, units: list[UnitSpec]) -> list[str]:
    """What the extractor reads differently from what `build` says the text holds."""
    from app.extraction import extract_text

    got = extract_text(document.text)
    problems = []
    if got.document != document.meta(encoding=None):
        problems.append(f"document: {got.document!r} != {document.meta(encoding=None)!r}")
    if got.warnings or got.rules or got.indicators:
        problems.append(f"warnings, rules or indicators: {got.warnings} {got.rules} {got.indicators}")
    if len(got.tasks) != len(document.tasks):
        return [*problems, f"{len(got.tasks)} tasks extracted, {len(document.tasks)} built"]
    for mine, theirs in zip(document.tasks, got.tasks, strict=True):
        found = [(m.canonical, m.role) for m in theirs.units]
        wanted = [(units[i].name, role) for i, _, role in mine.units]
        pairs = [("title", theirs.title, mine.title), ("text", theirs.text, mine.text),
                 ("deadline", theirs.deadline, mine.deadline),
                 ("deadline_text", theirs.deadline_text, mine.deadline_text),
                 ("section_path", theirs.section_path, mine.section_path),
                 ("units", found, wanted), ("units_text", theirs.units_text, mine.units_text),
                 ("source", theirs.source.model_dump() if theirs.source else None, mine.source.json()),
                 ("milestones", [(m.text, m.due, m.due_text, m.metric, m.target,
                                  m.source.model_dump() if m.source else None)
                                 for m in theirs.milestones],
                  [(mine.milestone.text, mine.milestone.due, mine.milestone.due_text,
                    mine.milestone.metric, mine.milestone.target, mine.milestone.source.json())])]
        problems += [f"task {mine.number} {key}: {a!r} != {b!r}" for key, a, b in pairs if a != b]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="extract a few built documents and compare")
    parser.add_argument("--out", type=Path, help="write import templates into this folder")
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    units = catalogue()
    if args.check:
        failed = False
        for seed in range(6):
            rng = random.Random(seed)
            issued_on = date(2021 + seed, 1 + 2 * seed, 15 + seed)
            deadlines, picks = sample(rng, issued_on, len(units))
            built = build(make_doc_number("赣市府办字", issued_on.year, 100 + seed), str(100 + seed),
                          issued_on, deadlines, rng, units, picks)
            problems = check(built, units)
            print(f"document {seed}: " + ("as built" if not problems else f"{len(problems)} differences"))
            for p in problems[:20]:
                print("   ", p)
            failed |= bool(problems)
        names = [u.name for u in units]
        print(f"{len(units)} units, {len(set(names))} distinct canonical names")
        sys.exit(1 if failed or len(set(names)) != len(names) else 0)
    if args.out:
        paths = write_templates(args.out, args.count)
        print(f"wrote {len(paths)} templates to {args.out}")


if __name__ == "__main__":
    main()
