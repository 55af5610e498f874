"""The log archive's size and speed: archive bytes per million 100-byte lines, the rate the
archiver writes them, and the rate they read back (issue 12: "archive bytes per million lines").

Lines are 100 bytes of text from 3 instances of one service, 60 lines a second for each over
one hour, in batches of 500 lines of one source, fed through the archiver (logs/archiver.py)
from the in-memory stream into a local archive in a temporary directory. Two kinds of text,
since compression depends on it:
- `access`: templated request logs (method, path with ids, status, latency, user, trace id),
  what most services print;
- `words`: words drawn from a 20,000-word vocabulary with Zipf frequencies (as
  benchmarks/log_index.py generates), a harder case for the compressor.
Baselines in the same run: the lines' text alone, and the same NDJSON records uncompressed.

Run: .venv/bin/python -m benchmarks.log_archive [--lines 1000000] [--kinds access,words]
     [--level 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dockyard.domain.environment import Environment
from dockyard.logs.archive import Archive, encode_record
from dockyard.logs.archiver import Archiver, Limits
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.record import Batch, Line, Source

LINE_BYTES = 100
BATCH = 500
INSTANCES = 3
HOUR = datetime(2026, 12, 6, 10, tzinfo=UTC)
HOUR_NS = int(HOUR.timestamp()) * 10**9
PATHS = ("/api/v1/orders", "/api/v1/cart", "/api/v1/users", "/healthz", "/api/v2/search")


def access_lines(rng: random.Random) -> Iterator[str]:
    while True:
        method = rng.choice(("GET", "GET", "GET", "POST", "PUT", "DELETE"))
        status = rng.choice((200,) * 18 + (404, 500))
        yield (
            f"{method} {rng.choice(PATHS)}/{rng.randint(1, 999_999)} {status} "
            f"{rng.uniform(0.2, 250):.1f}ms user=u{rng.randint(1, 50_000)} "
            f"trace={rng.getrandbits(64):016x}"
        )


def word_lines(rng: random.Random) -> Iterator[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = list(
        dict.fromkeys("".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(40_000))
    )[:20_000]
    weights = list(itertools.accumulate(1 / rank for rank in range(1, len(words) + 1)))
    level = ("INFO",) * 14 + ("DEBUG",) * 3 + ("WARN", "ERROR", "ERROR")
    while True:
        yield rng.choice(level) + " " + " ".join(rng.choices(words, cum_weights=weights, k=20))


KINDS: dict[str, Callable[[random.Random], Iterator[str]]] = {
    "access": access_lines,
    "words": word_lines,
}


def exactly(text: str) -> str:
    """The text cut or padded (with a counter-like tail) to LINE_BYTES."""
    return text[:LINE_BYTES].ljust(LINE_BYTES, ".")


def batches(kind: str, lines: int) -> Iterator[Batch]:
    rng = random.Random(7)
    texts = KINDS[kind](rng)
    per_source = lines // INSTANCES
    step_ns = 3600 * 10**9 // per_source
    sources = [
        Source("shop", "cart", Environment.ONLINE, f"i{n}", "console", "host-1")
        for n in range(INSTANCES)
    ]
    for first in range(1, per_source + 1, BATCH):
        last = min(per_source, first + BATCH - 1)
        for src in sources:
            yield Batch(
                src,
                tuple(
                    Line(seq, HOUR_NS + (seq - 1) * step_ns, "stdout", exactly(next(texts)))
                    for seq in range(first, last + 1)
                ),
            )


@dataclass(frozen=True)
class Result:
    kind: str
    lines: int
    text_bytes: int
    ndjson_bytes: int
    archive_bytes: int
    objects: int
    write_s: float
    read_s: float

    def show(self) -> str:
        mib = 2**20
        per_million = self.archive_bytes * 1_000_000 / self.lines / mib
        return (
            f"{self.kind}: {self.lines:,} lines of {LINE_BYTES} bytes\n"
            f"  text {self.text_bytes / mib:.1f} MiB, NDJSON records {self.ndjson_bytes / mib:.1f} "
            f"MiB, archive {self.archive_bytes / mib:.2f} MiB in {self.objects} objects\n"
            f"  archive bytes per million lines: {per_million:.2f} MiB "
            f"({self.ndjson_bytes / self.archive_bytes:.1f}x smaller than the NDJSON, "
            f"{self.text_bytes / self.archive_bytes:.1f}x than the text)\n"
            f"  archived {self.lines / self.write_s:,.0f} lines/s, "
            f"read back {self.lines / self.read_s:,.0f} lines/s"
        )


async def measure(kind: str, lines: int, level: int, root: Path) -> Result:
    stream = MemoryLogStream()
    text_bytes = ndjson_bytes = 0
    for batch in batches(kind, lines):
        await stream.publish(batch)
        text_bytes += sum(len(line.text.encode()) for line in batch.lines)
        ndjson_bytes += sum(len(encode_record(batch.source, line)) for line in batch.lines)
    archive = Archive(str(root / kind), level=level)
    clock = [HOUR.timestamp() + 60]
    limits = Limits(flush_interval_s=3600, max_held=100_000, max_batches=1000)
    archiver = Archiver(stream, archive, clock=lambda: clock[0], limits=limits)
    started = time.perf_counter()
    while not _all_taken(stream):
        await archiver.step(timeout_s=0.001)
    await archiver.flush()
    write_s = time.perf_counter() - started
    files = archive.files("shop", "cart", "online", since=HOUR)
    size = sum(p.stat().st_size for p in (root / kind).rglob("*.zst"))
    started = time.perf_counter()
    count = sum(
        1
        for _ in archive.lines(
            "shop", "cart", "online", since=HOUR, until=HOUR + timedelta(hours=1)
        )
    )
    read_s = time.perf_counter() - started
    assert count == lines // INSTANCES * INSTANCES, f"read back {count} lines"
    return Result(kind, count, text_bytes, ndjson_bytes, size, len(files), write_s, read_s)


def _all_taken(stream: MemoryLogStream) -> bool:
    consumer = stream._consumers.get("archiver")  # the fake's own books
    return consumer is not None and consumer.next_index >= len(stream.batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--kinds", default="access,words")
    parser.add_argument("--level", type=int, default=3, help="zstd level (the archive's: 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dockyard-archive-bench-") as tmp:
        for kind in args.kinds.split(","):
            print(asyncio.run(measure(kind, args.lines, args.level, Path(tmp))).show(), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB (the stream's batches are held in memory by the fake)")


if __name__ == "__main__":
    main()
