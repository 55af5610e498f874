"""Retention of the log center: how long each environment's lines stay (index and archive),
how many bytes a team and the whole host may take in the index, and which partitions go when
a rule is broken. Pure: the indexer (logs/indexer.py) and the archiver apply the decisions.

Rules are written as settings like `7,online=30,stable=14` (a default number of days, then
overrides per environment) and `10G,shop=20G` (a default size per team, then overrides).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dockyard.domain.errors import Invalid
from dockyard.domain.ids import check_name
from dockyard.logs.record import parse_env

NS_PER_DAY = 86_400 * 1_000_000_000
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^(\d+)\s*([KMGT]?)i?B?$", re.IGNORECASE)


@dataclass(frozen=True)
class Days:
    """Days lines of each environment stay: `default`, or the environment's override."""

    default: int
    overrides: Mapping[str, int] = field(default_factory=dict)

    def of(self, env: str) -> int:
        return self.overrides.get(env, self.default)

    def describe(self) -> str:
        """The rule as it is written in settings: `7,online=30`."""
        return ",".join([str(self.default), *(f"{e}={d}" for e, d in self.overrides.items())])


@dataclass(frozen=True)
class Caps:
    """Bytes the index may take: on the whole host, and per team (`team`, or the team's
    override). None: no cap."""

    host: int | None = None
    team: int | None = None
    teams: Mapping[str, int] = field(default_factory=dict)

    def of(self, team: str) -> int | None:
        return self.teams.get(team, self.team)


class Reason(enum.StrEnum):
    EXPIRED = "expired"
    TEAM_CAP = "team_cap"
    HOST_CAP = "host_cap"

    @property
    def event(self) -> str:
        """The kind of the service event that tells a team its lines went."""
        return "logs_expired" if self is Reason.EXPIRED else "logs_dropped_by_cap"


@dataclass(frozen=True)
class Part:
    """One partition as retention sees it: its name, UTC day, environment ("" for one of
    every environment), bytes on disk, and the bytes of it each team's lines take (an
    estimate: the partition's bytes shared by the teams' numbers of lines)."""

    name: str
    day: str
    env: str
    bytes: int
    teams: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Drop:
    """Remove partition `part` whole, or (`team` set) that team's lines in it."""

    part: Part
    reason: Reason
    team: str = ""

    @property
    def bytes(self) -> int:
        return self.part.teams.get(self.team, 0) if self.team else self.part.bytes


