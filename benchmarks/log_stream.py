"""Publish throughput of the log stream: the limit the agent's shipper works against.

A plain loop publishes batches of `--lines-per-batch` 100-byte lines of one source, each
acknowledged by JetStream before the next (as the shipper does), to a real nats-server with
JetStream on file storage. Three loops over the same batches, in the same run:

- `JetStreamLogStream.publish` (logs/jetstream.py): encode + `Nats-Msg-Id` + PubAck;
- nats-py's `publish` with the same message ids (the adapter's own cost is the difference);
- nats-py's `publish` without message ids (what deduplication costs the server).

Each loop runs once per round, in turn, after a warm-up loop (a fresh store's first writes are
slower); printed for each, its median round: batches/s, lines/s, MiB/s of line text and MiB/s
of encoded messages.

Run: .venv/bin/python -m benchmarks.log_stream [--batches 2000] [--lines-per-batch 500]
     [--rounds 3] [--url nats://127.0.0.1:4222]
Without --url a throwaway nats-server (Debian's) is started on a free loopback port and removed.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats

from dockyard.domain.environment import Environment
from dockyard.logs.jetstream import MSG_ID, STREAM, JetStreamLogStream
from dockyard.logs.record import Batch, Line, Source
from tests.support.nats import NatsServer

LINE_BYTES = 100
MIB = 1 << 20


@dataclass(frozen=True)
class Figure:
    name: str
    batches: int
    lines: int
    text_bytes: int
    wire_bytes: int
    seconds: float

    def row(self) -> str:
        s = self.seconds
        return (
            f"  {self.name:<34} {self.batches / s:>8,.0f} batches/s {self.lines / s:>10,.0f} "
            f"lines/s {self.text_bytes / s / MIB:>7.1f} MiB/s text "
            f"{self.wire_bytes / s / MIB:>7.1f} MiB/s encoded"
        )


def make_batches(instance: str, count: int, per_batch: int) -> list[Batch]:
    source = Source("bench", "writer", Environment.TEST, instance)
    now = time.time_ns()
    batches = []
    for b in range(count):
        first = b * per_batch + 1
        lines = tuple(
            Line(n, now + n, "stdout", f"{n:012d} ".ljust(LINE_BYTES - 1, "x"))
            for n in range(first, first + per_batch)
        )
        batches.append(Batch(source, lines))
    return batches


async def timed(
    name: str, batches: list[Batch], publish: Callable[[Batch], Awaitable[None]]
) -> Figure:
    await publish(batches[0])  # connect and make the stream outside the timing
    started = time.perf_counter()
    for batch in batches[1:]:
        await publish(batch)
    seconds = time.perf_counter() - started
    rest = batches[1:]
    return Figure(
        name=name,
        batches=len(rest),
        lines=sum(len(b.lines) for b in rest),
        text_bytes=sum(len(line.text) + 1 for b in rest for line in b.lines),
        wire_bytes=sum(len(b.encode()) for b in rest),
        seconds=seconds,
    )


async def run(url: str, count: int, per_batch: int, rounds: int) -> list[Figure]:
    """Each loop once per round, in turn (the store's first writes and the machine's noise
    fall on all of them alike); each loop's median round."""
    stream = JetStreamLogStream([url], max_bytes=8 << 30)
    client = await nats.connect(url)
    js = client.jetstream(timeout=10)

    async def raw(batch: Batch, *, with_id: bool) -> None:
        headers = {MSG_ID: batch.msg_id} if with_id else None
        await js.publish(batch.source.subject, batch.encode(), stream=STREAM, headers=headers)

    loops: dict[str, Callable[[Batch], Awaitable[None]]] = {
        "JetStreamLogStream.publish (ids)": stream.publish,
        "nats-py publish, with ids": lambda b: raw(b, with_id=True),
        "nats-py publish, no ids": lambda b: raw(b, with_id=False),
    }
    seen: dict[str, list[Figure]] = {name: [] for name in loops}
    try:
        await timed("warm-up", make_batches("warm-up", count, per_batch), stream.publish)
        for round_ in range(rounds):
            for index, (name, publish) in enumerate(loops.items()):
                batches = make_batches(f"r{round_}-{index}", count, per_batch)
                seen[name].append(await timed(name, batches, publish))
    finally:
        await stream.close()
        await client.close()
    return [
        sorted(figures, key=lambda f: f.seconds)[len(figures) // 2] for figures in seen.values()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--lines-per-batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    server = None
    if args.url is None:
        server = NatsServer()
        server.start()
    url = args.url or (server.url if server else "")
    try:
        figures = asyncio.run(run(url, args.batches + 1, args.lines_per_batch, args.rounds))
    finally:
        if server is not None:
            server.remove()
    print(
        f"log stream publish loop: {args.batches:,} batches of {args.lines_per_batch} "
        f"{LINE_BYTES}-byte lines, each acknowledged before the next, nats-server at {url}; "
        f"median of {args.rounds} rounds after a warm-up"
    )
    for figure in figures:
        print(figure.row())


if __name__ == "__main__":
    main()
