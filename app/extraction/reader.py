"""Uploaded bytes to text. Format and encoding come from the content: file names lie (a GB18030
text saved as x.docx, a PDF renamed .txt), so a name only ever appears in error messages."""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass
from typing import Literal

import charset_normalizer
import docx
from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString
from docx.table import Table

from app.errors import BinaryDocument, EmptyDocument, UnknownEncoding, UnreadableDocument


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    format: Literal["text", "html", "docx"]
    encoding: str | None


_SAMPLE = 64 * 1024  # detection reads a prefix, so 10 MB costs what 64 KB does
_SEND = "Send plain text (UTF-8 or GB18030), an HTML page, or a Word .docx file instead."
_OCR = "A scanned page needs OCR first."
_MAGIC = [
    (b"%PDF", "a PDF file", "Copy its text out, or export the original as .docx."),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", _OCR),
    (b"\xff\xd8\xff", "a JPEG image", _OCR),
    (b"GIF8", "a GIF image", _OCR),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Office file (.doc/.xls)",
     "Open it in Word or WPS and save it as .docx."),
    (b"\x7fELF", "a program (ELF executable)", "Upload the document, not a program."),
]
_BOMS = [(codecs.BOM_UTF8, "utf-8", "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16")]
_DECLARED = {**dict.fromkeys(["gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn"], "gb18030"),
             **dict.fromkeys(["big5", "big5-hkscs", "cp950"], "big5")}
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
# C0 controls never found in text; \t \n \v \f \r and DOS's ^Z end-of-file are tolerated.
_CONTROL = bytes([*range(0x01, 0x09), *range(0x0E, 0x1A), *range(0x1B, 0x20), 0x7F])
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)


def _chars(codec: str, leads: range, trails: list[int]) -> set[str]:
    return {ch for lead in leads for trail in trails
            for ch in bytes([lead, trail]).decode(codec, "replace") if ch > "\x7f"} - {"\ufffd"}


# The frequent simplified (GB2312 symbols + level 1) and traditional (Big5 symbols + level 1)
# characters. Genuine Chinese is ~100% these; the wrong codec, or Latin-1 read as GBK, lands on
# rare characters, private-use slots and U+FFFD.
_COMMON = frozenset(
    _chars("gb2312", range(0xA1, 0xAA), [*range(0xA1, 0xFF)])
    | _chars("gb2312", range(0xB0, 0xD8), [*range(0xA1, 0xFF)])
    | _chars("big5", range(0xA1, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)])
    | {chr(c) for c in [*range(0x2000, 0x2070), *range(0x3000, 0x3040), *range(0xFF01, 0xFF5F)]}
)


def read_document(data: bytes, filename: str | None = None) -> Decoded:
    who = f"'{filename}'" if filename else "The document"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _read_docx(data, who)
    for magic, what, fix in _MAGIC:
        if data.startswith(magic):
            raise BinaryDocument(f"{who} looks like {what}, not a text document. {fix} {_SEND}")
    text, encoding = _decode(data, who)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fmt: Literal["text", "html"] = "text"
    if _HTML_ROOT.search(text[:1024]) or len(_BLOCK_TAG.findall(text[:4096])) >= 3:
        text, fmt = _html_to_text(text), "html"
    if not text.strip():
        page = " once navigation and other page chrome are removed" if fmt == "html" else ""
        raise EmptyDocument(f"{who} contains no text{page}. Upload the document itself.")
    return Decoded(text, fmt, encoding)


def _decode(data: bytes, who: str) -> tuple[str, str]:
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec), name
            except UnicodeDecodeError as exc:
                raise UnknownEncoding(
                    f"{who} starts with a {name} byte-order mark but byte {exc.start + len(bom)} "
                    f"is not valid {name}. Re-save it as UTF-8 and upload it again.") from exc
    head = data[:_SAMPLE]
    if b"\x00" in data:
        # ASCII in UTF-16 is every other byte NUL; anything else with NULs is binary.
        if found := _pick(data, head, ["utf-16-le", "utf-16-be"], None):
            return found[0], "utf-16"
        raise BinaryDocument(f"{who} contains NUL bytes, so it is a binary file, not text. {_SEND}")
    if len(head.translate(None, _NOT_CONTROL)) > len(head) // 50:
        raise BinaryDocument(f"{who} is full of control bytes, so it is binary, not text. {_SEND}")
    match = _META_CHARSET.search(data[:4096])
    declared = _DECLARED.get(match.group(1).decode().lower()) if match else None
    try:
        utf8: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    # Valid UTF-8 wins unless an HTML page declares GBK/Big5 and the UTF-8 reading is junk.
    if utf8 is not None and (declared is None or _plausibility(utf8[:_SAMPLE]) >= 0.8):
        return utf8, "utf-8"
    # utf-8 last: a capture cut off mid-character is still UTF-8.
    if found := _pick(data, head, ["gb18030", "big5", "utf-8"], declared):
        return found
    if utf8 is not None:
        return utf8, "utf-8"
    tried = "UTF-8, GB18030 (GBK/GB2312), Big5, UTF-16"
    guess = charset_normalizer.from_bytes(head[:8192]).best()
    # charset-normalizer only names the culprit; on short inputs its guesses are noise.
    hint = (f" It looks most like {guess.encoding}, which is not supported." if guess
            and len(head) >= 256 and not guess.encoding.startswith(("utf", "gb", "big5", "ascii"))
            else "")
    raise UnknownEncoding(
        f"{who} does not decode cleanly in any supported encoding ({tried}).{hint} Re-save it "
        "as UTF-8 (e.g. Save As, Encoding: UTF-8) and upload it again.", encodings_tried=tried)


