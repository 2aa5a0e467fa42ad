"""Lines of a document with their offsets, and a width-folded twin for matching.

Every parser matches on `Line.norm` (full-width punctuation folded to ASCII, one character
for one character) and reports spans and verbatim text from `Line.raw`, so provenance
always points into the original document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.extraction.models import Source

# One-for-one folding keeps every offset valid in both strings.
_FOLD = {
    "（": "(", "）": ")", "〔": "[", "〕": "]", "【": "[", "】": "]", "［": "[", "］": "]",
    "｛": "{", "｝": "}", "：": ":", "；": ";", "，": ",", "．": ".", "！": "!", "？": "?",
    "　": " ", "－": "-", "—": "-", "–": "-", "―": "-", "～": "~", "〜": "~",
    "﹝": "[", "﹞": "]", "《": "《", "％": "%", "＋": "+", "／": "/", "＝": "=",
    "＜": "<", "＞": ">", "﹣": "-", "‐": "-", "‑": "-", "⁃": "-", "\u00a0": " ",
    "\u200b": " ", "\ufeff": " ",
}
_FOLD.update({chr(c): chr(c - 0xFEE0) for c in range(0xFF10, 0xFF1A)})  # ０-９
_FOLD.update({chr(c): chr(c - 0xFEE0) for c in range(0xFF21, 0xFF3B)})  # Ａ-Ｚ
_FOLD.update({chr(c): chr(c - 0xFEE0) for c in range(0xFF41, 0xFF5B)})  # ａ-ｚ
_FOLDABLE = re.compile("[" + "".join(re.escape(k) for k, v in _FOLD.items() if k != v) + "]")


def fold(text: str) -> str:
    # str.translate() looks every non-ASCII character up in a dict, ten times slower on Chinese
    # text than replacing the few distinct characters present; no replacement is itself folded.
    for ch in set(_FOLDABLE.findall(text)):
        text = text.replace(ch, _FOLD[ch])
    return text


@dataclass(frozen=True, slots=True)
class Line:
    no: int  # 1-based line number in the document
    start: int  # offset of the first character in the document text
    raw: str
    norm: str

    @property
    def end(self) -> int:
        return self.start + len(self.raw)

    @property
    def blank(self) -> bool:
        return not self.norm.strip()


def split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    offset = 0
    # Folding never touches a line break, so the text is folded once and cut alongside.
    pairs = zip(text.split("\n"), fold(text).split("\n"), strict=True)
    for no, (raw, norm) in enumerate(pairs, start=1):
        body = raw[:-1] if raw.endswith("\r") else raw
        lines.append(Line(no, offset, body, norm[: len(body)]))
        offset += len(raw) + 1
    return lines


@dataclass(slots=True)
class Span:
    """A run of text assembled from pieces of one or more lines, with a map back to offsets."""

    raw: str
    norm: str
    offsets: list[int]  # document offset of every character of raw
    lines: list[int]  # line number of every character of raw

    @classmethod
    def empty(cls) -> Span:
        return cls("", "", [], [])

    @classmethod
    def concat(cls, spans: list[Span]) -> Span:
        """The spans one after another, built once: a + b + c … copies the growing span each
        time, quadratic over thousands of pieces."""
        if len(spans) == 1:
            return spans[0]
        return cls("".join(s.raw for s in spans), "".join(s.norm for s in spans),
                   [o for s in spans for o in s.offsets], [n for s in spans for n in s.lines])

    @classmethod
    def of_line(cls, line: Line, lo: int = 0, hi: int | None = None) -> Span:
        hi = len(line.raw) if hi is None else hi
        return cls(
            line.raw[lo:hi],
            line.norm[lo:hi],
            list(range(line.start + lo, line.start + hi)),
            [line.no] * (hi - lo),
        )

    @classmethod
    def of_stripped_line(cls, line: Line) -> Span:
        """`Span.of_line(line).strip()`, without first building the span of the whole line."""
        lo = len(line.norm) - len(line.norm.lstrip(" "))
        return cls.of_line(line, lo, max(lo, len(line.norm.rstrip(" "))))

    def __len__(self) -> int:
        return len(self.raw)

    def __add__(self, other: Span) -> Span:
        return Span(
            self.raw + other.raw,
            self.norm + other.norm,
            self.offsets + other.offsets,
            self.lines + other.lines,
        )

    def joined(self, other: Span, sep: str = "") -> Span:
        if not sep or not self.raw:
            return self + other
        anchor_off = self.offsets[-1] if self.offsets else 0
        anchor_line = self.lines[-1] if self.lines else 0
        glue = Span(sep, fold(sep), [anchor_off] * len(sep), [anchor_line] * len(sep))
        return self + glue + other

    def __getitem__(self, item: slice) -> Span:
        return Span(self.raw[item], self.norm[item], self.offsets[item], self.lines[item])

    def strip(self, chars: str = " ") -> Span:
        lo, hi = 0, len(self.norm)
        while lo < hi and self.norm[lo] in chars:
            lo += 1
        while hi > lo and self.norm[hi - 1] in chars:
            hi -= 1
        return self[lo:hi]

    def source(self, document: str) -> Source | None:
        """Where this span lies in `document`; its text is the document's own slice."""
        if not self.raw:
            return None
        start, end = self.offsets[0], self.offsets[-1] + 1
        return Source(
            line=self.lines[0], end_line=self.lines[-1], start=start, end=end,
            text=document[start:end],
        )
