"""Log search engines side by side on the same generated lines: indexing rate, size on disk,
and query latency (issue 12's benchmark for the indexer's engine).

Lines: ~100 bytes of words drawn from a 20,000-word vocabulary with Zipf frequencies
(1/rank), a level word in front, from 100 services of 5 teams (3 instances each), spread over
36 hours (so over two day partitions); 20 rare words are planted a few times each. Each engine
indexes the same lines through the LogIndex seam, in batches of 500 lines of one source,
committing every 100,000 lines (what the indexer does under load). Then p50/p95 of 20 runs
of: a rare word over all; a common word in one service; a two-word phrase; the newest page of
one service with no text. Target (issue): p95 <= 200 ms for the first two.

Run: .venv/bin/python -m benchmarks.log_index [--lines 10000000] [--engines fts5,tantivy]
     [--dir /var/tmp/dockyard-bench] [--keep]
`--engines fts5,tantivy,chdb` adds chdb (benchmarks/log_index_chdb.py) if it is installed.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from benchmarks.harness import median, percentile
from dockyard.domain.environment import Environment
from dockyard.logs.index import open_engine
from dockyard.logs.index.base import Filters, Page
from dockyard.logs.query import Query, parse
from dockyard.logs.record import Batch, Line, Source

VOCABULARY = 20_000
POOL = 1 << 22  # words drawn once; each line is a window of it at a random place
TEAMS = 5
SERVICES = 100
INSTANCES = 3
SPAN_NS = 36 * 3600 * 10**9
START_NS = 1_764_979_200 * 10**9 - 12 * 3600 * 10**9  # noon UTC, the day before a partition edge
BATCH = 500
COMMIT_EVERY = 100_000
RARE = 20
RUNS = 20
LEVELS = ("INFO",) * 14 + ("DEBUG",) * 3 + ("WARN", "ERROR", "ERROR")


class Candidate(Protocol):
    """What the benchmark uses of an engine: a LogIndex, or benchmarks/log_index_chdb.py."""

    def add(self, batches: Sequence[Batch]) -> object: ...
    def commit(self) -> None: ...
    def search(self, filters: Filters, query: Query, *, limit: int = 100) -> Page: ...
    def size_bytes(self) -> int: ...
    def days(self) -> tuple[str, ...]: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Corpus:
    words: list[str]
    pool: list[str]
    sources: list[Source]
    rare: list[str]
    lines: int

    @property
    def per_source(self) -> int:
        return -(-self.lines // len(self.sources))


def corpus(lines: int, seed: int = 12) -> Corpus:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = list(
        dict.fromkeys(
            "".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(VOCABULARY * 2)
        )
    )[:VOCABULARY]
    weights = list(itertools.accumulate(1 / rank for rank in range(1, VOCABULARY + 1)))
    pool = rng.choices(words, cum_weights=weights, k=POOL)
    sources = [
        Source(f"team{s % TEAMS}", f"svc{s:03d}", Environment.ONLINE, f"svc{s:03d}-{i}")
        for s in range(SERVICES)
        for i in range(INSTANCES)
    ]
    rare = [f"zqrare{k:02d}" for k in range(RARE)]
    return Corpus(words, pool, sources, rare, lines)


def batches(c: Corpus, seed: int = 34) -> Iterator[list[Batch]]:
    """The corpus's lines as commit groups of batches, round-robin over the sources."""
    rng = random.Random(seed)
    step = SPAN_NS // c.lines
    per_source = c.per_source
    plant = {rng.randrange(c.lines): c.rare[k % RARE] for k in range(RARE * 5)}
    group: list[Batch] = []
    written = 0
    for first in range(1, per_source + 1, BATCH):
        for number, source in enumerate(c.sources):
            count = min(BATCH, per_source - first + 1, c.lines - written)
            if count <= 0:
                break
            lines = tuple(
                _line(c, rng, plant, seq, START_NS + (written + k) * step, number)
                for k, seq in enumerate(range(first, first + count))
            )
            group.append(Batch(source, lines))
            written += count
            if sum(len(b.lines) for b in group) >= COMMIT_EVERY:
                yield group
                group = []
    if group:
        yield group


