"""`endpoints`: a service environment's ready instances, once or as they change.

From `test` with `--fallback`, the answer is stable's instances while test has none ready (the
environment answered is printed). `-w` prints the set again at each change until Ctrl-C.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.context import Session, session
from dockyard.cli.errors import CliError
from dockyard.cli.options import Env, Output, Team
from dockyard.cli.output import Column, OutputFormat, print_table, say, show, when

COLUMNS = (
    Column("INSTANCE", lambda e: e["instance"]),
    Column("ADDRESS", lambda e: e["address"]),
    Column("PORTS", lambda e: ", ".join(_port(p) for p in e["ports"]) or "-"),
    Column("REVISION", lambda e: e["revision"], justify="right"),
    Column("READY SINCE", lambda e: when(e["ready_at"])),
)


def endpoints(
    ctx: typer.Context,
    *,
    service: Annotated[str, typer.Argument(metavar="SVC", help="The service.")],
    env: Env,
    team: Team = None,
    fallback: Annotated[
        bool,
        typer.Option("--fallback", help="From test: stable's instances while test has none."),
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Print the set again at each change.")
    ] = False,
    output: Output = OutputFormat.TABLE,
) -> None:
    """The ready instances of SVC in one environment: address, ports, revision, since when."""
    current = session(ctx)
    path = api_path("endpoints", current.team(team), service)
    params: dict[str, Any] = {"env": env.value, "fallback": int(fallback)}
    if not watch:
        show(current.client().get(path, params=params), output, print_endpoints)
        return
    _watch(current, path, params, output=output)


def print_endpoints(answer: dict[str, Any]) -> None:
    used = answer["env_used"]
    note = f" (fallback: {used})" if used != answer["env"] else ""
    say(f"{answer['team']}/{answer['service']} in {answer['env']}{note}", style="bold")
    print_table(answer["endpoints"], COLUMNS, empty=f"no ready instance in {used}")


def _watch(current: Session, path: str, params: dict[str, Any], *, output: OutputFormat) -> None:
    """Print each answer the server sends until Ctrl-C; one line if the watch ends."""
    try:
        for event in current.client().events(path, params={**params, "watch": 1}):
            data = json.loads(event.data)
            if event.name == "error":
                raise CliError(f"the watch stopped: {data['message']}")
            if event.name != "endpoints":
                continue
            if output is OutputFormat.JSON:
                typer.echo(json.dumps(data))
            else:
                print_endpoints(data)
    except KeyboardInterrupt:
        return
    raise CliError("the server ended the watch: run the command again to go on watching")


def _port(port: dict[str, Any]) -> str:
    text = f"{port['port']}/{port['protocol']}"
    return f"{port['name']}:{text}" if port["name"] else text


def register(app: typer.Typer) -> None:
    app.command()(endpoints)
