"""`top SVC -e ENV`: each instance's CPU (of one core and of its limit), memory (used of its
limit), network rates and restarts now, read through the metrics API: the newest points of the
service's charts, the same the portal draws (metrics/charts.py); `-w` prints them again every
few seconds until Ctrl-C."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.commands.observe import Service
from dockyard.cli.context import Session, session
from dockyard.cli.options import Env, Output, Team
from dockyard.cli.output import Column, OutputFormat, console, print_json, print_table, say
from dockyard.metrics import charts

NEWEST_RANGE = "15m"
"""The shortest chart range: its points are the closest together."""
RECENT_POINTS = 4
"""Only a value among the newest this many points of the range (~30 s of 15 min) is "now": an
instance removed minutes ago keeps its older points in the range, and is no row of top."""
Figures = Mapping[str, Mapping[str, float]]
"""Per chart name, per instance, the value now."""
WANTED = (
    "cpu", "cpu_of_limit", "memory", "memory_limit", "network_rx", "network_tx", "restarts"
)  # fmt: skip
"""The per-instance figures a row shows, by chart name."""

COLUMNS = (
    Column("INSTANCE", lambda r: r["instance"]),
    Column("CPU", lambda r: _percent(r["cpu"]), "right"),
    Column("CPU/LIMIT", lambda r: _percent(r["cpu_of_limit"]), "right"),
    Column("MEMORY", lambda r: f"{_bytes(r['memory'])} / {_bytes(r['memory_limit'])}", "right"),
    Column("NET RX", lambda r: _rate(r["network_rx"]), "right"),
    Column("NET TX", lambda r: _rate(r["network_tx"]), "right"),
    Column("RESTARTS", lambda r: _count(r["restarts"]), "right"),
)


def rows(figures: Figures) -> list[dict[str, Any]]:
    """One row per instance seen in any per-instance figure, by name; a figure it lacks is
    None. The service's other charts (its balancer's rates, per environment) are left out."""
    names = sorted({instance for key in WANTED for instance in figures.get(key, {})})
    return [
        {"instance": name} | {key: figures.get(key, {}).get(name) for key in WANTED}
        for name in names
    ]


def _scaled(value: float | None, units: tuple[str, ...]) -> str:
    if value is None:
        return "-"
    for unit in units[:-1]:
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit in ("B", "B/s") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {units[-1]}"


def _bytes(value: float | None) -> str:
    return _scaled(value, ("B", "KiB", "MiB", "GiB", "TiB"))


def _rate(value: float | None) -> str:
    return _scaled(value, ("B/s", "KiB/s", "MiB/s", "GiB/s"))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def read_figures(current: Session, *, team: str, service: str, env: str) -> Figures:
    """Every figure now: the newest point of each of the service's charts (whose rate windows
    the server fits to Prometheus's scrape interval), and the memory limits by a query."""
    client = current.client()
    path = api_path("teams", team, "services", service, "charts")
    drawn = client.get(path, params={"env": env, "range": NEWEST_RANGE})
    figures: dict[str, dict[str, float]] = {
        chart["name"]: {s["name"]: v for s in chart["series"] if (v := newest(s["values"]))
                        is not None}
        for chart in drawn["charts"]
    }  # fmt: skip
    limit = charts.memory_limit(team=team, service=service, env=env)
    answer = client.get("/metrics/query", params={"query": limit.expr})
    figures[limit.name] = {
        str(item["metric"].get(limit.by, "")): float(item["value"][1])
        for item in answer["data"]["result"]
    }
    return figures


def newest(values: list[float | None]) -> float | None:
    """The newest value among the last RECENT_POINTS, or None (no figure now)."""
    return next((v for v in reversed(values[-RECENT_POINTS:]) if v is not None), None)


def top(
    ctx: typer.Context,
    *,
    service: Service,
    env: Env,
    team: Team = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Print the figures again every --interval.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", "-n", min=1.0, max=3600.0, help="Seconds, with -w.")
    ] = 2.0,
    rounds: Annotated[int | None, typer.Option("--rounds", hidden=True, min=1)] = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Show each instance's CPU (% of one core, and % of its CPU limit: - without one),
    memory used of its limit, network received
    and sent per second, and restarts, as Prometheus has them now."""
    current = session(ctx)
    owner = current.team(team)

    def once() -> None:
        found = rows(read_figures(current, team=owner, service=service, env=env.value))
        if output is OutputFormat.JSON:
            print_json(found)
            return
        print_table(found, COLUMNS, empty=f"no figures for {service} in {env.value} (yet)")

    _repeat(once, watch=watch, interval_s=interval, rounds=rounds)


def _repeat(
    show: Callable[[], None], *, watch: bool, interval_s: float, rounds: int | None
) -> None:
    """Show once, or, with `watch`, again every `interval_s` until Ctrl-C (or `rounds`)."""
    done = 0
    try:
        while True:
            terminal = console()
            if watch and terminal.is_terminal:
                terminal.clear()
            show()
            done += 1
            if not watch or (rounds is not None and done >= rounds):
                return
            if not terminal.is_terminal:
                say(f"-- again in {interval_s:g} s (Ctrl-C stops)", style="dim")
            time.sleep(interval_s)
    except KeyboardInterrupt:
        return


def register(app: typer.Typer) -> None:
    app.command()(top)
