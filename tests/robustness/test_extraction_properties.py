"""The extraction engine on input nobody should send: arbitrary text, seeds cut anywhere (in
the middle of a UTF-8 character too), GB18030 spliced into UTF-8, random bytes, a broken
.docx, ten thousand nested or unclosed brackets, lines of a megabyte, ten megabytes.

It answers with an extraction or refuses with its own documented error, UnreadableDocument
(EmptyDocument, BinaryDocument, UnknownEncoding: a 422 in the API), and nothing else; and it
finishes. Each call runs in a worker process started for these tests, so a hang fails the
test at its time limit instead of stalling the run; the worker reports its own time too."""

from __future__ import annotations

import io
import multiprocessing
import time
from pathlib import Path

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import UnreadableDocument
from app.extraction import extract, extract_text

SEEDS = [p.read_bytes() for p in sorted((Path(__file__).parents[2] / "seed").glob("*.txt"))]
HEAD = SEEDS[1].decode()[:3000]  # a real title, issuer and first heading
REFUSALS = {"EmptyDocument", "BinaryDocument", "UnknownEncoding", "UnreadableDocument"}


def _run(data: bytes | str) -> tuple[str, str, float]:
    """In the worker: ("ok", task count) or ("refused", error) or ("crash", …), and seconds."""
    start = time.perf_counter()
    try:
        found = extract(data) if isinstance(data, bytes) else extract_text(data)
        outcome = ("ok", str(len(found.tasks)))
    except UnreadableDocument as e:
        outcome = ("refused", type(e).__name__)
    except Exception as e:  # noqa: BLE001  (the property: this branch is never taken)
        outcome = ("crash", f"{type(e).__name__}: {e}"[:300])
    return (*outcome, time.perf_counter() - start)


class Engine:
    def __init__(self) -> None:
        self.pool = multiprocessing.get_context("spawn").Pool(1)
        self.calls = 0

    def __call__(self, data: bytes | str, seconds: float = 10) -> tuple[str, str]:
        self.calls += 1
        pending = self.pool.apply_async(_run, (data,))
        try:
            outcome, detail, took = pending.get(timeout=seconds * 3 + 30)
        except multiprocessing.TimeoutError:
            self.pool.terminate()  # the worker this fixture started, and only it
            self.pool = multiprocessing.get_context("spawn").Pool(1)
            raise AssertionError(f"no answer in {seconds * 3 + 30:.0f} s: {_show(data)}") from None
        assert outcome != "crash", f"{detail} on {_show(data)}"
        assert outcome == "ok" or detail in REFUSALS, (outcome, detail)
        assert took < seconds, f"{took:.1f} s (limit {seconds} s) on {_show(data)}"
        return outcome, detail


def _show(data: bytes | str) -> str:
    return f"{type(data).__name__} of {len(data)}: {data[:60]!r}…"


@pytest.fixture(scope="module")
def engine():
    worker = Engine()
    yield worker
    worker.pool.close()
    worker.pool.join()


def examples(strategy, count: int) -> list:
    """Derandomized examples, collected first: each is then sent to the worker process."""
    found: list = []

    @settings(max_examples=count, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value) -> None:
        found.append(value)

    collect()
    return found


