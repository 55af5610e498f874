"""Retention of the search index, a part of the indexer process: at start and every
`every_s`, the partitions past their environment's days or over a team's or the host's cap
are removed (logs/retention.py decides which), each drop is logged, and the teams concerned
are told through `on_drop` (the indexer's entry point records them as service events).

It runs beside the indexer's ingest loop, not in it: a drop holds the index's lock only while
it removes files, and an index never drops a partition holding staged lines (the partition
seam's contract), so collection goes on meanwhile and nothing about to be acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockyard.domain.errors import DockyardError
from dockyard.logs.index.partitions import Partitioned
from dockyard.logs.retention import Caps, Days, Drop, Notice, Part, decide, notices

log = logging.getLogger(__name__)

OnDrop = Callable[[Sequence[Notice], int], None]
"""Told the notices of one run and its time (ns); blocking (it runs in a thread)."""


@dataclass(frozen=True)
class Rules:
    days: Days
    caps: Caps = field(default_factory=Caps)
    every_s: float = 600.0


@dataclass(frozen=True)
class Run:
    """What one retention run saw and did."""

    at_ns: int
    parts: tuple[Part, ...]
    """The partitions held before it (with their bytes)."""
    drops: tuple[Drop, ...]

    @property
    def bytes_after(self) -> int:
        """Bytes on disk after the run (a team's removed lines free theirs only later)."""
        gone = {d.part.name for d in self.drops if not d.team}
        return sum(p.bytes for p in self.parts if p.name not in gone)


class IndexRetention:
    """Applies `rules` to `index` (see the module); `last` is the latest run, `last_drop`
    the latest run that removed something."""

    def __init__(
        self,
        index: Partitioned,
        rules: Rules,
        *,
        on_drop: OnDrop | None = None,
        report: Path | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        """`report`: a JSON file rewritten after every run that removed something (what
        `dockyard log-retention` shows as the last drop; see `read_report`)."""
        self.index = index
        self._report = report
        self.rules = rules
        self._on_drop = on_drop
        self._clock = clock
        self.last: Run | None = None
        self.last_drop: Run | None = None
        self.drops = 0
        """Drops done since start: whole partitions, and teams' lines in one."""

    async def run(self) -> None:
        """Enforce now, then every `rules.every_s`, until cancelled. Never raises for a
        failure of the disk or of `on_drop`: it is logged, and the next run tries again."""
        while True:
            await self.enforce()
            await asyncio.sleep(self.rules.every_s)

    async def enforce(self) -> tuple[Drop, ...]:
        """One run: decide, remove, log, tell. Returns the drops done."""
        now = self._clock()
        try:
            run = await asyncio.to_thread(self._apply, now)
        except (OSError, DockyardError) as exc:
            log.warning("log index retention failed, next in %g s: %s", self.rules.every_s, exc)
            return ()
        self.last = run
        if not run.drops:
            return ()
        self.last_drop = run
        self.drops += len(run.drops)
        for drop in run.drops:
            p = drop.part
            log.info(
                "log index dropped partition=%s day=%s env=%s team=%s bytes=%d reason=%s",
                p.name, p.day, p.env or "-", drop.team or "-", drop.bytes, drop.reason,
            )  # fmt: skip
        await self._tell(run)
        if self._report is not None:
            await asyncio.to_thread(_write_report, self._report, run)
        return run.drops

    def _apply(self, now_ns: int) -> Run:
        parts = self.index.partitions()
        drops = decide(parts, now_ns=now_ns, days=self.rules.days, caps=self.rules.caps)
        whole = set(self.index.drop([d.part.name for d in drops if not d.team]))
        done = [
            d
            for d in drops
            if (d.part.name in whole and not d.team)
            or (d.team and d.part.name not in whole and self.index.drop_team(d.part.name, d.team))
        ]
        return Run(now_ns, parts, tuple(done))

    async def _tell(self, run: Run) -> None:
        if self._on_drop is None:
            return
        told = notices(run.drops, days=self.rules.days, caps=self.rules.caps)
        try:
            await asyncio.to_thread(self._on_drop, told, run.at_ns)
        except DockyardError as exc:
            log.warning("log index drops not recorded as events: %s", exc.message)


def _write_report(path: Path, run: Run) -> None:
    """The run's drops as JSON, replaced whole (a reader never sees half a file); a failure
    is logged: the report is a courtesy, retention itself is done."""
    data = {
        "at": _iso(run.at_ns),
        "drops": [
            {"partition": d.part.name, "day": d.part.day, "env": d.part.env,
             "team": d.team, "bytes": d.bytes, "reason": str(d.reason)}
            for d in run.drops
        ],
    }  # fmt: skip
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(data, indent=1))
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("log index retention report not written to %s: %s", path, exc)


def read_report(path: Path) -> dict[str, Any] | None:
    """The last drop as `_write_report` wrote it; None if there is none (or it is unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            return data
    return None


def _iso(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, UTC).isoformat(timespec="seconds")