def _line(
    c: Corpus, rng: random.Random, plant: dict[int, str], seq: int, time_ns: int, number: int
) -> Line:
    at = rng.randrange(POOL - 16)
    words = c.pool[at : at + 13]
    planted = plant.get((time_ns - START_NS) // (SPAN_NS // c.lines))
    if planted:
        words = [*words[:6], planted, *words[6:]]
    text = f"{LEVELS[at % len(LEVELS)]} " + " ".join(words)
    return Line(seq, time_ns, "stderr" if number % 7 == 0 else "stdout", text)


def index_all(index: Candidate, c: Corpus) -> float:
    """Seconds spent in add + commit for the whole corpus (generation not counted)."""
    spent = 0.0
    for group in batches(c):
        started = time.perf_counter()
        index.add(group)
        index.commit()
        spent += time.perf_counter() - started
    return spent


def workloads(c: Corpus) -> dict[str, Callable[[int], tuple[Filters, Query]]]:
    common = c.words[:10]
    phrase_at = [POOL // RUNS * k for k in range(RUNS)]

    def service(run: int) -> str:
        return f"svc{(run * 37) % SERVICES:03d}"

    return {
        "rare word, all lines": lambda run: (Filters(), parse(c.rare[run % RARE])),
        "common word, one service": lambda run: (
            Filters(service=service(run)),
            parse(common[run % len(common)]),
        ),
        "phrase, all lines": lambda run: (
            Filters(),
            parse(f'"{c.pool[phrase_at[run] + 200]} {c.pool[phrase_at[run] + 201]}"'),
        ),
        "newest page, one service": lambda run: (Filters(service=service(run)), parse("")),
    }


def measure(index: Candidate, c: Corpus) -> dict[str, tuple[float, float, int]]:
    """Per workload: p50 and p95 in ms over RUNS runs, and the hits of the last run."""
    out: dict[str, tuple[float, float, int]] = {}
    for name, make in workloads(c).items():
        times: list[float] = []
        hits = 0
        for run in range(RUNS):
            filters, query = make(run)
            started = time.perf_counter()
            hits = len(index.search(filters, query, limit=100).hits)
            times.append((time.perf_counter() - started) * 1000)
        out[name] = (median(times), percentile(times, 95), hits)
    return out


def candidate(engine: str, root: Path) -> Candidate:
    if engine == "chdb":
        from benchmarks.log_index_chdb import ChdbTable

        return ChdbTable(root / engine)
    return open_engine(engine, root)


def run_engine(engine: str, c: Corpus, root: Path) -> None:
    index = candidate(engine, root)
    try:
        seconds = index_all(index, c)
        size = index.size_bytes()
        print(
            f"{engine:8} indexed {c.lines:,} lines in {seconds:.1f} s: "
            f"{c.lines / seconds:,.0f} lines/s, {size / 2**20 / (c.lines / 1e6):,.1f} MiB "
            f"per million lines ({size / 2**20:,.0f} MiB, {len(index.days())} partitions)",
            flush=True,
        )
        for name, (p50, p95, hits) in measure(index, c).items():
            mark = (
                ""
                if "rare" not in name and "common" not in name
                else ("  ok" if p95 <= 200 else "  OVER 200 ms")
            )
            print(
                f"{engine:8}   {name:26} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  ({hits} hits){mark}",
                flush=True,
            )
    finally:
        index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--engines", default="fts5,tantivy")
    parser.add_argument("--dir", type=Path, default=None, help="where the indexes go")
    parser.add_argument("--keep", action="store_true", help="leave the indexes on disk")
    args = parser.parse_args()
    started = time.perf_counter()
    c = corpus(args.lines)
    print(f"corpus ready in {time.perf_counter() - started:.1f} s", flush=True)
    root = Path(tempfile.mkdtemp(prefix="dockyard-logbench-", dir=args.dir))
    try:
        for engine in args.engines.split(","):
            run_engine(engine.strip(), c, root)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
