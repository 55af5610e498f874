"""The log center's counters per service, as the processes that count them report them: the
agent (lines read, sent, dropped, lost), the indexer (indexed, lag) and the archiver (archived,
lag). Each process turns its counters into a `Report` every few seconds; the same report is
served as Prometheus text (dockyard.metrics.logcenter) and published to the stats board
(logs/stats_board.py), from which the server merges a service's `ServiceStats` for the API, the
portal and the CLI.

Counts are since the reporting process started (a restarted process starts again from 0, as a
Prometheus counter does); a report older than `STALE_S` is left out of a service's figures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from dockyard.domain.errors import Invalid
from dockyard.logs.counters import ShipperCounters
from dockyard.logs.record import Batch

AGENT, INDEXER, ARCHIVER = "agent", "indexer", "archiver"
ROLES = (AGENT, INDEXER, ARCHIVER)
STALE_S = 300.0
"""A process that has not reported for this long is gone: its figures are left out."""
LOSSES_SHOWN = 20


@dataclass(frozen=True)
class Loss:
    """Lines that can never be shipped: when the agent found out, what, bytes (None if unknown)."""

    time_ns: int
    what: str
    bytes: int | None = None


@dataclass(frozen=True)
class Row:
    """One instance's counts as one process saw them."""

    team: str
    service: str
    env: str
    instance: str
    read: int = 0
    sent: int = 0
    dropped: int = 0
    """Lines left out by the service's rate budget."""
    lost: int = 0
    """Loss events (a file rotated away unread ...); `losses` has the latest."""
    lost_bytes: int = 0
    indexed: int = 0
    archived: int = 0
    newest_ns: int = 0
    """Time of the newest line indexed or archived (the lag is the report's time minus it)."""
    losses: tuple[Loss, ...] = ()

    @property
    def service_key(self) -> tuple[str, str, str]:
        return (self.team, self.service, self.env)


@dataclass(frozen=True)
class Report:
    """What one process (`role` on `host`) counted since it started, at `time_ns`."""

    role: str
    host: str
    time_ns: int
    rows: tuple[Row, ...] = ()
    stream_waiting: int = 0
    """Sources waiting now for the stream to take a batch (the agent's backpressure)."""

    def lag_s(self, team: str, service: str, env: str) -> float | None:
        """Seconds from the newest line of the service this process handled to the report's
        time; None if it handled none."""
        newest = max(
            (r.newest_ns for r in self.rows if r.service_key == (team, service, env)), default=0
        )
        return max(0.0, (self.time_ns - newest) / 1e9) if newest else None

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> Report:
        """The report in `data`; Invalid if it is not one."""
        try:
            body = json.loads(data)
            rows = tuple(
                Row(**{**row, "losses": tuple(Loss(**loss) for loss in row["losses"])})
                for row in body.pop("rows")
            )
            return cls(**body, rows=rows)
        except (ValueError, KeyError, TypeError) as exc:
            raise Invalid(f"not a log stats report: {exc}") from exc


@dataclass(frozen=True)
class InstanceStats:
    instance: str
    read: int = 0
    sent: int = 0
    dropped: int = 0
    lost: int = 0
    lost_bytes: int = 0
    indexed: int = 0
    archived: int = 0
    losses: tuple[Loss, ...] = ()


@dataclass(frozen=True)
class ServiceStats:
    """A service's log figures in one environment, merged from every live process's report."""

    team: str
    service: str
    env: str
    instances: tuple[InstanceStats, ...] = ()
    total: InstanceStats = field(default_factory=lambda: InstanceStats(instance=""))
    indexer_lag_s: float | None = None
    archiver_lag_s: float | None = None
    stream_waiting: int = 0
    """Sources waiting for the stream on the hosts that run the service (agents' totals)."""
    reported_ns: int = 0
    """Time of the newest report used; 0 if none."""


_SUMMED = ("read", "sent", "dropped", "lost", "lost_bytes", "indexed", "archived")


