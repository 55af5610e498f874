"""`log-retention`: the log center's retention on this host, as the indexer and the archiver
apply it: days per environment (index and archive), the size caps, what the index takes per
team and in all, and the last drop the indexer made (read from its report file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dockyard.cli.context import session
from dockyard.cli.options import Output
from dockyard.cli.output import Column, OutputFormat, print_fields, print_table, say, show, when
from dockyard.domain.environment import Environment
from dockyard.logs.record import BUILD_ENV
from dockyard.logs.retention import size_text
from dockyard.settings import Settings

REPORT_NAME = "retention-last-drop.json"


def report_file(settings: Settings) -> Path:
    """Where the indexer writes its last drop (logs/index_retention.py)."""
    return settings.logs.index_dir / REPORT_NAME


def log_retention(ctx: typer.Context, *, output: Output = OutputFormat.TABLE) -> None:
    """Show the log retention rules, the index's size per team and in all, and the last drop.
    A team's size is its share of the partitions its lines are in (by number of lines)."""
    show(retention_view(session(ctx).settings), output, _render)


def retention_view(settings: Settings) -> dict[str, Any]:
    """What `log-retention` shows, as JSON-ready data (sizes measured on disk now)."""
    from dockyard.logs.index import open_engine
    from dockyard.logs.index_retention import read_report

    logs = settings.logs
    index = open_engine(logs.index_engine, logs.index_dir)
    try:
        parts = index.partitions()
    finally:
        index.close()
    teams: dict[str, int] = {}
    for part in parts:
        for team, share in part.teams.items():
            teams[team] = teams.get(team, 0) + share
    envs = [*(e.value for e in Environment), BUILD_ENV]
    return {
        "environments": [
            {"env": env, "index_days": logs.index_retention.of(env),
             "archive_days": logs.archive_retention.of(env)}
            for env in envs
        ],
        "teams": [
            {"team": team, "index_bytes": size, "cap_bytes": logs.index_caps.of(team)}
            for team, size in sorted(teams.items())
        ],
        "host": {"index_bytes": sum(p.bytes for p in parts), "cap_bytes": logs.index_caps.host,
                 "days_held": len({p.day for p in parts}), "archive_url": logs.archive_url,
                 "archive_cap_bytes": logs.archive_cap_bytes},
        "every_s": logs.retention_every_s,
        "last_drop": read_report(report_file(settings)),
    }  # fmt: skip


def _size(value: int | None) -> str:
    return "-" if value is None else size_text(value)


def _render(data: dict[str, Any]) -> None:
    print_table(
        data["environments"],
        (
            Column("ENV", lambda r: r["env"]),
            Column("INDEX DAYS", lambda r: r["index_days"], "right"),
            Column("ARCHIVE DAYS", lambda r: r["archive_days"], "right"),
        ),
        empty="no environments",
    )
    print_table(
        data["teams"],
        (
            Column("TEAM", lambda r: r["team"]),
            Column("INDEX", lambda r: _size(r["index_bytes"]), "right"),
            Column("CAP", lambda r: _size(r["cap_bytes"]), "right"),
        ),
        empty="the index holds nothing yet",
    )
    host, last = data["host"], data["last_drop"]
    print_fields(
        [
            ("index on this host", _size(host["index_bytes"])),
            ("host cap", _size(host["cap_bytes"])),
            ("days held", host["days_held"]),
            ("archive", host["archive_url"]),
            ("archive cap", _size(host["archive_cap_bytes"])),
            ("applied every", f"{data['every_s']:g} s"),
            ("last drop", when(last["at"]) if last else "-"),
        ]
    )
    for drop in last["drops"] if last else []:
        say(f"  {drop['partition']}: {_size(drop['bytes'])} ({drop['reason']})", style="dim")


def register(app: typer.Typer) -> None:
    app.command(name="log-retention")(log_retention)
