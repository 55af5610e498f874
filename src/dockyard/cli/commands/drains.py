"""`drains`: list, add, show and remove a team's log drains (syslog, HTTP NDJSON, OTLP), and see
how delivery goes (delivered, lost, pending, lag, last error)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.client import api_path
from dockyard.cli.context import session
from dockyard.cli.options import Output, Team, parse_pairs
from dockyard.cli.output import Column, OutputFormat, print_fields, print_table, say, show, when
from dockyard.domain.environment import Environment

drains_app = typer.Typer(
    help="Send a team's log lines on to its own tools: list, add, show or remove drains.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The drain's name.")]


def _filter(d: dict[str, Any]) -> str:
    services = ",".join(d["services"]) or "all services"
    envs = ",".join(d["envs"]) or "all envs"
    return f"{services} / {envs}"


def _lag(d: dict[str, Any]) -> str:
    lag = d["state"].get("lag_s")
    return "-" if lag is None else f"{lag:.0f}s"


COLUMNS = (
    Column("NAME", lambda d: d["name"]),
    Column("KIND", lambda d: d["kind"]),
    Column("URL", lambda d: d["url"]),
    Column("FILTER", _filter),
    Column("DELIVERED", lambda d: d["state"]["delivered"], justify="right"),
    Column("PENDING", lambda d: d["state"]["pending"], justify="right"),
    Column("LAG", _lag, justify="right"),
    Column("LAST ERROR", lambda d: d["state"].get("last_error") or "-"),
)


@drains_app.command("list")
def list_drains(
    ctx: typer.Context, *, team: Team = None, output: Output = OutputFormat.TABLE
) -> None:
    """List the team's drains and how delivery goes."""
    s = session(ctx)
    answer = s.client().get(api_path("teams", s.team(team), "drains"))
    show(answer, output, lambda a: print_table(a["items"], COLUMNS, empty="no drains"))


@drains_app.command("add")
def add_drain(
    ctx: typer.Context,
    name: Name,
    *,
    kind: Annotated[str, typer.Option("--kind", "-k", help="syslog, http or otlp.")],
    url: Annotated[
        str,
        typer.Option(
            "--url", "-u", help="syslog://HOST:PORT, syslog+tls://HOST:PORT or http(s)://..."
        ),
    ],
    services: Annotated[
        list[str] | None, typer.Option("--service", "-s", help="Only this service (repeat).")
    ] = None,
    envs: Annotated[
        list[Environment] | None, typer.Option("--env", "-e", help="Only this env (repeat).")
    ] = None,
    headers: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="NAME=VALUE sent with each POST (never shown back)."),
    ] = None,
    ca_file: Annotated[
        str | None, typer.Option("--ca-file", help="TLS: CA bundle on the drainer's host.")
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="TLS: check the certificate.")
    ] = True,
    team: Team = None,
    output: Output = OutputFormat.TABLE,
) -> None:
    """Add a drain: lines written from now on go to it."""
    body: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "url": url,
        "services": services or [],
        "envs": [str(e) for e in envs or ()],
        "headers": parse_pairs(headers, option="--header"),
        "verify": verify,
    }
    if ca_file is not None:
        body["ca_file"] = ca_file
    s = session(ctx)
    drain = s.client().post(api_path("teams", s.team(team), "drains"), body)
    show(drain, output, lambda d: say(f"drain {d['team']}/{d['name']} added ({d['subject']})"))


@drains_app.command("show")
def show_drain(
    ctx: typer.Context, name: Name, *, team: Team = None, output: Output = OutputFormat.TABLE
) -> None:
    """One drain: where it sends, what it takes, and how delivery goes."""
    s = session(ctx)
    drain = s.client().get(api_path("teams", s.team(team), "drains", name))
    show(drain, output, _print_drain)


@drains_app.command("rm")
def remove_drain(ctx: typer.Context, name: Name, *, team: Team = None) -> None:
    """Remove a drain; its place in the stream goes with it."""
    s = session(ctx)
    drain = s.client().delete(api_path("teams", s.team(team), "drains", name))
    say(f"drain {drain['team']}/{drain['name']} removed")


def _print_drain(d: dict[str, Any]) -> None:
    state = d["state"]
    error = state.get("last_error")
    print_fields(
        [
            ("drain", f"{d['team']}/{d['name']}"),
            ("kind", d["kind"]),
            ("url", d["url"]),
            ("takes", _filter(d)),
            ("headers", ", ".join(d["header_names"]) or "-"),
            ("tls", f"ca {d['ca_file'] or 'system'}, verify {'on' if d['verify'] else 'off'}"),
            ("created", when(d["created_at"])),
            ("delivered", f"{state['delivered']} lines, last {when(state['last_success_at'])}"),
            ("lost", f"{state['lost']} lines (dropped by the stream's size limit)"),
            ("pending", f"{state['pending']} batches, lag {_lag(d)}"),
            ("last error", f"{when(state['last_error_at'])} {error}" if error else "-"),
            ("state at", when(state["updated_at"])),
        ]
    )


def register(app: typer.Typer) -> None:
    app.add_typer(drains_app, name="drains")
