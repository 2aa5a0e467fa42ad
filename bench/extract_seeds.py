"""Time the extraction of the seed documents on one core: best and median of N rounds.

    python bench/extract_seeds.py [ROUNDS]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from app.extraction import extract

SEED = Path(__file__).parents[1] / "seed"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    documents = [p.read_bytes() for p in sorted(SEED.glob("*.txt"))]
    for data in documents:  # warm the regex caches, as a long-running server would be
        extract(data)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        tasks = sum(len(extract(data).tasks) for data in documents)
        times.append(time.perf_counter() - start)
    size = sum(map(len, documents)) / 1024
    print(f"extract {len(documents)} seed documents ({size:.0f} KiB, {tasks} tasks), one core, "
          f"{rounds} rounds: best {min(times):.3f} s, median {statistics.median(times):.3f} s "
          f"(target < 0.5 s)")


if __name__ == "__main__":
    main()