def _pick(data: bytes, head: bytes, candidates: list[str], declared: str | None
          ) -> tuple[str, str] | None:
    ranked = []  # the page's own declaration first, then plausibility, then list order
    for order, codec in enumerate(candidates):
        sample = codecs.getincrementaldecoder(codec)("replace").decode(head, final=False)
        if sample.count("\ufffd") <= len(sample) // 1000 and (score := _plausibility(sample)) >= 0.8:
            ranked.append((codec == declared, score, -order, codec))
    for *_, codec in sorted(ranked, reverse=True):
        text = data.decode(codec, "replace")
        if text.count("\ufffd") <= len(text) // 1000:  # e.g. a truncated last character
            return text, codec
    return None


def _plausibility(sample: str) -> float:
    # Share of non-ASCII characters that are common Chinese; the +2 keeps tiny samples fair.
    rare = common = bad = 0
    for ch in sample:
        if ch < "\x80":
            bad += ch < " " and ch not in "\t\n\v\f\r"
        elif ch in _COMMON:
            common += 1
        elif not ch.isspace():
            rare += 1
    return 0.0 if bad * 100 > len(sample) else (common + 2) / (common + rare + 2)


def _read_docx(data: bytes, who: str) -> Decoded:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise BinaryDocument(
            f"{who} starts like a ZIP archive (as .docx does) but the archive is damaged. "
            f"If it is a .docx, open it in Word or WPS and save it again. {_SEND}") from exc
    if "word/document.xml" not in names:
        what = ("an Excel workbook (.xlsx)" if "xl/workbook.xml" in names
                else "a PowerPoint file (.pptx)" if "ppt/presentation.xml" in names
                else "a ZIP archive")
        raise BinaryDocument(f"{who} is {what}, not a Word .docx. {_SEND}")
    try:
        lines = list(_docx_lines(docx.Document(io.BytesIO(data))))
    except Exception as exc:  # python-docx and lxml fail with many unrelated exception types
        raise UnreadableDocument(
            f"{who} looks like a .docx but its document part cannot be parsed ({exc}). "
            "Open it in Word or WPS, save it again as .docx, or send it as UTF-8 plain text."
        ) from exc
    text = "\n".join(lines).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise EmptyDocument(f"{who} is a .docx with no text in its body. Upload the document itself.")
    return Decoded(text, "docx", None)


def _docx_lines(container):
    for item in container.iter_inner_content():
        if isinstance(item, Table):
            yield from ("\t".join(cells) for cells in _docx_rows(item) if any(cells))
        else:
            yield item.text


def _docx_rows(table: Table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        # A horizontally merged cell comes back once per grid column it spans (the same <w:tc>),
        # so it is kept once. A vertically merged continuation comes back as the cell above, its
        # text repeated on every row it spans; that stays, so each row reads on its own.
        cells = row.cells
        distinct = [c for i, c in enumerate(cells) if i == 0 or c._tc is not cells[i - 1]._tc]
        rows.append([_docx_cell_text(c) for c in distinct])
    return rows


def _docx_cell_text(cell) -> str:
    parts = []
    for item in cell.iter_inner_content():
        if isinstance(item, Table):  # a nested table is flattened into its cell
            parts.extend(text for row in _docx_rows(item) for text in row)
        else:
            parts.append(item.text)
    return _collapse(" ".join(parts))


_HTML_ROOT = re.compile(r"<!doctype\s+html|<html[\s>]", re.I)
_BLOCK_TAG = re.compile(r"<(?:p|div|table|tr|td|br|h[1-6]|ul|li|section|article)\b[^<>]*>", re.I)
_DROP = ["head", "script", "style", "noscript", "template", "iframe", "button", "select"]
_CHROME_TAGS = frozenset(["nav", "header", "footer", "form"])
_CHROME_NAME = re.compile(r"nav|menu|crumb|footer|header|share|toolbar|sidebar", re.I)
_BLOCKS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd tr td th table caption section article aside "
    "main blockquote pre address figure figcaption hr body center".split())
