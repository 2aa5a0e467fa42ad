"""Document metadata from the head of a document: title, issuer, 文号, date, plan period and
the issuing jurisdiction, repaired where a web capture lost brackets, dashes or 年月日."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

from app.extraction.dates import parse_period
from app.extraction.models import DocumentMeta, Jurisdiction, Period
from app.extraction.text import Line

_HEAD = 60
_DOC_NUMBER = re.compile(r"([\u4e00-\u9fff]{1,12}?)\s*[\[(]\s*((?:19|20)\d{2})\s*[\])]\s*(\d{1,4})\s*号")
_DOC_NUMBER_BROKEN = re.compile(r"^([\u4e00-\u9fff]{2,12}?(?:府|办|字|发|函|委|厅))\s*((?:19|20)\d{2})(\d{1,4})号?$")
_DATE = re.compile(r"^((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$")
_DATE_BROKEN = re.compile(r"^((?:19|20)\d{2})(\d{2})(\d{2})$")
_DATE_NO_YEAR = re.compile(r"^(\d{1,2})\s*月\s*(\d{1,2})\s*日$")
_NOTICE = re.compile(r"关于印发(.+?)的通知")
_PERIOD_LINE = re.compile(r"(规划|实施)(期限|期)")
_PLAN_WORDS = re.compile(r"方案|计划|要点|清单|任务|规划|分工")
_TITLE_END = re.compile(r"(方案|意见|规划|计划|清单|办法|要点|纲要|细则|措施|规定)(\(.*\))?$")
_ORG_END = ("人民政府", "政府", "办公室", "办公厅", "委员会", "党委", "领导小组", "指挥部", "局", "厅",
            "省委", "市委", "县委", "区委")
_LEVEL = {"省": "province", "自治区": "province", "市": "city", "自治州": "city", "县": "county",
          "旗": "county", "区": "district"}
_PREFIX = {"province": "省", "city": "市", "county": "县", "district": "区", "township": "镇"}
_NOT_PLACE_CHARS = set("年的和与及在于对关印发建设打造推进全面美丽国家示范方案规划意见通知工作行动各有中共委政府")
_LEVEL_CHAR = re.compile(r"[省市县区]")
_HAN = re.compile(r"[\u4e00-\u9fff]+")
# A unit with its level prefix, 市生态环境局, not inside a longer word. The prefix comes first
# and the "not after a Chinese character" test second, so that the engine can jump from one
# 省/市/县/区 to the next instead of trying every character.
_PREFIXED_UNIT = re.compile(r"([省市县区])(?<![\u4e00-\u9fff].)[\u4e00-\u9fff]{1,10}?(?:局|厅|委|办)")
_LISTED_UNIT = re.compile(r"[、,:;(\[]([省市县区])[\u4e00-\u9fff]{1,10}?(?:局|厅|委|办)(?=[、,;)\]等])")


def read_metadata(lines: list[Line]) -> DocumentMeta:
    head = [ln for ln in lines[:_HEAD] if not ln.blank]
    meta = DocumentMeta()
    _doc_number(head, meta)
    _issued_on(head, meta)
    meta.title = _title(head)
    span = parse_period(meta.title or "")
    if span is None:
        for ln in lines:
            if _PERIOD_LINE.search(ln.norm) and (found := parse_period(ln.norm)):
                span = found
                break
    if span:
        meta.period = Period(start=span[0], end=span[1], text=f"{span[0]}-{span[1]}年")
    elif meta.title and _PLAN_WORDS.search(meta.title) \
            and len(years := re.findall(r"(?<!\d)((?:19|20)\d{2})\s*年", meta.title)) == 1:
        # 2024年赣县区…工作方案: a plan for one year.
        meta.period = Period(start=int(years[0]), end=int(years[0]), text=f"{years[0]}年")
    meta.jurisdiction = _jurisdiction(lines, head, meta)
    _issuer(head, meta)
    if meta.title:
        meta.title = _repair_title(meta.title, meta.period)
    return meta


def _doc_number(head: list[Line], meta: DocumentMeta) -> None:
    for ln in head:
        text = ln.norm.strip()
        m = _DOC_NUMBER.search(text) if len(text) <= 40 else None
        if m:
            meta.doc_number = f"{m[1]}〔{m[2]}〕{m[3]}号"
            meta.doc_number_as_printed = ln.raw.strip() if meta.doc_number != ln.raw.strip() else None
            return
        m = _DOC_NUMBER_BROKEN.match(text)
        if m:
            meta.doc_number = f"{m[1]}〔{m[2]}〕{m[3]}号"
            meta.doc_number_as_printed = ln.raw.strip()
            return


def _issued_on(head: list[Line], meta: DocumentMeta) -> None:
    for ln in head:
        text = ln.norm.strip()
        for pattern in (_DATE, _DATE_BROKEN):
            m = pattern.match(text)
            if m:
                try:
                    meta.issued_on = date(int(m[1]), int(m[2]), int(m[3]))
                except ValueError:
                    continue
                meta.issued_on_text = ln.raw.strip()
                return
        if _DATE_NO_YEAR.match(text) and meta.issued_on_text is None:
            meta.issued_on_text = ln.raw.strip()


def _title(head: list[Line]) -> str | None:
    for ln in head:
        quoted = re.search(r"关于印发《(.+?)》", ln.raw)
        if quoted:
            return quoted[1].strip()
    joined = ""
    for ln in head:
        joined += ln.raw.strip()
        notice = _NOTICE.search(joined)
        if notice:
            return notice[1].strip().strip("《》")
        if len(joined) > 200 or not re.search(r"关于印发", joined):
            joined = joined[joined.rfind("关于印发"):] if "关于印发" in joined else ""
    for ln in head:
        # A notice that is itself the document: 关于通报表扬…的通知, maybe after its issuer.
        own = re.search(r"关于(?!印发).{4,80}?的.{0,4}?(?:通知|决定|通报|意见|批复|函|报告|公告)$",
                        ln.raw.strip())
        if own:
            return own[0]
    for i, ln in enumerate(head):
        text = ln.raw.strip()
        if _TITLE_END.search(ln.norm.strip()) and 6 <= len(text) <= 60 and "。" not in text:
            nxt = head[i + 1].norm.strip() if i + 1 < len(head) else ""
            if re.fullmatch(r"\(?[\d\-~至年]+\)", nxt):
                text += head[i + 1].raw.strip()
            return text
    return None


def _repair_title(title: str, period: Period | None) -> str:
    # A capture that lost the opening bracket prints 规划2022-2030年); put it back.
    m = re.search(r"(?<![(（])((?:19|20)\d{2}\s*[-—–]?\s*(?:19|20)\d{2}年)[)）]$", title)
    if m and period:
        return title[: m.start()] + "(" + title[m.start():]
    return title


def _issuer(head: list[Line], meta: DocumentMeta) -> None:
    root = meta.jurisdiction.name[:2] if meta.jurisdiction and meta.jurisdiction.name else ""
    signature, opening, letterhead = [], [], []
    for i, ln in enumerate(head):
        text = ln.raw.strip()
        m = re.match(r"^(.{4,30}?)关于印发", text)
        if m:
            opening.append(m[1])
        if (_DATE.match(ln.norm.strip()) or _DATE_NO_YEAR.match(ln.norm.strip())) and i:
            signature.append(head[i - 1].raw.strip())
        if meta.doc_number_as_printed == text or (meta.doc_number and meta.doc_number in text):
            letterhead += [head[j].raw.strip() for j in (i + 1, i - 1) if 0 <= j < len(head)]
    # The signature names the issuer in full; the letterhead often shortens it.
    candidates = signature + opening + letterhead
    for cand in candidates:
        if cand.endswith(_ORG_END) and len(cand) <= 40 and "。" not in cand \
                and (not root or root in cand or cand.startswith("中共")):
            meta.issuer = _split_joint(cand)
            meta.issuer_as_printed = cand if meta.issuer != cand else None
            return
    printed = next((c for c in candidates if c.endswith(_ORG_END) and len(c) <= 40), None)
    inferred = _issuer_from_number(meta)
    if inferred:
        meta.issuer, meta.issuer_as_printed = inferred, printed


def _split_joint(name: str) -> str:
    # 中共江西省委江西省人民政府 is two issuers printed run together.
    m = re.match(r"^(中共[\u4e00-\u9fff]{2,8}?(?:省|市|县|区)委)([\u4e00-\u9fff]{2,8}?(?:人民政府|政府))$", name)
    return f"{m[1]}、{m[2]}" if m else name


def _issuer_from_number(meta: DocumentMeta) -> str | None:
    if not meta.doc_number or not meta.jurisdiction or not meta.jurisdiction.name:
        return None
    prefix = meta.doc_number.split("〔")[0]
    name = meta.jurisdiction.name
    if "府办" in prefix:
        return name + "人民政府办公室"
    if "府厅" in prefix:
        return name + "人民政府办公厅"
    if prefix.endswith(("府", "府字", "府发")):
        return name + "人民政府"
    return None


def _jurisdiction(lines: list[Line], head: list[Line], meta: DocumentMeta) -> Jurisdiction | None:
    text = "\n".join(ln.norm for ln in lines)
    named = "\n".join([meta.title or "", *(ln.norm for ln in head[:15])])
    candidates = [c for c in _places(named) if text.count(c) >= (2 if len(c) > 2 else 4)]
    # A title that says 美丽赣州 names the place without its suffix: find 赣州市 in the text.
    for root in re.findall(r"[\u4e00-\u9fff]{2}", meta.title or ""):
        for suffix in ("市", "县", "区", "省"):
            if text.count(root + suffix) >= 3 and root + suffix not in candidates:
                candidates.append(root + suffix)
    level = _level_from_text(lines)
    same = [c for c in candidates if _level_of(c) == level]
    chosen = same[0] if same else (candidates[0] if candidates and level is None else None)
    if chosen is None:
        return Jurisdiction(name=None, level=level, prefix=_PREFIX[level]) if level else None
    found = _level_of(chosen)
    order = ("province", "city", "county", "district")
    parent = next((c for c in candidates if order.index(_level_of(c)) < order.index(found)
                   and _level_of(c) in ("province", "city")), None)
    return Jurisdiction(name=chosen, level=found, prefix=_PREFIX[found], parent=parent)


def _places(text: str) -> list[str]:
    found: list[str] = []
    # 石林彝族自治县: the root runs back from 自治 to the place named before it.
    for m in re.finditer(r"自治[县州区旗]", text):
        head = re.split(r"[^\u4e00-\u9fff]|[省市县区州]", text[max(0, m.start() - 8) : m.start()])[-1]
        if len(head) >= 2:
            found.append(head + m[0])
    for level in _LEVEL_CHAR.finditer(text):
        j, ch = level.start(), level[0]
        if text[max(0, j - 2) : j] == "自治":
            continue
        # Most places have a two- or three-character root; a few counties have one (攸县).
        for size in (3, 2, 1) if ch == "县" else (3, 2):
            root = text[max(0, j - size) : j]
            if len(root) == size and _HAN.fullmatch(root) \
                    and not any(c in _NOT_PLACE_CHARS for c in root):
                if root + ch not in found:
                    found.append(root + ch)
                break
    return found


def _level_of(place: str) -> str:
    return _LEVEL[place[-1]]


def _level_from_text(lines: list[Line]) -> str | None:
    """Which prefix the document's own units carry: 市生态环境局 means a city issuer."""
    counts: Counter[str] = Counter()
    for ln in lines:
        for m in _PREFIXED_UNIT.finditer(ln.norm):
            counts[m[1]] += 1
        for m in _LISTED_UNIT.finditer(ln.norm):
            counts[m[1]] += 1
    if not counts:
        return None
    prefix, n = counts.most_common(1)[0]
    return {"省": "province", "市": "city", "县": "county", "区": "district"}[prefix] if n >= 3 else None