class TestAnyInput:
    def test_arbitrary_text_is_read_and_its_utf8_is_read_or_refused(self, engine):
        for text in examples(st.text(max_size=3000), 120):
            assert engine(text)[0] == "ok"
            engine(text.encode("utf-8"))

    def test_random_bytes_are_read_or_refused(self, engine):
        outcomes = {engine(data) for data in examples(st.binary(max_size=4096), 120)}
        assert ("refused", "BinaryDocument") in outcomes and ("refused", "UnknownEncoding") in outcomes

    def test_seeds_cut_anywhere_are_read_or_refused(self, engine):
        cuts = examples(st.tuples(st.integers(0, len(SEEDS) - 1), st.floats(0, 1)), 40)
        for which, at in cuts:
            seed = SEEDS[which]
            engine(seed[: int(len(seed) * at)])  # may end inside a character
            engine(seed.decode()[: int(len(seed) * at) // 3])

    def test_gb18030_spliced_into_utf8_is_read_or_refused(self, engine):
        splices = examples(st.tuples(st.integers(0, 4), st.floats(0, 1), st.integers(1, 4000)), 30)
        refused = 0
        for which, at, size in splices:
            seed, cut = SEEDS[which], int((len(SEEDS[which]) - 1) * at)
            cut -= next(i for i in range(4) if cut - i <= 0 or seed[cut - i] & 0xC0 != 0x80)
            foreign = SEEDS[(which + 1) % 5].decode()[:size].encode("gb18030")
            refused += engine(seed[:cut] + foreign + seed[cut:])[0] == "refused"
        assert refused, "mixed encodings are refused at least sometimes, not all read as text"

    def test_a_broken_docx_is_refused(self, engine):
        document = docx.Document()
        for line in HEAD.splitlines()[:40]:
            document.add_paragraph(line)
        buffer = io.BytesIO()
        document.save(buffer)
        whole = buffer.getvalue()
        assert engine(whole)[0] == "ok"
        for at in examples(st.integers(4, len(whole) - 1), 25):
            engine(whole[:at])
        for tail in examples(st.binary(max_size=2000), 25):
            engine(b"PK\x03\x04" + tail)


N = 40_000
SHAPES = {
    "nested （…） × 40k": "1.推进工作。" + "（" * N + "市发改委" + "）" * N,
    "unclosed （ × 40k": "1.推进工作。" + "（" * N,
    "unclosed 〔 × 40k": "1.推进工作。" + "〔" * N + "牵头单位：市发改委",
    "closing ） × 40k": "1.推进工作。" + "）" * N,
    "（〔【 mixed × 40k": "1.推进工作。" + "（〔【" * (N // 3),
    "（ on 40k lines": "（\n" * N,
    "a 1 MB line": "1.推进工作" + "，推进建设" * 200_000 + "。〔牵头单位：市发改委〕",
    "50k units in one list": "1.推进工作。〔责任单位：" + "、".join(["市发改委"] * 50_000) + "〕",
    "5000 numbered items": "".join(f"{i}.推进第{i}项工作。〔责任单位：市发改委〕\n" for i in range(5000)),
}


class TestSize:
    @pytest.mark.parametrize("shape", SHAPES)
    def test_pathological_shapes_finish_in_seconds(self, engine, shape):
        # Each took 1 to 4 minutes before: a bracket's partner, a paragraph's text and a task's
        # span were each rebuilt from the start for every bracket, line or paragraph.
        assert engine(HEAD + "\n" + SHAPES[shape] + "\n", seconds=10)[0] == "ok"

    def test_ten_megabytes_of_prose_take_linear_time(self, engine):
        prose = ("这是一段说明背景的文字，没有任务编号，也没有责任单位。\n" * 200_000).encode()
        linear(engine, lambda size: SEEDS[1] + prose[: size - len(SEEDS[1])], 10_000_000)

    def test_four_megabytes_of_tasks_take_linear_time(self, engine):
        # Dense task text is the engine's slowest input, ~2.5 s a MB on a busy 2-core machine
        # (prose ~1 s a MB): 10 MB of it would take half a minute, in linear time still.
        seeds = b"\n".join(SEEDS) * 20
        linear(engine, lambda size: seeds[:size], 4_000_000)


def linear(engine: Engine, make, size: int) -> None:
    """`size` bytes take at most linear time of one MB of the same text: 2.5 times that, for
    a shared machine; a quadratic step would take size/1MB times more."""
    start = time.perf_counter()
    engine(make(1_000_000), seconds=60)
    one = time.perf_counter() - start
    data = make(size)
    assert len(data) == size and engine(data, seconds=max(2.5 * one * size / 1e6, 10))[0] == "ok"