def merge(
    reports: Iterable[Report], *, team: str, service: str, env: str, now_ns: int
) -> ServiceStats:
    """The service's figures from `reports` (any processes', any services'): counts summed per
    instance over processes, losses newest first, each lag the worst of its role's processes.
    Reports older than STALE_S at `now_ns` are left out."""
    fresh = [r for r in reports if now_ns - r.time_ns <= STALE_S * 1e9]
    per: dict[str, dict[str, Any]] = {}
    waiting = 0
    for report in fresh:
        rows = [r for r in report.rows if r.service_key == (team, service, env)]
        waiting += report.stream_waiting if rows else 0
        for row in rows:
            one = per.setdefault(row.instance, {"losses": []})
            for name in _SUMMED:
                one[name] = one.get(name, 0) + getattr(row, name)
            one["losses"].extend(row.losses)
    instances = tuple(_instance(name, per[name]) for name in sorted(per))
    return ServiceStats(
        team=team, service=service, env=env, instances=instances,
        total=_total(instances),
        indexer_lag_s=_worst_lag(fresh, INDEXER, (team, service, env)),
        archiver_lag_s=_worst_lag(fresh, ARCHIVER, (team, service, env)),
        stream_waiting=waiting,
        reported_ns=max((r.time_ns for r in fresh), default=0),
    )  # fmt: skip


def _instance(name: str, sums: Mapping[str, Any]) -> InstanceStats:
    losses = sorted(sums["losses"], key=lambda loss: loss.time_ns, reverse=True)
    counts = {k: v for k, v in sums.items() if k != "losses"}
    return InstanceStats(instance=name, losses=tuple(losses[:LOSSES_SHOWN]), **counts)


def _total(instances: Sequence[InstanceStats]) -> InstanceStats:
    sums = {name: sum(getattr(i, name) for i in instances) for name in _SUMMED}
    losses = sorted((x for i in instances for x in i.losses), key=lambda x: -x.time_ns)
    return InstanceStats(instance="", losses=tuple(losses[:LOSSES_SHOWN]), **sums)


def _worst_lag(reports: Sequence[Report], role: str, key: tuple[str, str, str]) -> float | None:
    lags = [lag for r in reports if r.role == role if (lag := r.lag_s(*key)) is not None]
    return max(lags, default=None)


# -- from each process's counters -----------------------------------------------------------


def split_key(source_key: str) -> tuple[str, str, str, str]:
    """(team, service, env, instance) of a Source.key (its channel, maybe a path, dropped)."""
    team, service, env, instance, _channel = source_key.split("/", 4)
    return team, service, env, instance


def agent_report(counters: ShipperCounters, *, host: str, now_ns: int) -> Report:
    """The agent's report: its sources' counters summed per instance."""
    rows: dict[tuple[str, str, str, str], Row] = {}
    for key, c in list(counters.sources.items()):
        ident = split_key(key)
        row = rows.get(ident) or Row(*ident)
        losses = tuple(Loss(e.time_ns, e.what, e.bytes) for e in c.losses)
        rows[ident] = replace(
            row,
            read=row.read + c.lines_read,
            sent=row.sent + c.lines_sent,
            dropped=row.dropped + c.dropped_rate,
            lost=row.lost + c.lost,
            lost_bytes=row.lost_bytes + c.lost_bytes,
            losses=row.losses + losses,
        )
    return Report(AGENT, host, now_ns, tuple(rows.values()), counters.stream_waiting)


@dataclass
class Tally:
    """Lines a consumer wrote for one source, and the time of the newest."""

    lines: int = 0
    newest_ns: int = 0

    def add(self, lines: int, newest_ns: int) -> None:
        self.lines += lines
        self.newest_ns = max(self.newest_ns, newest_ns)


def fresh_lines(batches: Sequence[Batch], *, held: Callable[[str], int]) -> dict[str, Tally]:
    """Per source key, the lines of `batches` above what is held (`held(key)`, the highest
    number before them), which an index adds; the rest it skips as duplicates."""
    high: dict[str, int] = {}
    out: dict[str, Tally] = {}
    for batch in batches:
        key = batch.source.key
        top = high[key] if key in high else held(key)
        new = [line for line in batch.lines if line.seq > top]
        if new:
            out.setdefault(key, Tally()).add(len(new), max(line.time_ns for line in new))
        high[key] = max(top, batch.last_seq)
    return out


def consumer_report(role: str, tallies: Mapping[str, Tally], *, host: str, now_ns: int) -> Report:
    """The indexer's or the archiver's report from its per-source tallies."""
    rows: dict[tuple[str, str, str, str], Row] = {}
    for key, tally in list(tallies.items()):
        ident = split_key(key)
        row = rows.get(ident) or Row(*ident)
        count = {"indexed" if role == INDEXER else "archived": tally.lines}
        newest = max(row.newest_ns, tally.newest_ns)
        rows[ident] = replace(
            row, newest_ns=newest, **{k: getattr(row, k) + v for k, v in count.items()}
        )
    return Report(role, host, now_ns, tuple(rows.values()))