def oldest_kept(now_ns: int, keep_days: int) -> str:
    """The first UTC day kept when lines stay `keep_days` days (today counts as one)."""
    day = datetime.fromtimestamp(now_ns // 1_000_000_000, UTC).date()
    return (day - timedelta(days=keep_days - 1)).isoformat()


def decide(parts: Sequence[Part], *, now_ns: int, days: Days, caps: Caps) -> tuple[Drop, ...]:
    """What to remove, in the order to remove it, and why.

    First every partition older than its environment's retention; then, per team over its
    cap, that team's lines in its oldest partitions; then, while the host is over its cap,
    the oldest partitions of all (ties by name). A team's removed lines free their bytes on
    disk only when their partition goes (see logs/index/partitions.py), so the host cap
    counts partitions' bytes on disk and a team cap the team's share of what is held.
    Partitions of the newest day held are never touched: they take the lines being written
    now, so collection never stops, even when a cap cannot be met without them.
    """
    newest = max((p.day for p in parts), default="")
    old = [p for p in parts if p.day != newest]
    drops = [Drop(p, Reason.EXPIRED) for p in old if p.day < oldest_kept(now_ns, days.of(p.env))]
    gone = {d.part.name for d in drops}
    for team in sorted({team for p in parts for team in p.teams}):
        cap = caps.of(team)
        if cap is None:
            continue
        held = [p for p in parts if p.name not in gone and p.teams.get(team)]
        excess = sum(p.teams[team] for p in held) - cap
        for part in sorted((p for p in held if p.day != newest), key=_age):
            if excess <= 0:
                break
            drops.append(Drop(part, Reason.TEAM_CAP, team))
            excess -= part.teams[team]
    if caps.host is not None:
        held = [p for p in parts if p.name not in gone]
        excess = sum(p.bytes for p in held) - caps.host
        for part in sorted((p for p in held if p.day != newest), key=_age):
            if excess <= 0:
                break
            drops.append(Drop(part, Reason.HOST_CAP))
            excess -= part.bytes
    return tuple(drops)


def _age(part: Part) -> tuple[str, str]:
    return (part.day, part.name)


@dataclass(frozen=True)
class Notice:
    """What one team is told about the drops of one environment and reason (an event on each
    of its services)."""

    team: str
    env: str
    kind: str
    message: str


def notices(drops: Sequence[Drop], *, days: Days, caps: Caps) -> list[Notice]:
    """One notice per (team, environment, reason) among `drops`: a whole partition's drop
    tells every team that had lines in it, a team's drop that team. A partition of every
    environment (an index made before environments had their own) tells no one: the
    indexer's log says it."""
    grouped: dict[tuple[str, str, Reason], list[str]] = {}
    for drop in drops:
        for team in [drop.team] if drop.team else sorted(drop.part.teams):
            if drop.part.env:
                key = (team, drop.part.env, drop.reason)
                grouped.setdefault(key, []).append(drop.part.day)
    return [
        Notice(
            team,
            env,
            reason.event,
            _message(team, env, reason, sorted(set(d)), days=days, caps=caps),
        )
        for (team, env, reason), d in grouped.items()
    ]


def _message(
    team: str, env: str, reason: Reason, days_: list[str], *, days: Days, caps: Caps
) -> str:
    which = f"log lines of {', '.join(days_)} in {env} are no longer searchable"
    if reason is Reason.EXPIRED:
        why = f"{env} keeps them {days.of(env)} days (DOCKYARD_LOG_INDEX_DAYS)"
    elif reason is Reason.TEAM_CAP:
        why = (
            f"team {team} reached its index cap of {size_text(caps.of(team) or 0)} and its "
            "oldest lines went first (DOCKYARD_LOG_TEAM_CAP_BYTES)"
        )
    else:
        why = (
            f"the log index reached this host's cap of {size_text(caps.host or 0)} and the "
            "oldest lines of all teams went first (DOCKYARD_LOG_INDEX_CAP_BYTES)"
        )
    return f"{which}: {why}; download them from the log archive while it keeps them"


def size_text(size: int) -> str:
    """`20.0 GiB`, `512.0 MiB`, `900 B`."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def archive_before(now_s: float, days: Days, env: str) -> datetime:
    """Hours of `env` that ended at or before this moment are past the archive's retention."""
    return datetime.fromtimestamp(now_s, UTC) - timedelta(days=days.of(env))


# -- settings syntax -------------------------------------------------------------------------


def parse_days(raw: str, *, most: int) -> Days:
    """`7` or `7,online=30,stable=14` (1..`most` days each); ValueError says what to write."""
    default, overrides = _split(raw, "7,online=30")
    return Days(
        _days(default, most),
        {_env(env): _days(value, most) for env, value in overrides.items()},
    )


def parse_caps(raw: str) -> tuple[int | None, dict[str, int]]:
    """`10G`, `10G,shop=20G` or `shop=20G` (no default): sizes in bytes or with K, M, G, T
    (powers of 1024); ValueError says what to write."""
    default, overrides = _split(raw, "10G,shop=20G", default_optional=True)
    teams = {_team(team): parse_size(value) for team, value in overrides.items()}
    return (parse_size(default) if default else None), teams


def parse_size(raw: str) -> int:
    """`20G`, `512M`, `1048576`: bytes (K, M, G, T are powers of 1024)."""
    match = _SIZE.match(raw.strip())
    if match is None or int(match[1]) <= 0:
        raise ValueError(f"{raw!r} is not a size: write bytes or a number with K, M, G or T")
    return int(match[1]) * _UNITS[match[2].upper()]


def _split(raw: str, example: str, *, default_optional: bool = False) -> tuple[str, dict[str, str]]:
    default = ""
    overrides: dict[str, str] = {}
    for i, item in enumerate(part.strip() for part in raw.split(",")):
        key, sep, value = item.partition("=")
        if not sep and i == 0:
            default = item
        elif sep and key.strip() and value.strip() and key.strip() not in overrides:
            overrides[key.strip()] = value.strip()
        else:
            raise ValueError(f"{item!r} does not fit: write e.g. {example}")
    if not default and not default_optional:
        raise ValueError(f"the default comes first: write e.g. {example}")
    return default, overrides


def _env(raw: str) -> str:
    try:
        return str(parse_env(raw))
    except Invalid as exc:
        raise ValueError(exc.message) from None


def _team(raw: str) -> str:
    try:
        return check_name(raw, field="team")
    except Invalid as exc:
        raise ValueError(exc.message) from None


def _days(raw: str, most: int) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ValueError(f"{raw!r} is not a number of days from 1 to {most}")
    return int(raw)