_SPACE = re.compile(r"\s+")
# A source line break between two CJK characters is no space (CSS Text 3 segment breaks).
_CJK = "\u3000-\u9fff\uff00-\uffef"
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])[ \t]*\n\s*(?=[{_CJK}])")


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _html_to_text(markup: str) -> str:
    soup = BeautifulSoup(markup, "html.parser")
    for tag in [*soup.find_all(_DROP), *soup.find_all(_is_chrome_box)]:
        if not tag.decomposed:  # it sat inside a box dropped before it
            tag.decompose()
    lines: list[str] = []
    for line in _render(soup):
        if (line and not is_chrome(line)) or (not line and lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip("\n")


def _is_chrome_box(tag: Tag) -> bool:
    names = " ".join([tag.get("id") or "", *(tag.get("class") or [])])
    if tag.name not in _CHROME_TAGS and not _CHROME_NAME.search(names):
        return False
    # ASP.NET pages wrap everything in <form>, articles put their title in <header>, and a
    # <div class="has-sidebar"> may hold the article: keep a box with the title, a table or
    # real prose outside links.
    if tag.find(["h1", "table"]):
        return False
    links = sum(len(_collapse(a.get_text())) for a in tag.find_all("a"))
    return len(_collapse(tag.get_text())) - links <= 300


def _render(root: Tag) -> list[str]:
    lines: list[str] = []
    buffer: list[str] = []

    def flush(blank: bool = False) -> None:
        line = _collapse(_CJK_BREAK.sub("", "".join(buffer)))
        buffer.clear()
        if line or blank:
            lines.append(line)

    # An explicit stack: real pages nest deep enough to threaten Python's recursion limit.
    stack: list[tuple[Tag | NavigableString, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            flush()
        elif isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctype, CDATA
                buffer.append(str(node))
        elif node.name == "br" or (node.name == "p" and not node.get_text().strip()):
            flush(blank=not _collapse("".join(buffer)))  # <br><br> and <p>&nbsp;</p> are gaps
        elif node.name == "table" and not _is_layout(node):
            flush()
            if node.caption:
                lines.append(_collapse(node.caption.get_text()))
            for tr in node.find_all("tr"):
                cells = [_collapse(" ".join(_render(td)))
                         for td in tr.find_all(["td", "th"], recursive=False)]
                if any(cells):
                    lines.append("\t".join(cells))
        else:
            if node.name in _BLOCKS:
                flush()
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    flush()
    return lines


def _is_layout(table: Tag) -> bool:
    # Pages still lay whole articles out in tables; only grids of short cells are data.
    rows = [tr.find_all(["td", "th"], recursive=False) for tr in table.find_all("tr")]
    if max(map(len, rows), default=0) <= 1:
        return True
    return any(cell.find(["table", "h1", "h2", "h3"]) or len(cell.get_text()) > 1500
               for row in rows for cell in row)


_SEP = r"[\s|｜丨·•/【】\[\]〖〗()（）]*"
_VALUE = r"(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?|[^\s。；;，,！？!?:：]{0,20})"
_BREADCRUMB = r"(?:您当前所在位置|当前所在位置|您当前位置|当前位置|您的位置|您现在的位置|您所在的位置|所在位置)"
# Each phrase is bounded (a lone one stays within ~40 characters), so a breadcrumb or a metadata
# bar of several phrases may run to 120 without a sentence ever passing for chrome.
_ATOMS = [
    rf"{_BREADCRUMB}\s*[:：](?:(?=.*(?:>|＞|»|→|首页)).{{0,100}})?",
    r"关怀版|无障碍(?:阅读|浏览)?|长者模式|适老化|在线检阅\s*[:：]?|搜索",
    r"(?:访问量|访问次数|浏览次数|浏览量|阅读次数|阅读量|点击数|点击量)\s*[:：]?\s*\d*\s*次?",
    rf"字号\s*[:：]?(?:{_SEP}[大中小默认])*",
    r"打印本页|打印此页|打印|关闭本页|关闭窗口|关闭|收藏本页|收藏|返回顶部|返回",
    r"分享到\s*[:：]?[^。；;，,]{0,20}|扫一扫在手机(?:上)?打开(?:当前页|本页)?",
    r"相关文章|相关链接|相关阅读|相关新闻|网站地图|联系我们|网站声明",
    rf"(?:来源|信息来源|文章来源|发布时间|发布日期|责任编辑)\s*[:：]\s*{_VALUE}",
    r"(?:上一篇|下一篇)\s*[:：]?.{0,40}",
    r"(?:版权所有|copyright|©)[^。；;，,]{0,40}",
]
# A chrome line is nothing but chrome phrases, so a sentence that merely mentions one survives.
# Atomic groups: letting the free-text tails give characters back is exponential on long lines.
_CHROME_LINE = re.compile(rf"(?:{_SEP}(?>{'|'.join(_ATOMS)}))+{_SEP}", re.I)


def is_chrome(line: str) -> bool:
    text = line.strip()
    return 0 < len(text) <= 120 and _CHROME_LINE.fullmatch(text) is not None
