"""`logs SVC -e ENV --stats`: the service's log figures as the log center's processes reported
them (GET /logs/stats): per instance lines read, sent, dropped, indexed and archived, the
consumers' lag, and every loss with its instance and time."""

from __future__ import annotations

from typing import Any

from dockyard.cli.context import Session
from dockyard.cli.output import Column, OutputFormat, print_fields, print_table, say, show, when


def show_log_stats(
    current: Session, *, team: str | None, service: str, env: str, output: OutputFormat
) -> None:
    params = {"team": current.team(team), "service": service, "env": env}
    show(current.client().get("/logs/stats", params=params), output, _render)


COLUMNS = (
    Column("INSTANCE", lambda c: c["instance"] or "total"),
    Column("READ", lambda c: c["read"], "right"),
    Column("SENT", lambda c: c["sent"], "right"),
    Column("DROPPED", lambda c: c["dropped"], "right"),
    Column("INDEXED", lambda c: c["indexed"], "right"),
    Column("ARCHIVED", lambda c: c["archived"], "right"),
    Column("LOST", lambda c: c["lost"], "right"),
)


def _render(stats: dict[str, Any]) -> None:
    if stats["reported"] is None:
        say("no figures: no log center process reported this service in the last 5 minutes",
            style="dim")  # fmt: skip
        return
    print_table([*stats["instances"], stats["total"]], COLUMNS, empty="no instances")
    print_fields(
        [
            ("index lag", _seconds(stats["indexer_lag_s"])),
            ("archive lag", _seconds(stats["archiver_lag_s"])),
            ("waiting for the stream", f"{stats['stream_waiting']} sources"),
            ("reported", when(stats["reported"])),
        ]
    )
    losses = [(i["instance"], loss) for i in stats["instances"] for loss in i["losses"]]
    for instance, loss in sorted(losses, key=lambda pair: pair[1]["time"], reverse=True):
        size = f", {loss['bytes']} bytes" if loss["bytes"] is not None else ""
        say(f"lost {when(loss['time'])} {instance}: {loss['what']}{size}", style="red")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"
