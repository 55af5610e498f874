"""The log center end to end on real parts (issue 12's benchmark): Docker's json-file log of one
container, the agent's log part (agent/logs.py ConsoleLogs + logs/shipper.py) in a process of
its own, a nats-server with JetStream, and the indexer (logs/indexer.py) in another process,
writing the index engine of DOCKYARD_LOG_INDEX_ENGINE's default (tantivy).

1. Throughput: one container (benchmarks/log_writer.py, a static C writer) prints `--lines`
   numbered 100-byte lines as fast as Docker takes them; printed: lines/s written (Docker's
   json-file), read and sent (published and acknowledged by JetStream) by the agent, indexed;
   the agent process's CPU % (of one core) and peak RSS, from /proc. Twice: live (the agent
   follows the container as it writes: bounded by how fast Docker writes its json-file), and
   from a backlog (the container wrote everything first, then the agent starts: the agent's own
   limit, like a shipper benchmark reading a file). Baseline in the same run: a plain loop
   publishing the same batches (what the agent's reader makes of the same json-file lines:
   wire version 2, Docker's lines as they are, with message ids, each acknowledged before the
   next, as the shipper does) to the same JetStream: the limit. The loop publishing the same
   lines as version 1 (decoded lines, JSON-encoded per batch, the agent's former way) is shown
   beside it. Target: the agent >= 50 % of the limit, and >= 35 MiB/s if the stream allows it.
2. Write -> searchable latency: one container writes `--rate` lines/s for `--seconds`; every
   100th line is looked for by its own word through a separate reader handle of the index (as
   the server opens it), and the time it is first found minus the time written in the line is
   its latency. Printed: p50 / p95 / max. Target: p95 <= 2 s.

Everything it starts (containers, processes, nats-server, temp dirs) is removed at its end;
traffic stays on loopback (containers run with no network).

Run: .venv/bin/python -m benchmarks.logs [--lines 1000000] [--rate 5000] [--seconds 30]
     [--engine tantivy] [--parts 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import docker
import nats

from benchmarks.harness import median, percentile
from benchmarks.log_writer import LINE_BYTES, ensure_writer_image
from dockyard.domain.environment import Environment
from dockyard.domain.instance import (
    LABEL_ENV,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_PLATFORM,
    LABEL_REVISION,
    LABEL_SERVICE,
    LABEL_TEAM,
    LABEL_TEMPLATE,
)
from dockyard.logs.jetstream import STREAM, JetStreamLogStream
from dockyard.logs.raw import RawBatch
from dockyard.logs.reader import Format, Reader
from dockyard.logs.record import Batch, Source
from dockyard.logs.shipper import BATCH
from dockyard.logs.wire import Message
from tests.support.engine import ensure_engine
from tests.support.nats import NatsServer

STREAM_BYTES = 4 << 30  # settings' default DOCKYARD_LOG_STREAM_MAX_BYTES
LOG_CONFIG = {"type": "json-file", "config": {"max-size": "100m", "max-file": "5"}}
"""Room for the whole burst (the agent's reading, not rotation, is measured); Dockyard's own
default is 10m x 3."""
REPORT_S = 0.1
TICKS = os.sysconf("SC_CLK_TCK")
MIB = 2**20


# ---- the measured processes (children of the benchmark) ----------------------------------


async def _ship(url: str, team: str, checkpoints: Path) -> None:
    """The agent's log part as `dockyard agent` builds it, for one team's containers."""
    from dockyard.agent.logs import ConsoleLogs
    from dockyard.domain.instance import Owner
    from dockyard.logs.checkpoint import CheckpointStore
    from dockyard.logs.shipper import Shipper

    stream = JetStreamLogStream([url], max_bytes=STREAM_BYTES)
    engine = docker.APIClient(version="1.41", timeout=60)
    shipper = Shipper(stream, CheckpointStore(checkpoints), max_line_bytes=16 << 10)
    part = asyncio.create_task(
        ConsoleLogs(engine=engine, shipper=shipper, owner=Owner(team=team)).run()
    )
    while not part.done():
        total = shipper.counters.total()
        _report(read=total.lines_read, sent=total.lines_sent, lost=total.lost)
        await asyncio.sleep(REPORT_S)
    await part


async def _index(url: str, engine: str, index_dir: Path) -> None:
    """The indexer as `dockyard indexer` builds it."""
    from dockyard.logs.index import open_engine
    from dockyard.logs.indexer import Indexer

    worker = Indexer(
        JetStreamLogStream([url], max_bytes=STREAM_BYTES), open_engine(engine, index_dir)
    )
    task = asyncio.create_task(worker.run())
    while not task.done():
        _report(indexed=worker.counters.lines, commits=worker.counters.commits)
        await asyncio.sleep(REPORT_S)
    await task


def _report(**counters: int) -> None:
    print(json.dumps(counters), flush=True)


@dataclass
class Child:
    """A measured child process; its latest counters (one JSON line each REPORT_S)."""

    process: subprocess.Popen[str]
    latest: dict[str, int] = field(default_factory=dict)

    @classmethod
    def start(cls, *argv: str) -> Child:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.logs", *argv],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        child = cls(process)
        threading.Thread(target=child._follow, daemon=True).start()
        return child

    def _follow(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.latest = json.loads(line)

    def get(self, name: str) -> int:
        return self.latest.get(name, 0)

    def cpu_s(self) -> float:
        """User + system CPU seconds of the process (all its threads) so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def waited_s(self) -> float:
        """Seconds its threads spent runnable but waiting for a CPU (the scheduler's run
        delay, /proc/PID/task/*/schedstat): what a loaded machine took from it."""
        total = 0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int((task / "schedstat").read_text().split()[1])
        return total / 1e9

    def rss_mib(self, which: str = "VmHWM") -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(which + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def children(*argvs: list[str]) -> Iterator[list[Child]]:
    made: list[Child] = []
    try:
        for argv in argvs:
            made.append(Child.start(*argv))
        yield made
    finally:
        for child in made:
            child.stop()


def until(check: Callable[[], bool], timeout_s: float) -> float:
    """The monotonic time `check` was first seen true (polled every 10 ms); TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not seen within {timeout_s:g} s")
        time.sleep(0.01)
    return time.monotonic()


def milestones(
    counters: dict[str, Callable[[], int]], total: int, timeout_s: float
) -> dict[str, tuple[float, float, float]]:
    """For each named counter, the monotonic times it reached 10 %, 90 % and 100 % of `total`.
    TimeoutError if one does not within `timeout_s`."""
    marks = (total // 10, total - total // 10, total)
    seen: dict[str, list[float]] = {name: [] for name in counters}
    deadline = time.monotonic() + timeout_s
    while any(len(times) < 3 for times in seen.values()):
        if time.monotonic() > deadline:
            got = {name: count() for name, count in counters.items()}
            raise TimeoutError(f"not all {total:,} lines within {timeout_s:g} s: {got}")
        for name, count in counters.items():
            times, value, now = seen[name], count(), time.monotonic()
            while len(times) < 3 and value >= marks[len(times)]:
                times.append(now)
        time.sleep(0.01)
    return {name: (t[0], t[1], t[2]) for name, t in seen.items()}


# ---- the writer container ------------------------------------------------------------------


def start_writer(client: docker.APIClient, image: str, team: str, *, count: int, rate: int) -> str:
    labels = {
        LABEL_MANAGED: "true", LABEL_TEAM: team, LABEL_SERVICE: "writer", LABEL_ENV: "test",
        LABEL_REVISION: "1", LABEL_INSTANCE: "i" + secrets.token_hex(4), LABEL_TEMPLATE: "t",
        # A platform of its own: the agents of platforms on the same engine leave it alone.
        LABEL_PLATFORM: "bench-" + team,
    }  # fmt: skip
    host_config = client.create_host_config(log_config=LOG_CONFIG, network_mode="none")
    container = client.create_container(
        image, command=[str(count), str(rate)], labels=labels, host_config=host_config
    )
    client.start(container["Id"])
    return str(container["Id"])


def written_at(client: docker.APIClient, container_id: str) -> float:
    """Seconds from the container's start to its end, by the engine's own clock."""
    state = client.inspect_container(container_id)["State"]
    started, finished = (_engine_time(state[k]) for k in ("StartedAt", "FinishedAt"))
    return finished - started


def _engine_time(text: str) -> float:
    from datetime import datetime

    whole, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float("0." + (frac or "0"))


@contextlib.contextmanager
def searchable(ctx: Bench, team: str) -> Iterator[Callable[[], int]]:
    """How many of `team`'s lines a search finds now, through a reader handle of the index
    (as the server opens it: it only reads)."""
    from dockyard.logs.index import Filters, open_engine
    from dockyard.logs.query import parse

    reader = open_engine(ctx.engine, ctx.index_dir)
    try:
        yield lambda: reader.count(Filters(team=team), parse(""))
    finally:
        reader.close()


# ---- 1. throughput ---------------------------------------------------------------------------


def json_file(path: Path, lines: int) -> None:
    """`lines` of the writer's 100-byte lines as Docker's json-file driver stores them."""
    pad = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incidid"
    now = time.time_ns()
    with path.open("w") as out:
        for n in range(1, lines + 1):
            at = now + n * 1000
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at // 10**9))
            text = f"w{n:09d} t{at:019d} {pad}"[: LINE_BYTES - 1]
            out.write(
                f'{{"log":"{text}\\n","stream":"stdout","time":"{stamp}.{at % 10**9:09d}Z"}}\n'
            )


def same_batches(lines: int, root: Path) -> tuple[list[RawBatch], list[Batch]]:
    """The batches the agent makes of `lines` json-file lines of one source (its own reader,
    in the shipper's batch limits), as it sends them (wire version 2) and decoded (version 1)."""
    source = Source("baseline", "writer", Environment.TEST, "i0", host="bench")
    path = root / "baseline-json.log"
    json_file(path, lines)
    reader = Reader(path, fmt=Format.JSON_FILE, stream="", max_line_bytes=16 << 10, at=None)
    raw: list[RawBatch] = []
    try:
        while not (read := reader.read(BATCH)).at_end or read.raw is not None:
            if read.raw is None:
                raise RuntimeError("the baseline's lines were not taken whole")
            raw.append(RawBatch(source, read.raw))
    finally:
        reader.close()
        path.unlink()
    return raw, [batch.batch() for batch in raw]


async def publish_loop(url: str, batches: Sequence[Message]) -> tuple[float, float]:
    """The baseline: seconds to publish `batches` one after another, each acknowledged before
    the next, and the CPU seconds this process spent on it."""
    stream = JetStreamLogStream([url], max_bytes=STREAM_BYTES)
    try:
        await stream.publish(batches[0])  # connect and make the stream outside the timing
        started, cpu = time.perf_counter(), time.process_time()
        for batch in batches[1:]:
            await stream.publish(batch)
        scale = len(batches) / (len(batches) - 1)
        return (time.perf_counter() - started) * scale, (time.process_time() - cpu) * scale
    finally:
        await stream.close()


def baseline(ctx: Bench, batches: Sequence[Message]) -> tuple[float, float]:
    """One publish loop on an empty stream, which it leaves empty. Each loop sends as an
    instance of its own: JetStream keeps its duplicate window through a purge, and the same
    message ids again would only be found duplicates, not stored."""
    source = replace(batches[0].source, instance="i" + secrets.token_hex(4))
    batches = [
        RawBatch(source, b.raw) if isinstance(b, RawBatch) else Batch(source, b.lines)
        for b in batches
    ]
    took = asyncio.run(publish_loop(ctx.nats.url, batches))
    asyncio.run(purge(ctx.nats.url))
    return took


async def purge(url: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().purge_stream(STREAM)
    finally:
        await client.close()


@dataclass(frozen=True)
class Phase:
    """When a counter reached 10 %, 90 % and all of the lines, from the container's start (the
    indexer's: from its own)."""

    lines: int
    p10: float
    p90: float
    end: float

    @property
    def steady(self) -> float:
        """Lines/s between 10 % and 90 %: the rate once started, before the tail."""
        return 0.8 * self.lines / max(self.p90 - self.p10, 1e-9)

    def whole(self) -> str:
        whole = self.lines / self.end
        mib = whole * LINE_BYTES / MIB
        return f"{whole:>9,.0f} lines/s ({mib:5.1f} MiB/s) in all ({self.end:.1f} s)"

    def show(self) -> str:
        steady, whole = self.steady, self.lines / self.end
        return (
            f"{steady:>9,.0f} lines/s ({steady * LINE_BYTES / MIB:5.1f} MiB/s) steady, "
            f"{whole:>9,.0f} lines/s in all ({self.end:.1f} s)"
        )


@dataclass(frozen=True)
class Shipping:
    """One run of the agent shipping the container's lines."""

    phases: dict[str, Phase]
    """read, sent"""
    cpu_s: float
    cpu_pct: float
    waited_pct: float
    rss_mib: float
    lost: int

    def rows(self, lines: int) -> list[str]:
        return [
            f"    read by the agent          {self.phases['read'].show()}",
            f"    sent (JetStream acked)     {self.phases['sent'].show()}",
            f"    agent CPU {self.cpu_pct:.0f}% of one core, {1e6 * self.cpu_s / lines:.2f} us "
            f"per line; waited for a CPU {self.waited_pct:.0f}% of the time; peak RSS "
            f"{self.rss_mib:.0f} MiB; lines lost {self.lost}",
        ]


@dataclass(frozen=True)
class Throughput:
    lines: int
    loops: list[tuple[float, float]]
    """(seconds, CPU seconds) of the publish loop of the agent's batches (wire version 2),
    before and after the agent's turns."""
    loops_v1: list[tuple[float, float]]
    """The same for the same lines in wire version 1."""
    written_s: float
    live: Shipping
    backlog: Shipping
    indexed: Phase

    def show(self) -> str:
        limit = max(self.lines / wall for wall, _ in self.loops)
        sent = self.backlog.phases["sent"].steady
        rows = [
            f"1. one container, {self.lines:,} lines of {LINE_BYTES} bytes, as fast as it can:",
            f"  written (Docker json-file) {self.lines / self.written_s:>9,.0f} lines/s "
            f"({self.lines / self.written_s * LINE_BYTES / MIB:5.1f} MiB/s)",
            "  live (the agent follows the container as it writes):",
            *self.live.rows(self.lines),
            "  backlog (the container wrote everything first, then the agent starts):",
            *self.backlog.rows(self.lines),
            f"  indexed, alone afterwards  {self.indexed.whole()}",
            "  baseline: plain publish loop of the same batches, before / after: "
            + self._loops(self.loops)
            + f" (best {limit * LINE_BYTES / MIB:.1f} MiB/s)",
            "  the same lines as wire version 1 (decoded, JSON per batch): "
            + self._loops(self.loops_v1),
            f"  agent sent (backlog, steady) / baseline = {sent / limit:.0%} (target >= 50%); "
            f"{sent * LINE_BYTES / MIB:.1f} MiB/s (target >= 35 MiB/s if the stream allows)",
            f"  agent sent (live, steady) / written by Docker = "
            f"{self.live.phases['sent'].steady * self.written_s / self.lines:.0%}",
        ]
        return "\n".join(rows)

    def _loops(self, loops: list[tuple[float, float]]) -> str:
        rates = " / ".join(f"{self.lines / wall:,.0f}" for wall, _ in loops)
        cpu = min(cpu for _, cpu in loops)
        return f"{rates} lines/s, {1e6 * cpu / self.lines:.2f} us CPU per line"


def throughput(ctx: Bench, lines: int) -> Throughput:
    """The agent ships with no indexer beside it (that CPU is the agent's on a busy host too,
    but not what this compares); the indexer then takes the filled stream alone."""
    raw, decoded = same_batches(lines, ctx.root)
    loops, loops_v1 = [baseline(ctx, raw)], [baseline(ctx, decoded)]
    team = "bench" + secrets.token_hex(3)
    live, container = ship_live(ctx, team, lines)
    timeout_s = 60 + lines / 10_000
    with children(ctx.index_argv()) as (indexer,), searchable(ctx, team) as count:
        t1 = until(lambda: bool(indexer.latest), timeout_s)  # started, connected: from here
        p10, p90, end = milestones({"indexed": count}, lines, timeout_s=timeout_s)["indexed"]
    asyncio.run(purge(ctx.nats.url))  # the next part starts on an empty stream
    backlog = ship_backlog(ctx, "bench" + secrets.token_hex(3), lines)
    asyncio.run(purge(ctx.nats.url))
    loops.append(baseline(ctx, raw))
    loops_v1.append(baseline(ctx, decoded))
    indexed = Phase(lines, p10 - t1, p90 - t1, end - t1)
    written_s = written_at(ctx.client, container)
    return Throughput(lines, loops, loops_v1, written_s, live, backlog, indexed)


def ship_live(ctx: Bench, team: str, lines: int) -> tuple[Shipping, str]:
    """The agent follows the writer from its start; and the writer's container."""
    with children(ctx.ship_argv(team)) as (agent,):
        time.sleep(2.0)  # connected and listening before the first line
        start = agent.cpu_s(), agent.waited_s(), time.monotonic()
        container = start_writer(ctx.client, ctx.image, team, count=lines, rate=0)
        ctx.containers.append(container)
        return shipping(agent, lines, start), container


def ship_backlog(ctx: Bench, team: str, lines: int) -> Shipping:
    """The writer writes everything; then the agent starts and ships it."""
    container = start_writer(ctx.client, ctx.image, team, count=lines, rate=0)
    ctx.containers.append(container)
    ctx.client.wait(container, timeout=60 + lines / 10_000)
    with children(ctx.ship_argv(team)) as (agent,):
        until(lambda: bool(agent.latest), 60)  # started: it finds the container at once
        return shipping(agent, lines, (agent.cpu_s(), agent.waited_s(), time.monotonic()))


def shipping(agent: Child, lines: int, start: tuple[float, float, float]) -> Shipping:
    """Waits until `agent` sent all `lines`; its figures from `start` (CPU, wait, time) on."""
    cpu0, waited0, t0 = start
    shipped = {"read": lambda: agent.get("read"), "sent": lambda: agent.get("sent")}
    seen = milestones(shipped, lines, timeout_s=60 + lines / 10_000)
    cpu, waited = agent.cpu_s() - cpu0, agent.waited_s() - waited0
    took = seen["sent"][2] - t0
    phases = {
        name: Phase(lines, p10 - t0, p90 - t0, end - t0) for name, (p10, p90, end) in seen.items()
    }
    return Shipping(
        phases, cpu, 100 * cpu / took, 100 * waited / took, agent.rss_mib(), agent.get("lost")
    )


# ---- 2. write -> searchable ------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    rate: int
    seconds: int
    searchable: list[float]
    """Per sampled line: seconds from its write to the first search that found it."""
    sent: list[float]
    """Per sampled line: seconds from its write to the agent's counting it sent (acked)."""
    missed: int
    written_s: float
    cpu_pct: float
    rss_mib: float

    def show(self) -> str:
        s, sent = self.searchable, self.sent
        return (
            f"2. write -> searchable at {self.rate:,} lines/s for {self.seconds} s "
            f"(written at {self.rate * self.seconds / self.written_s:,.0f} lines/s), "
            f"{len(s):,} sampled lines found, {self.missed} not found:\n"
            f"  searchable p50 {median(s):.2f} s, p95 {percentile(s, 95):.2f} s, "
            f"max {max(s):.2f} s (target p95 <= 2 s)\n"
            f"  of which sent (JetStream acked) p50 {median(sent):.2f} s, "
            f"p95 {percentile(sent, 95):.2f} s, max {max(sent):.2f} s\n"
            f"  agent CPU {self.cpu_pct:.0f}% of one core, peak RSS {self.rss_mib:.0f} MiB"
        )


def latency(ctx: Bench, rate: int, seconds: int, every: int = 100) -> Latency:
    """Agent and indexer both run, as on one host. Every 10 ms the reader asks for the newest
    line of the team (one search): every sampled line up to it is searchable from then on,
    as the indexer commits a source's lines in order. When the agent's sent counter passed
    each sampled line is noted as well. Afterwards each sampled line is searched by its own
    word, which gives the time written in it (and checks the word search finds it)."""
    from dockyard.logs.index import Filters, Order, open_engine
    from dockyard.logs.query import parse

    team = "bench" + secrets.token_hex(3)
    samples = list(range(every, rate * seconds + 1, every))
    seen_ns: dict[int, int] = {}
    sent_ns: dict[int, int] = {}
    with children(ctx.ship_argv(team), ctx.index_argv()) as (agent, _):
        time.sleep(2.0)
        reader = open_engine(ctx.engine, ctx.index_dir)  # the server's handle: reads only
        cpu0, t0 = agent.cpu_s(), time.monotonic()
        container = start_writer(ctx.client, ctx.image, team, count=samples[-1], rate=rate)
        ctx.containers.append(container)
        deadline = time.monotonic() + seconds + 60
        while len(seen_ns) < len(samples) and time.monotonic() < deadline:
            sent = agent.get("sent")
            page = reader.search(Filters(team=team), parse(""), order=Order.NEWEST, limit=1)
            now_ns = time.time_ns()
            newest = page.hits[0].seq if page.hits else 0
            for n in samples[len(sent_ns) : sent // every]:
                sent_ns[n] = now_ns
            for n in samples[len(seen_ns) : newest // every]:
                seen_ns[n] = now_ns
            time.sleep(0.01)
        cpu_pct = 100 * (agent.cpu_s() - cpu0) / (time.monotonic() - t0)
        rss = agent.rss_mib()
    searchable, sent_s = [], []
    for n, at_ns in seen_ns.items():
        hits = reader.search(Filters(team=team), parse(f"w{n:09d}"), limit=1).hits
        if hits:
            written_ns = int(hits[0].text.split()[1][1:])
            searchable.append((at_ns - written_ns) / 1e9)
            sent_s.append((sent_ns.get(n, at_ns) - written_ns) / 1e9)
    reader.close()
    return Latency(
        rate, seconds, searchable, sent_s, len(samples) - len(searchable),
        written_at(ctx.client, container), cpu_pct, rss,
    )  # fmt: skip


# ---- the run ---------------------------------------------------------------------------------


@dataclass
class Bench:
    client: docker.APIClient
    image: str
    nats: NatsServer
    root: Path
    engine: str
    containers: list[str] = field(default_factory=list)

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    def ship_argv(self, team: str) -> list[str]:
        checkpoints = self.root / f"checkpoints-{team}"
        return [
            "--role",
            "ship",
            "--nats",
            self.nats.url,
            "--team",
            team,
            "--dir",
            str(checkpoints),
        ]

    def index_argv(self) -> list[str]:
        return ["--role", "index", "--nats", self.nats.url, "--engine", self.engine,
                "--dir", str(self.index_dir)]  # fmt: skip

    def remove_containers(self) -> None:
        for container in self.containers:
            with contextlib.suppress(docker.errors.APIError):
                self.client.remove_container(container, force=True)


def run(args: argparse.Namespace) -> None:
    ensure_engine()
    client = docker.APIClient(version="auto", timeout=120)
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory(prefix="dockyard-logs-bench-") as tmp:
        (Path(tmp) / "nats").mkdir()
        nats_server = NatsServer(Path(tmp) / "nats")
        ctx = Bench(client, ensure_writer_image(client), nats_server, Path(tmp), args.engine)
        try:
            nats_server.start()
            if "1" in parts:
                print(throughput(ctx, args.lines).show(), flush=True)
            if "2" in parts:
                print(latency(ctx, args.rate, args.seconds).show(), flush=True)
        finally:
            ctx.remove_containers()
            nats_server.remove()
            client.close()
    print(f"(index engine {args.engine}; load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--engine", default="tantivy", choices=("tantivy", "fts5"))
    parser.add_argument("--parts", default="1,2")
    parser.add_argument("--role", choices=("ship", "index"), help=argparse.SUPPRESS)
    parser.add_argument("--nats", help=argparse.SUPPRESS)
    parser.add_argument("--team", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "ship":
        asyncio.run(_ship(args.nats, args.team, args.dir))
    elif args.role == "index":
        asyncio.run(_index(args.nats, args.engine, args.dir))
    else:
        run(args)


if __name__ == "__main__":
    main()
